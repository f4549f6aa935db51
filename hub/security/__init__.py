"""Who may do what on the hub's Kafka cluster (pure models; nothing here talks to Kafka)."""
