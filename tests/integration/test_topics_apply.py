"""`hub topics apply` against the real broker: creates, aligns, and is idempotent."""

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from hub.agencies import load_agencies
from hub.kafka_io import admin_client
from hub.topics import plan_topics
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka


def test_apply_creates_everything_then_changes_nothing(topics):
    with admin_client(topics.bootstrap) as admin:
        names = set(admin.list_topics())
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, "hub.consent")])["topic"]["hub.consent"]
    assert {s.name for s in plan_topics(load_agencies())} <= names
    assert configs["cleanup.policy"]["value"] == "compact"
    again = topics.hub("topics", "apply")
    assert again.returncode == 0
    assert "0 created, 0 updated" in again.stdout


def test_apply_repairs_a_drifted_config_and_grows_partitions(topics):
    with admin_client(topics.bootstrap) as admin:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "hub.dlq",
                                            configs={"retention.ms": "1000"})])
        # the broker shows a changed config a moment after the controller accepted it
        wait_for(lambda: admin.describe_configs([ConfigResource(
            ConfigResourceType.TOPIC, "hub.dlq")])["topic"]["hub.dlq"]["retention.ms"][
            "value"] == "1000", 30, "the broker to show the drifted config")
    result = topics.hub("topics", "apply")
    assert result.returncode == 0, result.stderr
    assert "updated   hub.dlq: retention.ms: 1000 -> 15552000000" in result.stdout
    with admin_client(topics.bootstrap) as admin:
        value = admin.describe_configs([ConfigResource(
            ConfigResourceType.TOPIC, "hub.dlq")])["topic"]["hub.dlq"]["retention.ms"]["value"]
    assert value == "15552000000"
