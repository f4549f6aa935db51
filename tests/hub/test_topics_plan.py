"""The declared topics and agencies (no Kafka)."""

import pytest

from hub.agencies import load_agencies
from hub.errors import ConfigError
from hub.topics import TOPICS_FILE, plan_topics, router_partition_count, router_partitions


@pytest.fixture(scope="module")
def plan():
    return {spec.name: spec for spec in plan_topics(load_agencies())}


def test_every_exchanging_agency_has_an_inbox_and_an_outbox(plan):
    agencies = load_agencies()
    for agency in agencies.exchanging():
        assert agency.inbox in plan and agency.outbox in plan
    assert "agency.kreis-unna-statistik.inbox" not in plan
    assert len(agencies.exchanging()) == 12


def test_hub_topics_and_their_policies(plan):
    assert plan["hub.consent"].config["cleanup.policy"] == "compact"
    assert plan["hub.audit"].config["retention.ms"] == str(730 * 86_400_000)
    assert plan["hub.dlq"].config["cleanup.policy"] == "delete"
    analytics = [name for name in plan if name.startswith("analytics.")]
    assert len(analytics) == 3
    assert all(plan[name].config["cleanup.policy"] == "compact" for name in analytics)


def test_replication_factor_override():
    specs = plan_topics(load_agencies(), replication_factor=3)
    assert {s.replication_factor for s in specs} == {3}


def test_participants_of_the_district():
    agencies = load_agencies()
    ids = {a.id for a in agencies}
    assert {"jugendamt-kamen", "kreisjugendamt-unna", "gesundheitsamt-kreis-unna",
            "jobcenter-kreis-unna", "grundschule-kamen-mitte", "kita-kamen-regenbogen",
            "kreis-unna-statistik"} <= ids
    assert set(agencies.get("kreisjugendamt-unna").covers) == {
        "froendenberg", "boenen", "holzwickede"}


def test_agency_list_problems_are_reported_together(tmp_path):
    path = tmp_path / "agencies.yaml"
    path.write_text(
        "agencies:\n"
        "  - {id: a, kind: spaceship, municipality: kamen, name: A}\n"
        "  - {id: a, kind: school, municipality: dortmund, name: B}\n"
        "  - {id: c, kind: school}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_agencies(path)
    message = str(info.value)
    for expected in ("unknown kind 'spaceship'", "listed twice", "unknown municipality "
                     "'dortmund'", "missing municipality, name"):
        assert expected in message


def test_the_router_topics_share_one_partition_count_from_the_defaults(plan):
    """Outboxes, inboxes and ticks: the default of deploy/topics.yaml, at least 6 so that
    six workers can share the routing."""
    routed = [s for name, s in plan.items() if name == "hub.ticks" or
              name.endswith((".outbox", ".inbox"))]
    assert len(routed) == 2 * 12 + 1
    assert {s.partitions for s in routed} == {router_partitions()}
    assert router_partitions() >= 6
    assert router_partition_count(list(plan.values())) == router_partitions()
    # the facts of a week or month share a partition: up to that many workers aggregate
    assert plan["hub.facts"].partitions == 6
    assert plan["hub.facts"].config["delete.retention.ms"] == "604800000"


def test_a_plan_where_ticks_and_outboxes_differ_is_refused(tmp_path):
    text = TOPICS_FILE.read_text(encoding="utf-8").replace(
        "  - name: hub.ticks ", "  - name: hub.ticks\n    partitions: 3\n    #")
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        plan_topics(load_agencies(), path)
    message = str(info.value)
    assert "must have the same number of partitions" in message
    assert "hub.ticks has 3" in message and "27 others have 6" in message


def test_a_plan_where_an_outbox_differs_is_refused(tmp_path):
    text = TOPICS_FILE.read_text(encoding="utf-8").replace(
        '  - name: "agency.{id}.outbox"', '  - name: "agency.{id}.outbox"\n    partitions: 12')
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="agency.jugendamt-kamen.outbox has 12"):
        plan_topics(load_agencies(), path)
    with pytest.raises(ConfigError):
        router_partitions(path=path)


def test_the_default_sets_every_router_topic(tmp_path):
    text = TOPICS_FILE.read_text(encoding="utf-8").replace("  partitions: 6", "  partitions: 9")
    path = tmp_path / "topics.yaml"
    path.write_text(text, encoding="utf-8")
    assert router_partitions(path=path) == 9
    assert {s.partitions for s in plan_topics(load_agencies(), path)
            if s.name.startswith("analytics.")} == {1}


def test_every_topic_has_a_deletion_deadline_and_says_why(plan):
    for spec in plan.values():
        assert spec.why, spec.name
        assert spec.deletion() == "compacted" or int(spec.config["retention.ms"]) > 0
    assert plan["hub.audit"].deletion() == "730 days"  # HUB_AUDIT_RETENTION_DAYS' default
    assert plan["hub.consent"].deletion() == "compacted"
    assert plan["hub.ticks"].deletion() == "1 hour"


def test_the_audit_keeps_what_the_setting_says():
    specs = {s.name: s for s in plan_topics(load_agencies(), audit_retention_days=30)}
    assert specs["hub.audit"].config["retention.ms"] == str(30 * 86_400_000)
    assert specs["hub.audit"].deletion() == "30 days"


def test_a_topic_kept_forever_or_without_a_reason_is_refused(tmp_path):
    text = TOPICS_FILE.read_text(encoding="utf-8")
    forever = text.replace("retention.ms: 15552000000     # 180 days", "retention.ms: -1")
    no_reason = text.replace(
        "    why: the hub routes each event within seconds; 14 days leave room for a stopped "
        "worker\n", "")
    assert forever != text and no_reason != text
    for variant, expected in ((forever, "hub.dlq keeps its records forever"),
                              (no_reason, "agency.jugendamt-kamen.outbox has no `why`")):
        path = tmp_path / "topics.yaml"
        path.write_text(variant, encoding="utf-8")
        with pytest.raises(ConfigError, match="every topic needs a deletion deadline") as info:
            plan_topics(load_agencies(), path)
        assert expected in str(info.value)
