"""kafka-python's clients of the hub try a broker that was away again within a second (its
own default lets the wait between attempts grow to 30 s)."""

from __future__ import annotations

import hub.kafka_io as kafka_io


class _Client:
    def __init__(self, *topics, **config):
        self.config = config


def test_producers_and_consumers_try_a_returned_broker_again_within_a_second(monkeypatch):
    monkeypatch.setattr(kafka_io, "KafkaProducer", _Client)
    monkeypatch.setattr(kafka_io, "KafkaConsumer", _Client)
    made = [kafka_io.producer("127.0.0.1:1", "test"),
            kafka_io.consumer("127.0.0.1:1", group_id=None)]
    for client in made:
        assert client.config["reconnect_backoff_max_ms"] <= 1000
        assert client.config["bootstrap_servers"] == "127.0.0.1:1"
