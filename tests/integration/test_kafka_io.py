"""Reading partitions to their end against the real broker: every partition through one
consumer, the whole of each or a sample of its first offsets, and a topic's config."""

import uuid

import pytest
from kafka import TopicPartition
from kafka.admin import NewTopic

from hub.kafka_io import admin_client, producer, read_partitions, topic_config

pytestmark = pytest.mark.kafka


@pytest.fixture
def filled(kafka):
    """A new topic of 3 partitions with 10 records in each."""
    topic = f"test.read.{uuid.uuid4().hex[:8]}"
    with admin_client(kafka.bootstrap) as admin:
        admin.create_topics([NewTopic(topic, 3, 1, topic_configs={"retention.ms": "3600000"})])
    kp = producer(kafka.bootstrap, "test-kafka-io")
    for partition in range(3):
        for n in range(10):
            kp.send(topic, key=f"{partition}-{n}".encode(), value=b"v", partition=partition)
    kp.flush()
    kp.close()
    return kafka.bootstrap, topic


def test_every_partition_is_read_to_its_end(filled):
    bootstrap, topic = filled
    ends = {}
    keys = [r.key.decode() for r in read_partitions(bootstrap, [topic], "test", ends=ends)]
    assert sorted(keys) == sorted(f"{p}-{n}" for p in range(3) for n in range(10))
    assert ends == {TopicPartition(topic, p): 10 for p in range(3)}


def test_a_sample_reads_only_the_first_offsets_of_each_partition(filled):
    bootstrap, topic = filled
    records = list(read_partitions(bootstrap, [topic], "test", first=4))
    assert sorted((r.partition, r.key.decode()) for r in records) == sorted(
        (p, f"{p}-{n}") for p in range(3) for n in range(4))
    assert len(list(read_partitions(bootstrap, [topic], "test", first=4, partition=1))) == 4


def test_a_topics_config_is_read_as_the_broker_tells_it(filled):
    bootstrap, topic = filled
    assert topic_config(bootstrap, topic, "retention.ms") == "3600000"
    assert topic_config(bootstrap, topic, "no.such.config") is None
