"""Validation rules of the contract models, as a producer building events experiences them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from hub.contract.models import (
    PAYLOAD_MODELS,
    ConsentGranted,
    OfferAccepted,
    OfferMade,
    event_day,
    is_date_only,
)
from hub.contract.vocabulary import (
    EventType,
    TimePrecision,
    event_type_from_symbol,
    event_type_symbol,
)

from .examples import example_envelope, example_payload


def error_locations(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(part) for part in error["loc"]) for error in exc.value.errors()}


@pytest.mark.parametrize("event_type", list(EventType))
def test_dict_payload_becomes_the_model_its_type_names(event_type: EventType) -> None:
    envelope = example_envelope(event_type, with_optional=True)

    assert type(envelope.payload) is PAYLOAD_MODELS[event_type]


def test_offer_payloads_with_identical_fields_are_not_confused() -> None:
    envelope = example_envelope(EventType.OFFER_ACCEPTED, payload={"offer_category": "Kita-Platz"})

    assert type(envelope.payload) is OfferAccepted


def test_payload_model_of_another_type_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        example_envelope(EventType.OFFER_ACCEPTED, payload=OfferMade(offer_category="Kita-Platz"))

    assert "payload is OfferMade, but type offer.accepted needs OfferAccepted" in str(exc.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ValidationError) as exc:
        example_envelope(
            EventType.CONSENT_GRANTED,
            id="not-a-uuid",
            source="Jugendamt Kamen",
            subject="9F86D0",
            municipality="dortmund",
            payload={"consent_id": "", "recipients": [], "valid_from": "2025-03-01"},
        )

    assert error_locations(exc) == {
        "id",
        "source",
        "subject",
        "municipality",
        "payload.consent_id",
        "payload.recipients",
        "payload.recorded_at",
    }


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        example_envelope(time=datetime(2025, 3, 3, 10, 0))

    assert "timezone-aware" in str(exc.value)


def test_timestamps_are_normalised_to_utc_milliseconds() -> None:
    berlin_winter = timezone(timedelta(hours=1))

    envelope = example_envelope(time=datetime(2025, 3, 3, 10, 0, 0, 123456, tzinfo=berlin_winter))

    assert envelope.time == datetime(2025, 3, 3, 9, 0, 0, 123000, tzinfo=UTC)
    assert envelope.time.tzinfo is UTC


def test_consent_validity_must_not_end_before_it_starts() -> None:
    payload = example_payload(EventType.CONSENT_GRANTED, with_optional=False)

    with pytest.raises(ValidationError) as exc:
        ConsentGranted(**payload, valid_to=date(2025, 2, 1))

    assert "valid_to 2025-02-01 is before valid_from 2025-03-01" in str(exc.value)


def test_models_are_frozen() -> None:
    envelope = example_envelope()

    with pytest.raises(ValidationError):
        envelope.subject = "00"  # type: ignore[misc]


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        example_envelope(child_name="Max Mustermann")

    assert error_locations(exc) == {"child_name"}


@pytest.mark.parametrize("event_type", list(EventType))
def test_event_type_symbols_map_both_ways(event_type: EventType) -> None:
    symbol = event_type_symbol(event_type)

    assert "." not in symbol
    assert event_type_from_symbol(symbol) is event_type


def test_unknown_event_type_symbol_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown event type symbol 'consent_lost'"):
        event_type_from_symbol("consent_lost")


def test_an_event_is_an_instant_unless_its_producer_says_it_knows_only_the_day() -> None:
    assert example_envelope().time_precision is TimePrecision.INSTANT
    day = example_envelope(time=datetime(2026, 7, 1, tzinfo=UTC), time_precision="date")

    assert day.time_precision is TimePrecision.DATE
    assert is_date_only(day) and event_day(day) == date(2026, 7, 1)
    assert is_date_only(day, datetime(2026, 7, 1, tzinfo=UTC))
    assert not is_date_only(day, datetime(2026, 7, 1, 9, tzinfo=UTC))
    assert not is_date_only(example_envelope(time=datetime(2026, 7, 1, tzinfo=UTC)))


@pytest.mark.parametrize("time", [
    datetime(2026, 7, 1, 9, 0, tzinfo=UTC),
    datetime(2026, 7, 1, 0, 0, 0, 1000, tzinfo=UTC),
    datetime(2026, 7, 1, tzinfo=timezone(timedelta(hours=2))),  # midnight in Berlin, not UTC
], ids=["morning", "one-millisecond", "local-midnight"])
def test_a_date_only_event_has_midnight_utc_as_its_time(time: datetime) -> None:
    with pytest.raises(ValidationError, match="time_precision date needs time at midnight UTC"):
        example_envelope(time=time, time_precision="date")


def test_an_event_id_is_accepted_exactly_when_it_is_the_canonical_uuid_text():
    import random
    import uuid

    from hub.contract.models import _require_canonical_uuid

    rng = random.Random(5)
    for _ in range(2000):
        text = str(uuid.UUID(int=rng.getrandbits(128)))
        assert _require_canonical_uuid(text) == text
    text = str(uuid.UUID(int=rng.getrandbits(128)))
    for other, says in [(text.upper(), "canonical lowercase"),
                        ("{" + text + "}", "canonical lowercase"),
                        (text.replace("-", ""), "canonical lowercase"),
                        ("urn:uuid:" + text, "canonical lowercase"),
                        (text + "\n", "UUID in text form"),
                        (text[:-1] + "g", "UUID in text form"),
                        ("", "UUID in text form")]:
        with pytest.raises(ValueError, match=says):
            _require_canonical_uuid(other)
