"""The router's records go to the producer one batch per topic partition
(:class:`hub.faust.batch_send.BatchSender`): each where the partitioner puts it, in order,
and every record's offset known from its batch's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

import aiokafka
import pytest
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from hub.faust.batch_send import BatchSender, check_batch_producer
from hub.faust.checks import IncompatibleFaust
from hub.routing.messages import Output


class Builder:
    def __init__(self, room: int):
        self.records: list[tuple] = []
        self.room = room

    def append(self, *, timestamp, key, value, headers):
        if len(self.records) == self.room:
            return None  # full
        self.records.append((key, value, tuple(headers)))
        return object()


@dataclass
class AioProducer:
    """aiokafka's batch API as the sender uses it: batches of ``room`` records, partition
    by the key's length, offsets counted per partition."""

    room: int = 100

    def __post_init__(self):
        self.batches: list[tuple[str, int, list]] = []
        self.ends: dict[tuple[str, int], int] = {}
        self.client = SimpleNamespace(_wait_on_metadata=self._wait)
        self._metadata = SimpleNamespace(partitions_for_topic=lambda topic: {0, 1, 2},
                                         available_partitions_for_topic=lambda t: {0, 1, 2})
        self.metadata_asked: list[str] = []

    async def _wait(self, topic):
        self.metadata_asked.append(topic)

    def _partitioner(self, key_bytes, all_partitions, available):
        assert all_partitions == [0, 1, 2] and available == [0, 1, 2]
        return len(key_bytes) % 3

    def create_batch(self):
        return Builder(self.room)

    async def send_batch(self, builder, topic, *, partition):
        self.batches.append((topic, partition, builder.records))
        base = self.ends.get((topic, partition), 0)
        self.ends[(topic, partition)] = base + len(builder.records)
        future = asyncio.get_running_loop().create_future()
        future.set_result(SimpleNamespace(offset=base, partition=partition))
        return future


def faust_producer(producer) -> AIOKafkaProducerDriver:
    """Faust's aiokafka driver around ``producer`` (not started)."""
    driver = AIOKafkaProducerDriver.__new__(AIOKafkaProducerDriver)
    driver._producer = producer
    return driver


def send(records, producer):
    app = SimpleNamespace(producer=faust_producer(producer))

    async def go():
        chunks = await BatchSender(app).send(records)
        return [(outs, await future) for outs, future in chunks]
    return asyncio.run(go())


def test_records_go_one_batch_per_partition_in_their_order():
    records = [Output("inbox", b"k" * n, f"v{i}".encode(), (("h", b"1"),))
               for i, n in enumerate([1, 2, 4, 1, 2])]
    records.append(Output("changelog", b"x", b"c", partition=2))
    producer = AioProducer()
    chunks = send(records, producer)
    assert [(t, p, [v for _, v, _ in r]) for t, p, r in producer.batches] == [
        ("inbox", 1, [b"v0", b"v2", b"v3"]), ("inbox", 2, [b"v1", b"v4"]),
        ("changelog", 2, [b"c"])]
    assert producer.batches[0][2][0] == (b"k", b"v0", (("h", b"1"),))
    assert producer.metadata_asked == ["inbox"]  # once, for the topic partitioned by key
    assert [[o.value for o in outs] for outs, _ in chunks] == [
        [b"v0", b"v2", b"v3"], [b"v1", b"v4"], [b"c"]]


def test_a_full_batch_is_sent_and_the_next_one_goes_on_after_it():
    records = [Output("inbox", b"k", f"v{i}".encode()) for i in range(5)]
    producer = AioProducer(room=2)
    chunks = send(records, producer)
    assert [[v for _, v, _ in r] for _, _, r in producer.batches] == [
        [b"v0", b"v1"], [b"v2", b"v3"], [b"v4"]]
    # each chunk's first offset: record i of the chunk has that offset + i
    assert [(len(outs), result.offset) for outs, result in chunks] == [(2, 0), (2, 2), (1, 4)]


def test_a_producer_without_batches_gets_each_record_on_its_own():
    sent = []

    async def one(topic, key, value, partition, timestamp, headers):
        sent.append((topic, value, headers))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    app = SimpleNamespace(producer=SimpleNamespace(send=one))
    records = [Output("inbox", b"k", b"a"), Output("dlq", b"k", b"b", (("h", b"1"),))]
    chunks = asyncio.run(BatchSender(app).send(records))
    assert sent == [("inbox", b"a", None), ("dlq", b"b", [("h", b"1")])]
    assert [[o.value for o in outs] for outs, _ in chunks] == [[b"a"], [b"b"]]


def test_the_installed_aiokafka_producer_has_what_the_batch_sender_uses():
    async def make():
        producer = aiokafka.AIOKafkaProducer(bootstrap_servers="127.0.0.1:9")
        check_batch_producer(producer)  # raises if an internal is missing

    asyncio.run(make())


def test_a_producer_without_an_internal_is_refused_by_name():
    producer = AioProducer()
    del producer._metadata
    app = SimpleNamespace(producer=faust_producer(producer))
    with pytest.raises(IncompatibleFaust, match="_metadata"):
        asyncio.run(BatchSender(app).send([]))
