"""Faust's side of the edge to Kafka (kafka-python's is :mod:`hub.kafka_io`): the workers'
agents read and write raw bytes, and decode and encode themselves (:mod:`hub.contract`)."""

from __future__ import annotations

import faust


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> faust.TopicT:
    """The topics ``names`` of ``app`` with keys and values as bytes, untouched."""
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=partitions)
