"""Facts are typed records with one codec: what ``hub.facts`` already holds still reads, and
reads back to the same bytes (no broker)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.analytics.facts import (
    ErasureMarker,
    EventFact,
    HandoverFact,
    Outcome,
    decode_fact,
    encode_fact,
    erasure_marker,
    fact_key,
)

# written by the router before facts were typed (JSON, sorted keys, no spaces)
EVENT = (b'{"id":"0210678a-1c07-5f21-aa08-977ab8dbc55b","kind":"event","life_phase":"kita",'
         b'"municipality":"kamen","offer_category":"Familienhebamme","outcome":'
         b'"refused_no_consent","source":"jugendamt-kamen","source_kind":"youth_office",'
         b'"source_municipality":"kamen","subject":"' + b"ab" * 32 + b'",'
         b'"time":"2026-11-16T09:00:00+00:00","type":"offer.accepted"}')
HANDOVER = (b'{"answer":"accepted","answered_at":"2026-11-18T10:30:00+00:00","bounce":false,'
            b'"completed_at":null,"id":"UE-1","kind":"handover","municipality":"werne",'
            b'"ping_pong":true,"recipient":"grundschule-kamen-mitte","recipient_kind":'
            b'"school","requested_at":"2026-11-16T09:00:00+00:00","requester":'
            b'"kita-kamen-regenbogen","requester_kind":"daycare","stalled":["answer"],'
            b'"subject":"' + b"cd" * 32 + b'"}')
UNREQUESTED = (b'{"answer":"declined","answered_at":"2026-11-18T10:30:00+01:00",'
               b'"bounce":false,"completed_at":null,"id":"UE-2","kind":"handover",'
               b'"municipality":"unna","ping_pong":false,"recipient":null,"recipient_kind":'
               b'"unknown","requested_at":null,"requester":null,"requester_kind":"unknown",'
               b'"stalled":[],"subject":"' + b"ef" * 32 + b'"}')
MARKER = (b'{"id":"er-1","kind":"erasure","subject":"' + b"ab" * 32 +
          b'","token":"0123456789abcdef0123456789abcdef"}')


def test_an_event_fact_written_in_todays_format_decodes():
    fact = decode_fact(EVENT)
    assert fact == EventFact(
        id="0210678a-1c07-5f21-aa08-977ab8dbc55b", subject="ab" * 32,
        time=datetime(2026, 11, 16, 9, tzinfo=UTC), municipality="kamen", life_phase="kita",
        type="offer.accepted", offer_category="Familienhebamme", source="jugendamt-kamen",
        source_kind="youth_office", source_municipality="kamen",
        outcome=Outcome.REFUSED_NO_CONSENT)
    assert fact.outcome is Outcome.REFUSED_NO_CONSENT
    assert fact_key(fact) == b"event|0210678a-1c07-5f21-aa08-977ab8dbc55b"


def test_a_handover_fact_written_in_todays_format_decodes():
    fact = decode_fact(HANDOVER)
    assert isinstance(fact, HandoverFact) and fact_key(fact) == b"handover|UE-1"
    assert (fact.requester_kind, fact.recipient_kind, fact.answer) == \
        ("daycare", "school", "accepted")
    assert fact.requested_at == datetime(2026, 11, 16, 9, tzinfo=UTC)
    assert fact.answered_at == datetime(2026, 11, 18, 10, 30, tzinfo=UTC)
    assert (fact.completed_at, fact.stalled, fact.bounce, fact.ping_pong) == \
        (None, ("answer",), False, True)
    unrequested = decode_fact(UNREQUESTED)
    assert (unrequested.requested_at, unrequested.requester, unrequested.recipient) == \
        (None, None, None)


def test_an_erasure_marker_decodes_and_keeps_its_pseudonym_out_of_its_repr():
    marker = decode_fact(MARKER)
    assert isinstance(marker, ErasureMarker) and marker.key == b"erasure|er-1"
    assert "ab" * 32 not in repr(marker)
    assert erasure_marker("er-1", "ab" * 32, "0123456789abcdef" * 2) == (marker.key, MARKER)


@pytest.mark.parametrize("written", [EVENT, HANDOVER, UNREQUESTED, MARKER])
def test_a_fact_reads_back_to_the_same_bytes(written):
    assert encode_fact(decode_fact(written)) == written


@pytest.mark.parametrize("place", ["kamen", "bönen", "del\x7f", "tab\there", 'q"\\'])
def test_a_fact_is_written_as_the_standard_library_writes_it(place):
    import json

    fact = decode_fact(HANDOVER)
    fact = HandoverFact(**{**fact.__dict__, "municipality": place, "requester": place})
    written = encode_fact(fact)
    assert written == json.dumps(fact.to_json(), sort_keys=True,
                                 separators=(",", ":")).encode()
    assert json.loads(written) == fact.to_json()


def test_the_optional_fields_of_older_facts_may_be_absent():
    event = decode_fact(EVENT.replace(b'"offer_category":"Familienhebamme",', b""))
    assert event.offer_category is None
    handover = decode_fact(b'{"id":"UE-3","kind":"handover","municipality":"werne",'
                           b'"subject":"x"}')
    assert (handover.requester_kind, handover.stalled, handover.bounce, handover.answer) == \
        ("unknown", (), False, None)


@pytest.mark.parametrize("broken", [
    None, b"", b"not json", b"[]", b'{"kind":"other","id":"x"}', b'{"kind":["event"]}',
    EVENT.replace(b'"outcome":"refused_no_consent"', b'"outcome":"maybe"'),
    EVENT.replace(b"+00:00", b""),
    EVENT.replace(b'"type":"offer.accepted"', b'"type":""'),
    HANDOVER.replace(b'"bounce":false', b'"bounce":0'),
    HANDOVER.replace(b'"stalled":["answer"]', b'"stalled":[1]'),
    HANDOVER.replace(b'"requester":"kita-kamen-regenbogen"', b'"requester":7'),
    MARKER.replace(b'"token":"0123456789abcdef0123456789abcdef"', b'"token":5'),
])
def test_a_record_that_is_no_fact_decodes_to_none(broken):
    assert decode_fact(broken) is None
