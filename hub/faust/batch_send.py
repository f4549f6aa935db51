"""The router's records handed to the Kafka producer a partition batch at a time.

Faust's ``Producer.send`` hands one record at a time to aiokafka's ``send``, which looks
up the topic's metadata, runs the partitioner, appends the record to the partition's
pending batch and creates a future for it; the router then awaited thousands of futures
per batch. On the router's hot path (seven records per routed event) that was a good part
of the worker's CPU.

:class:`BatchSender` writes the records of one call into one
``BatchBuilder`` per topic partition (aiokafka's public ``create_batch``) and submits each
with ``send_batch``: one future per partition batch, whose ``offset`` is the base offset
of the batch (record ``i`` of it has ``offset + i``). The partition of a record without one
is chosen by the producer's own partitioner (``_partitioner``, with the topic's partitions
from ``_metadata``, as ``AIOKafkaProducer._partition`` does for ``send``), so every record
lands where ``send`` would have put it. Batches
of one topic partition are queued in the order they are submitted, behind any batch
already pending for it (``send_batch`` waits for that one to be drained), so records of a
partition keep their order. Faust's commit flushes the producer, these batches included.

Faust's aiokafka producer must have every internal this uses (:data:`PRODUCER_INTERNALS`,
checked at the first send, which fails loudly with the missing name); a producer that is
not Faust's aiokafka driver (tests' fakes) gets each record on its own through ``send``, in
chunks of one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from hub.faust.checks import IncompatibleFaust

PRODUCER_INTERNALS = ("create_batch", "send_batch", "_partitioner", "_metadata", "client")
"""What :class:`BatchSender` uses of aiokafka's producer (``client._wait_on_metadata`` and
the metadata's ``partitions_for_topic``/``available_partitions_for_topic`` too)."""


def check_batch_producer(producer) -> None:
    """Refuse an aiokafka producer that lacks an internal :class:`BatchSender` uses."""
    missing = [name for name in PRODUCER_INTERNALS if not hasattr(producer, name)]
    if not missing:
        missing = [f"client.{name}" for name in ("_wait_on_metadata",)
                   if not hasattr(producer.client, name)]
        missing += [f"_metadata.{name}" for name in ("partitions_for_topic",
                                                     "available_partitions_for_topic")
                    if not hasattr(producer._metadata, name)]
    if missing:
        raise IncompatibleFaust(
            f"the router's batch sender (hub.faust.batch_send) needs aiokafka's producer to "
            f"have {', '.join(missing)}; this aiokafka ({type(producer).__module__}) has "
            "not: install the version pyproject.toml pins")


class Record(Protocol):
    topic: str
    key: bytes
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    partition: int | None


Chunk = tuple[list, asyncio.Future]
"""Records sent together and the future of their acknowledgement (its result's
``offset``: the first record's; None where the producer reports none)."""


class BatchSender:
    """Sends records through ``app.producer`` (Faust's), by partition batch when its
    aiokafka producer allows."""

    def __init__(self, app):
        self.app = app
        self._topics: set[str] = set()  # topics whose metadata the producer has
        self._checked = False

    def _batch_producer(self):
        """The aiokafka producer of Faust's producer, its internals checked; None for a
        producer that is not Faust's aiokafka driver (tests' fakes)."""
        if not isinstance(self.app.producer, AIOKafkaProducerDriver):
            return None
        producer = self.app.producer._producer
        if not self._checked:
            check_batch_producer(producer)
            self._checked = True
        return producer

    async def send(self, records: Iterable[Record]) -> list[Chunk]:
        """Hand ``records`` to the producer (not awaited): their chunks."""
        producer = self._batch_producer()
        if producer is None:
            return await self._one_by_one(records)
        chunks: list[Chunk] = []
        open_: dict[tuple[str, int], tuple[object, list]] = {}
        partitions: dict[str, tuple[list, list]] = {}  # topic -> (all, available), this call
        for record in records:
            partition = record.partition
            if partition is None:
                known = partitions.get(record.topic)
                if known is None:
                    known = partitions[record.topic] = await self._partitions(producer,
                                                                              record.topic)
                partition = producer._partitioner(record.key, *known)
            tp = (record.topic, partition)
            batch = open_.get(tp)
            if batch is None:
                batch = open_[tp] = (producer.create_batch(), [])
            if not self._append(batch[0], record):  # full: submit it, start the next
                chunks.append(await self._submit(producer, tp, batch))
                batch = open_[tp] = (producer.create_batch(), [])
                self._append(batch[0], record)  # a batch takes its first record always
            batch[1].append(record)
        for tp, batch in open_.items():
            chunks.append(await self._submit(producer, tp, batch))
        return chunks

    @staticmethod
    def _append(builder, record: Record) -> bool:
        return builder.append(timestamp=None, key=record.key, value=record.value,
                              headers=list(record.headers)) is not None

    @staticmethod
    async def _submit(producer, tp: tuple[str, int], batch) -> Chunk:
        builder, records = batch
        future = await producer.send_batch(builder, tp[0], partition=tp[1])
        return records, future

    async def _partitions(self, producer, topic: str) -> tuple[list, list]:
        """The topic's partitions and those available, as ``AIOKafkaProducer._partition``
        hands them to the partitioner (looked up once per call and topic, not per
        record)."""
        if topic not in self._topics:
            await producer.client._wait_on_metadata(topic)
            self._topics.add(topic)
        metadata = producer._metadata
        return (list(metadata.partitions_for_topic(topic)),
                list(metadata.available_partitions_for_topic(topic)))

    async def _one_by_one(self, records: Iterable[Record]) -> list[Chunk]:
        send = self.app.producer.send
        chunks: list[Chunk] = []
        for record in records:
            future = await send(record.topic, record.key, record.value, record.partition,
                                None, list(record.headers) or None)
            chunks.append(([record], future))
        return chunks
