"""The webhook body says when only the day of an event is known (``time_precision``)."""

import json
from datetime import UTC, datetime

import pytest

from connectors.delivery.webhook import event_body
from connectors.envelopes import EventFacts, Person, build_envelope
from hub.agencies import load_agencies
from hub.contract.codec import get_codec
from hub.contract.vocabulary import EventType
from tests.contract.examples import example_envelope
from tests.delivery.test_csvfile import old_release_message


def test_an_export_rows_body_says_it_is_a_date(pseudonym_key):
    facts = EventFacts(agency_id="jugendamt-kamen", record_id="JA-1",
                       event_type="handover.requested", on=datetime(2026, 7, 1).date(),
                       person=Person("Tom", "Beispiel", datetime(2020, 9, 2).date()),
                       municipality="kamen", purpose="uebergang_kita_schule",
                       recipient="grundschule-kamen-mitte", handover_id="UE-1")
    body = json.loads(event_body(build_envelope(facts, pseudonym_key, load_agencies())))
    assert body["time_precision"] == "date"
    assert body["time"] == "2026-07-01T00:00:00Z"  # midnight UTC of the day, no time of day
    assert body["schema_version"] == 3
    # nothing in the body is a local time of day that a receiver could show as 02:00
    assert not [key for key, value in body.items()
                if isinstance(value, str) and value.endswith("02:00:00")]


def test_a_hub_notice_body_is_an_instant():
    notice = example_envelope(EventType.HANDOVER_STALLED, source="hub",
                              time=datetime(2026, 7, 1, 0, 0, tzinfo=UTC))
    body = json.loads(event_body(notice))
    assert (body["time"], body["time_precision"]) == ("2026-07-01T00:00:00Z", "instant")


@pytest.mark.parametrize("release", [1, 2])
def test_the_body_of_an_earlier_release_is_as_before_plus_the_default(release):
    written = example_envelope(EventType.HANDOVER_REQUESTED, with_optional=True)
    body = json.loads(event_body(get_codec().decode(old_release_message(release, written))))
    before = json.loads(event_body(written))
    before["schema_version"] = release
    assert body == before
    assert body["time_precision"] == "instant"
    assert body["time"] == "2025-03-03T09:00:00.125000Z"
