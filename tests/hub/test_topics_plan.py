"""The declared topics and agencies (no Kafka)."""

import pytest

from hub.agencies import load_agencies
from hub.errors import ConfigError
from hub.topics import plan_topics


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
    assert plan["hub.audit"].config["retention.ms"] == "-1"
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
