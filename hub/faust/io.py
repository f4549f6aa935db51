"""Faust's side of the edge to Kafka (kafka-python's is :mod:`hub.kafka_io`): the workers'
agents read and write raw bytes, and decode and encode themselves (:mod:`hub.contract`);
what the worker reads of the consumer's offset bookkeeping for its metrics."""

from __future__ import annotations

from collections.abc import Mapping

import faust


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> faust.TopicT:
    """The topics ``names`` of ``app`` with keys and values as bytes, untouched."""
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=partitions)


def committed_offsets(consumer) -> Mapping:
    """TP -> the offset Faust committed last for it (the next one to process; None while
    nothing was committed since the worker took it over): Faust's own bookkeeping
    (``_committed_offset``, checked at start-up by :func:`hub.faust.checks.check_faust`)."""
    return consumer._committed_offset
