"""The local development broker (Apache Kafka, KRaft mode)."""
