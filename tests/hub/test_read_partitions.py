"""The one loop that reads Kafka to an end (``hub.kafka_io.read_partitions``), over a fake
consumer: every partition of a topic from the beginning, or one partition of several
topics from given offsets (the router's inbox scans)."""

from collections import namedtuple

import pytest

from hub import kafka_io
from hub.errors import HubError
from hub.routing import inbox_scan

Record = namedtuple("Record", "topic partition offset key value headers timestamp")


class FakeConsumer:
    """Topics as {topic: {partition: [values]}}; poll hands out two records at a time."""

    def __init__(self, topics):
        self.topics = topics
        self.positions = {}
        self.closed = False

    def partitions_for_topic(self, topic):
        return set(self.topics[topic]) if topic in self.topics else None

    def assign(self, partitions):
        self.assigned = list(partitions)

    def seek_to_beginning(self, *partitions):
        for tp in partitions or self.assigned:
            self.positions[tp] = 0

    def seek(self, tp, offset):
        self.positions[tp] = offset

    def end_offsets(self, partitions):
        return {tp: len(self.topics[tp.topic][tp.partition]) for tp in partitions}

    def position(self, tp):
        return self.positions[tp]

    def poll(self, timeout_ms):
        out = {}
        for tp in self.assigned:
            values = self.topics[tp.topic][tp.partition]
            at = self.positions[tp]
            batch = [Record(tp.topic, tp.partition, o, b"k", v, (), 0)
                     for o, v in enumerate(values[at:at + 2], start=at)]
            if batch:
                out[tp] = batch
                self.positions[tp] = at + len(batch)
        return out

    def close(self):
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    holder = {}

    def consumer(bootstrap, **kwargs):
        holder["consumer"] = FakeConsumer(holder["topics"])
        return holder["consumer"]

    monkeypatch.setattr(kafka_io, "consumer", consumer)
    return holder


def test_read_to_end_reads_every_partition_from_the_beginning(fake):
    fake["topics"] = {"t": {1: [b"c"], 0: [b"a", b"b", b"x"]}, "other": {0: [b"no"]}}
    values = [(r.partition, r.value) for r in kafka_io.read_to_end("localhost:1", "t")]
    assert sorted(values) == [(0, b"a"), (0, b"b"), (0, b"x"), (1, b"c")]
    assert fake["consumer"].closed


def test_a_topic_without_partitions_is_an_error(fake, monkeypatch):
    fake["topics"] = {}
    monkeypatch.setattr(kafka_io, "missing_topic",
                        lambda kafka, topic: HubError(f"topic {topic} does not exist"))
    with pytest.raises(HubError, match="topic t does not exist"):
        list(kafka_io.read_to_end("localhost:1", "t"))
    assert fake["consumer"].closed


def test_the_inbox_scan_reads_one_partition_of_each_inbox_from_its_start(fake):
    fake["topics"] = {"agency.a.inbox": {0: [b"a0"], 1: [b"a1", b"a2", b"a3"]},
                      "agency.b.inbox": {0: [b"b0"], 1: [b"b1", b"b2"]}}
    seen = []
    read, ends = inbox_scan._read_inboxes(
        "localhost:1", {"agency.a.inbox": "a", "agency.b.inbox": "b"}, 1,
        lambda recipient, record: seen.append((recipient, record.value)),
        {"agency.a.inbox": 2, "agency.b.inbox": 0})
    assert sorted(seen) == [("a", b"a3"), ("b", b"b1"), ("b", b"b2")]
    assert read == 3 and ends == {"agency.a.inbox": 3, "agency.b.inbox": 2}


def test_a_start_beyond_the_end_reads_nothing(fake):
    fake["topics"] = {"agency.a.inbox": {0: [b"a0"]}}
    read, ends = inbox_scan._read_inboxes("localhost:1", {"agency.a.inbox": "a"}, 0,
                                         lambda *a: None, {"agency.a.inbox": 9})
    assert (read, ends) == (0, {"agency.a.inbox": 1})
