"""Deletion deadlines against the real broker: every planned topic has the retention or
compaction `hub topics apply` set, read back from the broker; and the broker deletes an
audit segment once it is older than the audit's retention (HUB_AUDIT_RETENTION_DAYS)."""

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from hub.agencies import load_agencies
from hub.kafka_io import admin_client, producer
from hub.topics import plan_topics
from tests.conftest import wait_for

pytestmark = pytest.mark.kafka


def test_every_topic_has_its_deletion_deadline_on_the_broker(topics):
    plan = plan_topics(load_agencies())
    with admin_client(topics.bootstrap) as admin:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, s.name,
                            configs={"cleanup.policy": None, "retention.ms": None})
             for s in plan], config_filter="all")["topic"]
    for spec in plan:
        on_broker = {k: v["value"] for k, v in described[spec.name].items()}
        if spec.deletion() == "compacted":
            assert "compact" in on_broker["cleanup.policy"], spec.name
        else:
            assert on_broker["cleanup.policy"] == "delete", spec.name
            assert on_broker["retention.ms"] == spec.config["retention.ms"], spec.name
            assert int(on_broker["retention.ms"]) > 0, spec.name
    assert described["hub.audit"]["retention.ms"]["value"] == str(730 * 86_400_000)


def test_an_expired_audit_segment_is_gone(kafka):
    """The audit's topic config with a retention of two seconds (as
    HUB_AUDIT_RETENTION_DAYS would set it), on a topic of its own: its first segment goes
    once it is older than that; the newest records stay."""
    (audit,) = [s for s in plan_topics(load_agencies(), audit_retention_days=2 / 86_400)
                if s.name == "hub.audit"]
    assert audit.config["retention.ms"] == "2000"
    topic = "test.audit-retention"
    tp = TopicPartition(topic, 0)
    with admin_client(kafka.bootstrap) as admin:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={
            **audit.config, "segment.ms": "500"})])
    kp = producer(kafka.bootstrap, "test-retention")
    reader = KafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    try:
        for n in range(5):
            kp.send(topic, key=b"decision", value=f"old {n}".encode())
        kp.flush()
        assert reader.beginning_offsets([tp])[tp] == 0

        def expired():
            kp.send(topic, key=b"decision", value=b"new").get(timeout=10)  # rolls a segment
            return reader.beginning_offsets([tp])[tp] >= 5

        wait_for(expired, 90, "the broker to delete the expired audit segment", interval=2)
        reader.assign([tp])
        reader.seek_to_beginning(tp)
        left = [r.value for batch in reader.poll(timeout_ms=5000).values() for r in batch]
        assert left and not any(v.startswith(b"old") for v in left)
    finally:
        kp.close(timeout=10)
        reader.close()
