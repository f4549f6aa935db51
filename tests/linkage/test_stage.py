"""The linkage stage: decides a pseudonym once, files it after that, carries out the trust
office's reviews, and is rebuilt from its own records."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.encodings import encode
from hub.clock import FixedClock
from hub.linkage.records import Action, LinkDecision, Outcome, Review
from hub.linkage.stage import LinkageStage, ReviewError

KEY = b"k" * 32
BIRTH = date(2015, 4, 9)
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def raw(given, family, birth=BIRTH) -> bytes:
    return encode(KEY, given, family, birth).to_bytes()


def decided(records) -> LinkDecision:
    """The one decision among ``records`` (the audit records beside it are left out)."""
    (record,) = [r for r in records if r.topic != "hub.audit"]
    assert record.topic == "hub.linkage.decisions"
    decision = LinkDecision.from_bytes(record.value)
    assert record.key == decision.pseudonym.encode()
    return decision


@pytest.fixture
def stage():
    s = LinkageStage(FixedClock(NOW))
    assert decided(s.on_encodings("p-mia", raw("Mia", "Meyer"))).outcome is Outcome.NEW
    assert decided(s.on_encodings("p-lena", raw("Lena", "Schmidt"))).outcome is Outcome.NEW
    return s


def test_a_variant_is_linked_once(stage):
    d = decided(stage.on_encodings("p-mia-2", raw("Mia", "Meier")))
    assert (d.outcome, d.child, d.candidate, d.by) == (Outcome.SAME, "p-mia", "p-mia", "linkage")
    assert "given" in d.fields and d.score > 16
    assert stage.on_encodings("p-mia-2", raw("Mia", "Meier")) == []  # known: filed only
    assert stage.take_counts() == {"new_child": 2, "same_child": 1}


def test_a_possible_match_waits_and_the_trust_office_confirms_it(stage):
    d = decided(stage.on_encodings("p-lina", raw("Lina", "Schmidt")))
    assert d.outcome is Outcome.POSSIBLE and d.candidate == "p-lena"
    assert [p.pseudonym for p in stage.pending()] == ["p-lina"]
    assert stage.oldest_pending_age(NOW.replace(day=4)) == 3 * 86400
    confirmed = decided(stage.on_review(Review(Action.CONFIRM, "p-lina", "p-lena", "anna",
                                               NOW)))
    assert (confirmed.outcome, confirmed.child, confirmed.by, confirmed.review) == (
        Outcome.SAME, "p-lena", "anna", Action.CONFIRM)
    assert stage.pending() == []


def test_a_rejected_pair_is_never_proposed_again(stage):
    decided(stage.on_encodings("p-lina", raw("Lina", "Schmidt")))
    rejected = decided(stage.on_review(Review(Action.REJECT, "p-lina", "p-lena", "anna", NOW)))
    assert (rejected.outcome, rejected.child) == (Outcome.NEW, "p-lina")
    # another spelling of Lina now finds Lina, never Lena through her
    d = decided(stage.on_encodings("p-lina-2", raw("Lina", "Schmitt")))
    assert d.candidate == "p-lina"


def test_unlink_undoes_a_link_and_the_pair_stays_apart(stage):
    decided(stage.on_encodings("p-mia-2", raw("Mia", "Meier")))
    with pytest.raises(ReviewError, match="not linked to p-lena"):
        stage.on_review(Review(Action.UNLINK, "p-mia-2", "p-lena", "anna", NOW))
    d = decided(stage.on_review(Review(Action.UNLINK, "p-mia-2", "p-mia", "anna", NOW)))
    assert (d.outcome, d.child, d.review) == (Outcome.NEW, "p-mia-2", Action.UNLINK)
    assert ("p-mia-2", "p-mia") in stage.rejected


def test_reviews_of_unknown_pseudonyms_are_refused(stage):
    with pytest.raises(ReviewError, match="no linkage decision about p-x"):
        stage.on_review(Review(Action.CONFIRM, "p-x", "p-mia", "anna", NOW))
    with pytest.raises(ReviewError, match="knows no child p-y"):
        stage.on_review(Review(Action.CONFIRM, "p-mia", "p-y", "anna", NOW))


def test_an_erased_pseudonym_is_forgotten(stage):
    assert stage.on_encodings("p-mia", None) == []
    assert "p-mia" not in stage.index and "p-mia" not in stage.decisions
    assert decided(stage.on_encodings("p-mia-2", raw("Mia", "Meier"))).outcome is Outcome.NEW


def test_the_stage_is_rebuilt_from_its_records(stage):
    records = stage.on_encodings("p-mia-2", raw("Mia", "Meier"))
    records += stage.on_encodings("p-lina", raw("Lina", "Schmidt"))
    review = Review(Action.REJECT, "p-lina", "p-lena", "anna", NOW)
    records += stage.on_review(review)
    again = LinkageStage(FixedClock(NOW))
    again.restore(stage.decisions.values(),
                  [("p-mia", raw("Mia", "Meyer")), ("p-lena", raw("Lena", "Schmidt")),
                   ("p-mia-2", raw("Mia", "Meier")), ("p-lina", raw("Lina", "Schmidt")),
                   ("p-unseen", raw("Tom", "Kraus"))],  # not decided yet: decided when read
                  [review])
    assert again.decisions == stage.decisions and again.rejected == stage.rejected
    assert again.index.child("p-mia-2") == "p-mia" and "p-unseen" not in again.index
    assert decided(again.on_encodings("p-unseen", raw("Tom", "Kraus"))).outcome is Outcome.NEW


def test_records_travel_as_bytes():
    d = LinkDecision("p1", Outcome.POSSIBLE, "p1", NOW, "p2", 15.1, ("birth_date",), "why")
    assert LinkDecision.from_bytes(d.to_bytes()) == d
    r = Review(Action.CONFIRM, "p1", "p2", "anna", NOW)
    assert Review.from_bytes(r.to_bytes()) == r and r.key == b"p1|p2"
    with pytest.raises(ValueError):
        LinkDecision.from_bytes(b'{"v": 9}')


def audited(records) -> list[dict]:
    found = [r for r in records if r.topic == "hub.audit"]
    for record in found:
        assert record.key == json.loads(record.value)["subject"].encode()
    return [json.loads(r.value) for r in found]


def test_links_and_possible_matches_are_audited_new_children_not(stage):
    assert audited(stage.on_encodings("p-tom", raw("Tom", "Kraus"))) == []
    (link,) = audited(stage.on_encodings("p-mia-2", raw("Mia", "Meier")))
    assert (link["subject"], link["decision"], link["reason_kind"], link["type"]) == (
        "p-mia-2", "linkage", "linked_automatically", "linkage.decision")
    assert link["reason_params"]["candidate"] == "p-mia"
    assert float(link["reason_params"]["score"]) > 16 and "given" in \
        link["reason_params"]["fields"]
    assert "requested_by" not in link and link["audit_version"] == 2
    (possible,) = audited(stage.on_encodings("p-lina", raw("Lina", "Schmidt")))
    assert possible["reason_kind"] == "possible_match"
    assert possible["reason_params"]["candidate"] == "p-lena"


@pytest.mark.parametrize("action, kind", [(Action.CONFIRM, "link_confirmed"),
                                          (Action.REJECT, "link_rejected")])
def test_the_trust_offices_decisions_are_audited_with_the_operator(stage, action, kind):
    stage.on_encodings("p-lina", raw("Lina", "Schmidt"))
    stage.clock.advance(minutes=5)
    records = stage.on_review(Review(action, "p-lina", "p-lena", "anna", NOW))
    (record,) = audited(records)
    assert (record["subject"], record["reason_kind"], record["requested_by"]) == (
        "p-lina", kind, "anna")
    assert record["reason_params"]["by"] == "anna"
    assert record["reason_params"]["candidate"] == "p-lena"
    assert record["event_time"] == NOW.isoformat()
    assert record["time"] == (NOW + timedelta(minutes=5)).isoformat()
    # carried out twice (after a crash): the same decision, the same ids
    again = LinkageStage(FixedClock(NOW))
    again.on_encodings("p-lena", raw("Lena", "Schmidt"))
    again.on_encodings("p-lina", raw("Lina", "Schmidt"))
    (twice,) = audited(again.on_review(Review(action, "p-lina", "p-lena", "anna", NOW)))
    assert (twice["audit_id"], twice["event_id"]) == (record["audit_id"], record["event_id"])


def test_an_unlink_is_audited(stage):
    stage.on_encodings("p-mia-2", raw("Mia", "Meier"))
    (record,) = audited(stage.on_review(Review(Action.UNLINK, "p-mia-2", "p-mia", "bob",
                                               NOW)))
    assert (record["reason_kind"], record["requested_by"]) == ("link_undone", "bob")


def test_the_possible_matches_pending_follow_every_change_of_a_decision():
    stage = LinkageStage(FixedClock(NOW))
    older = LinkDecision("p1", Outcome.POSSIBLE, "p1", NOW - timedelta(days=2), "p9", 15.0)
    newer = LinkDecision("p2", Outcome.POSSIBLE, "p2", NOW - timedelta(days=1), "p9", 15.0)
    stage.restore([newer, older, LinkDecision("p3", Outcome.NEW, "p3", NOW)], [], [])
    assert [d.pseudonym for d in stage.pending()] == ["p1", "p2"]
    stage.decisions["p1"] = LinkDecision("p1", Outcome.SAME, "p9", NOW, "p9", 15.0)
    assert [d.pseudonym for d in stage.pending()] == ["p2"]
    assert stage.oldest_pending_age(NOW) == 86400
    stage.decisions.pop("p2")
    assert stage.pending() == [] and stage.oldest_pending_age(NOW) == 0.0
    stage.reset()
    assert stage.pending() == [] and not stage.decisions
