"""Deletion deadlines against the real broker: every planned topic has the retention or
compaction `hub topics apply` set, read back from the broker; and the broker deletes an
audit segment once it is older than the audit's retention (HUB_AUDIT_RETENTION_DAYS)."""

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic

from hub.agencies import load_agencies
from hub.kafka_io import admin_client, producer
from hub.topics import plan_topics
from tests.support.waiting import wait_for

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
        policy = set(spec.config.get("cleanup.policy", "delete").split(","))
        assert set(on_broker["cleanup.policy"].split(",")) == policy, spec.name
        if "delete" in policy:  # deleted by age (hub.linkage: compacted and by age)
            assert on_broker["retention.ms"] == spec.config["retention.ms"], spec.name
            assert int(on_broker["retention.ms"]) > 0, spec.name
    assert plan_topics(load_agencies()) and described["hub.linkage"]["cleanup.policy"][
        "value"] in ("compact,delete", "delete,compact")
    assert described["hub.audit"]["retention.ms"]["value"] == str(730 * 86_400_000)


def test_what_an_erasure_replaced_is_compacted_away_within_a_week(worker, topics):
    """The compacted topics that hold pseudonyms, the plan's and the router's changelogs
    (created by `hub run`), make Kafka compact a replaced record within 7 days: without
    max.compaction.lag.ms a quiet topic may never be compacted."""
    from hub.routing.agent import table_names

    week = str(7 * 86_400_000)
    names = ["hub.consent", "hub.facts", "hub.linkage.decisions", "hub.linkage.reviews",
             *(f"unna-hub-{t}-changelog" for t in table_names())]
    with admin_client(topics.bootstrap) as admin:
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names])["topic"]
    for name in names:
        assert described[name]["cleanup.policy"]["value"] == "compact", name
        assert described[name]["max.compaction.lag.ms"]["value"] == week, name


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


def test_a_worker_brings_changelogs_of_an_older_version_up_to_date(kafka, monkeypatch):
    """Changelogs created before the compaction deadline existed get it when a worker
    starts (`ensure_changelogs`), the others are created with it."""
    from hub.routing.agent import table_names
    from hub.settings import Settings
    from hub.worker import ensure_changelogs, with_replication

    monkeypatch.setenv("HUB_HOME", str(kafka.home))
    settings = with_replication(Settings(bootstrap_servers=kafka.bootstrap,
                                         app_id="test-upgrade"))
    old = f"test-upgrade-{table_names()[0]}-changelog"
    with admin_client(kafka.bootstrap) as admin:
        admin.create_topics([NewTopic(old, 1, 1, topic_configs={"cleanup.policy": "compact"})],
                            wait_for_metadata=True)
    created = ensure_changelogs(settings)
    assert old not in created and len(created) == len(table_names()) - 1

    def configs():
        with admin_client(kafka.bootstrap) as admin:
            described = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, name) for name in [old, *created]]
            )["topic"]
        return {name: {k: v["value"] for k, v in config.items()}
                for name, config in described.items()}

    wanted = {"cleanup.policy": "compact", "max.compaction.lag.ms": str(7 * 86_400_000)}
    wait_for(lambda: all(wanted.items() <= values.items() for values in configs().values()),
             30, "every changelog to have the compaction deadline")
