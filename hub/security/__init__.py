"""Who may do what on the hub's Kafka cluster (ACLs), and how its clients log in (pure)."""
