"""Erasure on request, in the router engine (no Kafka): what it forgets, whom it tells."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.clock import FixedClock
from hub.contract.codec import get_codec
from hub.routing.erasure import REQUESTS_TOPIC, ErasureRequest, decode_request
from hub.routing.messages import Erasure, Incoming
from tests.exports import (
    CONSENT_COLUMNS,
    SCHOOL_COLUMNS,
    consent_row,
    school_row,
    write_export,
    youth_office_row,
)
from tests.hub.test_engine import by_topic, feed, new_engine

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def child_history(engine, tmp_path, key):
    """Two consents, a handover the school accepted, and an event held (no consent names
    the health office yet); returns the outputs."""
    grants = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv", [
        consent_row(), consent_row(**{"Einwilligungs-ID": "EW-2",
                                      "Empfaenger": "kita-kamen-regenbogen"})],
        columns=CONSENT_COLUMNS)
    requested = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(),
        youth_office_row(**{"Vorgangsnummer": "JA-KAM-2026-0002", "Uebergabe-ID": "UE-9",
                            "Zielstelle": "gesundheitsamt-kreis-unna"})])
    accepted = write_export(tmp_path / "grundschule-kamen-mitte_export.csv", [school_row()],
                            columns=SCHOOL_COLUMNS)
    return feed(engine, [grants, requested, accepted], key)


def inbox_records(outputs):
    return [(out.topic.split(".")[1], out.value) for out in outputs
            if out.topic.endswith(".inbox")]


def erase(engine, subject, inbox, reference="VS-2026/0042", offset=100):
    request = ErasureRequest.new(subject, reference, NOW, "trust-office")
    outputs = engine.handle(Erasure(Incoming(REQUESTS_TOPIC, 0, offset, request.encode(),
                                             subject.encode()), inbox))
    return request, outputs


def state_text(engine) -> str:
    stores = engine.stores
    tables = [stores.consents.table, stores.held.table, stores.served.table,
              stores.handovers.handovers, stores.handovers.families]
    return json.dumps([dict(t) for t in tables])


def test_an_erasure_forgets_the_child_and_tells_every_agency_that_received_events(
        pseudonym_key, tmp_path):
    engine = new_engine(FixedClock(NOW))
    before = child_history(engine, tmp_path, pseudonym_key)
    inbox = inbox_records(before)
    subject = get_codec().decode(inbox[0][1]).subject
    assert {recipient for recipient, _ in inbox} == {"grundschule-kamen-mitte",
                                                     "jugendamt-kamen"}
    assert engine.held_count() == 1 and subject in state_text(engine)

    request, outputs = erase(engine, subject, inbox)

    assert subject not in state_text(engine)
    assert engine.held_count() == 0
    for recipient, raw in inbox:  # what they had is forgotten: a new history starts afresh
        assert not engine.stores.delivered.has(recipient, get_codec().decode(raw).id, NOW)
    ledger = [out for out in outputs if out.topic == "hub.consent"]
    assert sorted(out.key for out in ledger) == [f"{subject}|EW-1".encode(),
                                                 f"{subject}|EW-2".encode()]
    assert all(out.value is None for out in ledger)  # tombstones
    inboxes, audit = by_topic(outputs)
    assert set(inboxes) == {"agency.grundschule-kamen-mitte.inbox",
                            "agency.jugendamt-kamen.inbox"}
    for topic, (notice,) in inboxes.items():
        assert notice["type"] == "subject.erased" and notice["source"] == "hub"
        assert notice["subject"] == subject and notice["recipient"] == topic.split(".")[1]
        assert notice["payload"] == {"reference": "VS-2026/0042"}
    erased = [r for r in audit if r["decision"] == "erased"]
    summary = [r for r in erased if r["event_id"] == request.id]
    assert len(summary) == 1 and "VS-2026/0042" in summary[0]["reason"]
    assert "2 consent(s), 1 held event(s), 2 handover(s)" in summary[0]["reason"]
    assert summary[0]["sender"] == "hub" and summary[0]["requested_by"] == "trust-office"
    held = [r for r in erased if r["event_id"] != request.id]
    assert len(held) == 1 and held[0]["type"] == "handover.requested"
    notices = [r for r in audit if r["decision"] == "delivered"]
    assert len(notices) == 2 and all("erasure notice" in r["reason"] for r in notices)
    (marker,) = [out for out in outputs if out.topic == "hub.facts"]
    fact = json.loads(marker.value)
    assert fact["kind"] == "erasure" and fact["subject"] == subject
    assert len(fact["token"]) == 32 and fact["token"] != subject


def test_the_same_request_again_sends_no_second_notice(pseudonym_key, tmp_path):
    engine = new_engine(FixedClock(NOW))
    inbox = inbox_records(child_history(engine, tmp_path, pseudonym_key))
    subject = get_codec().decode(inbox[0][1]).subject
    request, outputs = erase(engine, subject, inbox)
    notices = inbox_records(outputs)
    # read again: the notices are in the inboxes now
    again = engine.handle(Erasure(Incoming(REQUESTS_TOPIC, 0, 100, request.encode(),
                                           subject.encode()), inbox + notices))
    assert inbox_records(again) == []


def test_later_events_of_an_erased_child_are_routed_as_for_a_new_child(pseudonym_key,
                                                                       tmp_path):
    engine = new_engine(FixedClock(NOW))
    first = child_history(engine, tmp_path, pseudonym_key)
    inbox = inbox_records(first)
    subject = get_codec().decode(inbox[0][1]).subject
    erase(engine, subject, inbox)
    again = tmp_path / "again"
    again.mkdir()
    # without a consent, the request is held, as for a child the hub never saw
    requested = write_export(again / "jugendamt-kamen_export.csv", [youth_office_row()])
    inboxes, audit = by_topic(feed(engine, [requested], pseudonym_key, offset=200))
    assert inboxes == {} and [r["decision"] for r in audit] == ["held"]
    grants = write_export(again / "einwilligungen_jugendamt-kamen.csv", [consent_row()],
                          columns=CONSENT_COLUMNS)
    inboxes, _ = by_topic(feed(engine, [grants], pseudonym_key, offset=300))
    (delivered,) = inboxes["agency.grundschule-kamen-mitte.inbox"]
    assert delivered["type"] == "handover.requested" and delivered["subject"] == subject


def test_an_agency_cannot_send_an_erasure_notice(pseudonym_key, tmp_path):
    from hub.contract.vocabulary import EventType
    from tests.contract.examples import example_envelope

    engine = new_engine(FixedClock(NOW))
    forged = example_envelope(EventType.SUBJECT_ERASED, source="jugendamt-kamen",
                              recipient="grundschule-kamen-mitte")
    (letter,) = engine.handle(Incoming("agency.jugendamt-kamen.outbox", 0, 1,
                                        get_codec().encode(forged)))
    assert letter.topic == "hub.dlq"
    assert "sent by the hub only" in json.loads(letter.value)["reasons"][0]


@pytest.mark.parametrize("value, reason", [
    (b"erase me", "not a JSON request"),
    (b'{"request": "erase", "id": "x", "subject": "ABC", "reference": "VS-1", '
     b'"requested_at": "2026-11-24T12:00:00+00:00"}', "subject 'ABC'"),
])
def test_a_bad_request_is_a_dead_letter_with_its_reason(value, reason):
    engine = new_engine(FixedClock(NOW))
    (letter,) = engine.handle(Erasure(Incoming(REQUESTS_TOPIC, 2, 5, value, b"abc"), []))
    assert letter.topic == "hub.dlq"
    assert reason in json.loads(letter.value)["reasons"][0]
    assert engine.take_counts()[("erasures", (("outcome", "invalid"),))] == 1


def test_a_request_keyed_by_another_pseudonym_is_refused():
    engine = new_engine(FixedClock(NOW))
    request = ErasureRequest.new("abc", "VS-1", NOW)
    (letter,) = engine.handle(Erasure(Incoming(REQUESTS_TOPIC, 2, 5, request.encode(), b"def"),
                                      []))
    assert "keyed by another pseudonym" in json.loads(letter.value)["reasons"][0]


def test_requests_round_trip_and_explain_bad_input():
    request = ErasureRequest.new("abc123", "VS-2026/0042", NOW - timedelta(hours=1), "ops")
    assert decode_request(request.encode()) == request
    with pytest.raises(ValueError, match="case number"):
        ErasureRequest.new("abc123", "", NOW)
    with pytest.raises(ValueError, match="lowercase hex"):
        ErasureRequest.new("Max Mustermann", "VS-1", NOW)
