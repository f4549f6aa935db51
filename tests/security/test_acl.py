"""The Kafka ACL model: who may do what, derived from the agency directory (no Kafka)."""

from dataclasses import FrozenInstanceError, replace

import pytest

from hub.agencies import Agency, AgencyDirectory, load_agencies
from hub.errors import ConfigError
from hub.security.acl import (
    ALL,
    ANALYST,
    CLUSTER,
    CLUSTER_NAME,
    CREATE,
    DELETE,
    DESCRIBE,
    GROUP,
    HUB,
    IDEMPOTENT_WRITE,
    LITERAL,
    OPERATIONS,
    OPERATOR,
    PREFIXED,
    READ,
    TOPIC,
    TRANSACTIONAL_ID,
    WRITE,
    Acl,
    agency_principal,
    allows,
    derive_acls,
    describe,
    principals,
)
from hub.topics import plan_topics

TOPIC_OPERATIONS = [READ, WRITE, CREATE, DELETE, DESCRIBE, "ALTER", "DESCRIBE_CONFIGS",
                    "ALTER_CONFIGS"]


@pytest.fixture(scope="module")
def agencies():
    return load_agencies()


@pytest.fixture(scope="module")
def plan(agencies):
    return plan_topics(agencies)


@pytest.fixture(scope="module")
def acls(agencies, plan):
    return derive_acls(agencies, plan)


@pytest.fixture(scope="module")
def everyone(acls):
    return principals(acls)


def who_may(acls, everyone, operation, topic):
    return {p for p in everyone if allows(acls, p, TOPIC, topic, operation)}


def test_the_principals(acls, agencies):
    expected = {HUB, ANALYST, OPERATOR} | {agency_principal(a.id) for a in agencies.exchanging()}
    assert set(principals(acls)) == expected
    # statistics agencies read as the one analyst principal, without one of their own
    assert agency_principal("kreis-unna-statistik") not in expected


def test_an_agency_writes_only_its_own_outbox_and_reads_only_its_own_inbox(acls, agencies,
                                                                           plan):
    for agency in agencies.exchanging():
        me = agency_principal(agency.id)
        for spec in plan:
            assert allows(acls, me, TOPIC, spec.name, WRITE) == (
                spec.name in (agency.outbox, "hub.linkage"))
            assert allows(acls, me, TOPIC, spec.name, READ) == (spec.name == agency.inbox)
            assert allows(acls, me, TOPIC, spec.name, DESCRIBE) == (
                spec.name in (agency.outbox, agency.inbox, "hub.linkage"))
            assert allows(acls, me, TOPIC, spec.name, "DESCRIBE_CONFIGS") == (
                spec.name == agency.outbox)  # its max.message.bytes, read before sending
            for operation in (CREATE, DELETE, "ALTER", "ALTER_CONFIGS"):
                assert not allows(acls, me, TOPIC, spec.name, operation)
        assert allows(acls, me, CLUSTER, CLUSTER_NAME, IDEMPOTENT_WRITE)
        assert not allows(acls, me, CLUSTER, CLUSTER_NAME, CREATE)


def test_an_agency_uses_only_its_own_consumer_groups(acls, agencies):
    ids = [a.id for a in agencies.exchanging()]
    for agency_id in ids:
        me = agency_principal(agency_id)
        assert allows(acls, me, GROUP, f"{agency_id}.deliver", READ)
        for other in ids:
            if other != agency_id:
                assert not allows(acls, me, GROUP, f"{other}.deliver", READ)
        assert not allows(acls, me, GROUP, "unna-hub", READ)
        assert not allows(acls, me, TRANSACTIONAL_ID, "unna-hub-0", WRITE)
    # the dot in the prefix keeps jugendamt-unna from the groups of a "jugendamt-unna-nord"
    assert not allows(acls, agency_principal("jugendamt-unna"), GROUP,
                      "jugendamt-unna-nord.deliver", READ)


def test_an_agency_gets_nothing_of_the_hub(acls, agencies, plan):
    """Only the linkage encodings of its own children go there: written, never read."""
    for agency in agencies.exchanging():
        me = agency_principal(agency.id)
        for spec in plan:
            if spec.name.startswith(("hub.", "analytics.")):
                allowed = {op for op in OPERATIONS if allows(acls, me, TOPIC, spec.name, op)}
                assert allowed == ({WRITE, DESCRIBE} if spec.name == "hub.linkage" else set())


def test_only_the_workers_read_the_linkage_encodings(acls, everyone, agencies):
    """The operator may do everything else, but a DENY keeps it from the encodings."""
    assert who_may(acls, everyone, READ, "hub.linkage") == {HUB}
    assert who_may(acls, everyone, WRITE, "hub.linkage") == {
        HUB, OPERATOR, *(agency_principal(a.id) for a in agencies.exchanging())}
    assert allows(acls, OPERATOR, TOPIC, "hub.linkage", CREATE)
    assert allows(acls, OPERATOR, TOPIC, "hub.linkage", DELETE)


@pytest.mark.parametrize("topic", ["hub.consent", "hub.audit", "hub.facts"])
def test_nobody_but_the_hub_reads_consents_and_audit(acls, everyone, topic):
    # the operator may do everything (it runs `hub audit` for the trust office)
    assert who_may(acls, everyone, READ, topic) == {HUB, OPERATOR}


def test_only_the_operator_and_the_workers_may_ask_for_an_erasure(acls, everyone):
    # hub erase writes hub.requests; an agency or an analyst could erase any child
    assert who_may(acls, everyone, WRITE, "hub.requests") == {HUB, OPERATOR}
    assert who_may(acls, everyone, READ, "hub.requests") == {HUB, OPERATOR}


def test_analysts_read_analytics_only(acls, plan):
    for spec in plan:
        assert allows(acls, ANALYST, TOPIC, spec.name, READ) == spec.name.startswith(
            "analytics.")
        assert not allows(acls, ANALYST, TOPIC, spec.name, WRITE)
    assert allows(acls, ANALYST, GROUP, "analyst.report", READ)
    assert not allows(acls, ANALYST, GROUP, "unna-hub", READ)


def test_only_the_operator_creates_or_deletes_topics(acls, everyone, plan):
    for spec in plan:
        for operation in (CREATE, DELETE):
            assert who_may(acls, everyone, operation, spec.name) == {OPERATOR}
    for p in everyone:
        assert allows(acls, p, CLUSTER, CLUSTER_NAME, CREATE) == (p == OPERATOR)
    # the workers create their own table changelogs, and only those
    assert allows(acls, HUB, TOPIC, "unna-hub-consents-changelog", CREATE)
    assert not allows(acls, HUB, TOPIC, "unna-hub-consents-changelog", DELETE)
    assert not allows(acls, HUB, TOPIC, "agency.new.outbox", CREATE)


def test_the_hub_reads_outboxes_and_delivers_to_inboxes(acls, agencies):
    for agency in agencies.exchanging():
        assert allows(acls, HUB, TOPIC, agency.outbox, READ)
        assert not allows(acls, HUB, TOPIC, agency.outbox, WRITE)
        assert allows(acls, HUB, TOPIC, agency.inbox, WRITE)
        # what the inboxes hold is read back when a worker takes over a partition
        assert allows(acls, HUB, TOPIC, agency.inbox, READ)
    for topic in ("hub.consent", "hub.audit", "hub.dlq", "hub.ticks", "hub.facts",
                  "analytics.weekly_activity"):
        assert allows(acls, HUB, TOPIC, topic, READ) and allows(acls, HUB, TOPIC, topic, WRITE)
    assert allows(acls, HUB, GROUP, "unna-hub", READ)
    # the analytics apart (hub run --role analytics): their group and Faust's topic of it
    assert allows(acls, HUB, GROUP, "unna-hub-analytics", READ)
    assert allows(acls, HUB, TOPIC, "unna-hub-analytics-__assignor-__leader", CREATE)
    assert allows(acls, HUB, TRANSACTIONAL_ID, "unna-hub-router-0", WRITE)
    for operation in (IDEMPOTENT_WRITE, "DESCRIBE_CONFIGS", DESCRIBE):
        assert allows(acls, HUB, CLUSTER, CLUSTER_NAME, operation)
    # hub.facts's delete.retention.ms: whether the analytics may read on from their store
    assert allows(acls, HUB, TOPIC, "hub.facts", "DESCRIBE_CONFIGS")
    assert not allows(acls, HUB, TOPIC, "hub.consent", "DESCRIBE_CONFIGS")


def test_app_id_names_the_workers_resources(agencies, plan):
    acls = derive_acls(agencies, plan, app_id="unna-test")
    assert allows(acls, HUB, GROUP, "unna-test", READ)
    assert allows(acls, HUB, TOPIC, "unna-test-held-changelog", CREATE)
    assert not allows(acls, HUB, GROUP, "unna-hub", READ)


def test_adding_an_agency_adds_exactly_its_acls(agencies, acls):
    new = Agency("kita-selm-pusteblume", "daycare", "selm", ("selm",), "Kita Pusteblume")
    bigger = AgencyDirectory([*agencies, new])
    added = set(derive_acls(bigger, plan_topics(bigger))) - set(acls)
    removed = set(acls) - set(derive_acls(bigger, plan_topics(bigger)))
    assert removed == set()
    me = agency_principal(new.id)
    assert added == {
        Acl(me, TOPIC, LITERAL, new.outbox, WRITE), Acl(me, TOPIC, LITERAL, new.outbox, DESCRIBE),
        Acl(me, TOPIC, LITERAL, new.outbox, "DESCRIBE_CONFIGS"),
        Acl(me, TOPIC, LITERAL, new.inbox, READ), Acl(me, TOPIC, LITERAL, new.inbox, DESCRIBE),
        Acl(me, GROUP, PREFIXED, f"{new.id}.", READ),
        Acl(me, CLUSTER, LITERAL, CLUSTER_NAME, IDEMPOTENT_WRITE),
        Acl(me, TOPIC, LITERAL, "hub.linkage", WRITE),
        Acl(HUB, TOPIC, LITERAL, new.outbox, READ), Acl(HUB, TOPIC, LITERAL, new.outbox, DESCRIBE),
        Acl(HUB, TOPIC, LITERAL, new.inbox, READ), Acl(HUB, TOPIC, LITERAL, new.inbox, WRITE),
        Acl(HUB, TOPIC, LITERAL, new.inbox, DESCRIBE),
    }


def test_a_statistics_agency_adds_nothing(agencies, acls):
    new = Agency("stadt-unna-statistik", "statistics", "unna", ("unna",), "Statistik Unna")
    bigger = AgencyDirectory([*agencies, new])
    assert derive_acls(bigger, plan_topics(bigger)) == acls


def test_derived_acls_are_sorted_and_unique(acls):
    assert acls == sorted(set(acls))


def test_an_agency_cannot_take_a_fixed_principal(agencies, plan):
    clash = Agency("operator", "school", "kamen", ("kamen",), "Schule Operator")
    bigger = AgencyDirectory([*agencies, clash])
    with pytest.raises(ConfigError, match="'operator' is also the name of a fixed principal"):
        derive_acls(bigger, plan_topics(bigger))


def test_topics_of_nobody_are_refused(agencies, plan):
    new = Agency("kita-selm-pusteblume", "daycare", "selm", ("selm",), "Kita Pusteblume")
    with pytest.raises(ConfigError, match="agency.kita-selm-pusteblume.outbox .* not in the "
                       "topic plan"):
        derive_acls(AgencyDirectory([*agencies, new]), plan)
    stray = replace(plan[0], name="scratch.topic")
    with pytest.raises(ConfigError, match="scratch.topic .* nobody may use it"):
        derive_acls(agencies, [*plan, stray])


def test_acl_is_a_frozen_sortable_value():
    a = Acl("User:a", TOPIC, LITERAL, "t", READ)
    b = Acl("User:a", TOPIC, LITERAL, "t", DESCRIBE)
    assert sorted([a, b]) == [b, a]
    assert a == Acl("User:a", TOPIC, LITERAL, "t", READ) and a.permission == "ALLOW"
    assert a.host == "*"
    with pytest.raises(FrozenInstanceError):
        a.name = "other"


@pytest.mark.parametrize("args, problem", [
    (("hub", TOPIC, LITERAL, "t", READ), "not User:<name>"),
    (("User:a", "QUEUE", LITERAL, "t", READ), "unknown resource type"),
    (("User:a", TOPIC, "MATCH", "t", READ), "unknown pattern type"),
    (("User:a", GROUP, LITERAL, "g", WRITE), "not an operation on GROUP"),
    (("User:a", CLUSTER, LITERAL, "my-cluster", ALL), "the cluster resource"),
])
def test_invalid_acls_are_refused(args, problem):
    with pytest.raises(ValueError, match=problem):
        Acl(*args)


def test_allows_follows_kafkas_rules():
    acls = [Acl("User:a", TOPIC, PREFIXED, "x.", WRITE),
            Acl("User:a", TOPIC, LITERAL, "*", "DESCRIBE_CONFIGS"),
            Acl("User:b", TOPIC, LITERAL, "x.1", ALL),
            Acl("User:b", TOPIC, LITERAL, "x.1", DELETE, permission="DENY")]
    assert allows(acls, "User:a", TOPIC, "x.1", WRITE)
    assert allows(acls, "User:a", TOPIC, "x.1", DESCRIBE)  # implied by WRITE
    assert not allows(acls, "User:a", TOPIC, "x.1", READ)
    assert not allows(acls, "User:a", TOPIC, "y.1", DESCRIBE)
    assert allows(acls, "User:a", TOPIC, "y.1", "DESCRIBE_CONFIGS")  # wildcard
    assert not allows(acls, "User:a", GROUP, "x.1", READ)
    assert allows(acls, "User:b", TOPIC, "x.1", READ)
    assert not allows(acls, "User:b", TOPIC, "x.1", DELETE)  # DENY wins


def test_describe_lists_every_principal(acls):
    text = describe(acls)
    for principal in principals(acls):
        assert f"\n{principal}\n" in f"\n{text}"
    assert "agency.jugendamt-kamen.outbox" in text and "WRITE, DESCRIBE" in text


def test_describe_one_principal(acls):
    text = describe(acls, "User:jugendamt-kamen")
    assert text.splitlines()[0] == "User:jugendamt-kamen"
    assert "agency.jugendamt-kamen.outbox" in text
    assert "jugendamt-kamen.*" in text  # its group prefix
    assert "User:hub" not in text and "jugendamt-selm" not in text
    assert describe(acls, "User:nobody") == ""
