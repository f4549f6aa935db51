"""The codec: Avro single-object encoding of envelopes, and clear errors for anything else."""

from __future__ import annotations

import io
import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from hub.contract.codec import MAGIC, EnvelopeCodec, envelope_to_json, get_codec
from hub.contract.models import OfferAccepted
from hub.contract.schemas import EnvelopeSchema, list_releases, load_envelope_schema
from hub.contract.vocabulary import EventType, TimePrecision
from hub.errors import DecodeError, SchemaError
from hub.paths import SCHEMAS_DIR

from .examples import example_envelope
from .schema_edits import edit_schema

LEGACY_FIELD = {"name": "legacy_note", "type": ["null", "string"], "default": None, "doc": "Old."}
RELEASE_1 = SCHEMAS_DIR / "released" / "1"


def raw_message(schema: EnvelopeSchema, **overrides: Any) -> bytes:
    """A message written with plain fastavro, as a producer in any language could write it."""
    record: dict[str, Any] = {
        "id": "5b0e6c4e-3f1d-5a43-9a42-3c1e0f7b2d11",
        "type": "offer_accepted",
        "source": "jugendamt-kamen",
        "time": datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        "subject": "9f86d081",
        "key_id": "pseudo-2025-01",
        "municipality": "kamen",
        "life_phase": "kita",
        "purpose": "fruehe_hilfen",
        "recipient": None,
        "correlation_id": None,
        "schema_version": 1,
        "payload": ("unna.hub.OfferAccepted", {"offer_category": "Familienhebamme"}),
    }
    record.update(overrides)
    body = io.BytesIO(MAGIC + schema.fingerprint)
    body.seek(0, io.SEEK_END)
    schemaless_writer(body, schema.parsed, record)
    return body.getvalue()


@pytest.mark.parametrize("with_optional", [False, True], ids=["minimal", "all-fields"])
@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_survives_a_round_trip(event_type: EventType, with_optional: bool) -> None:
    envelope = example_envelope(event_type, with_optional=with_optional)
    codec = get_codec()

    decoded = codec.decode(codec.encode(envelope))

    assert decoded == envelope
    assert type(decoded.payload) is type(envelope.payload)


def test_offer_accepted_is_not_decoded_as_another_offer_type() -> None:
    codec = get_codec()

    decoded = codec.decode(codec.encode(example_envelope(EventType.OFFER_ACCEPTED)))

    assert decoded.type is EventType.OFFER_ACCEPTED
    assert type(decoded.payload) is OfferAccepted


def test_message_is_single_object_encoded_with_the_schema_fingerprint() -> None:
    codec = get_codec()

    message = codec.encode(example_envelope())

    assert message[:2] == b"\xc3\x01"
    assert message[2:10] == load_envelope_schema().fingerprint


def readme_example() -> dict[str, Any]:
    """The namespace of the documented plain-fastavro example in ``schemas/README.md``."""
    readme = (SCHEMAS_DIR / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(example.group(1), namespace)  # the documented example, unchanged
    return namespace


def test_readme_example_decodes_with_plain_fastavro_and_the_schema_files() -> None:
    example = readme_example()
    envelope = example_envelope(EventType.HANDOVER_STALLED, with_optional=True)

    reader = example["load_envelope_schema"](SCHEMAS_DIR)
    writers = example["load_writer_schemas"](SCHEMAS_DIR)
    event = example["decode"](get_codec().encode(envelope), reader, writers)

    assert event["type"] == "handover.stalled"
    assert event["subject"] == envelope.subject
    assert event["time"] == envelope.time
    assert event["payload"] == (
        "unna.hub.HandoverStalled",
        {
            "handover_id": "UE-7781",
            "requested_by": "jugendamt-kamen",
            "waiting_for": "answer",
            "deadline": datetime(2025, 3, 17, 23, 0, tzinfo=UTC),
        },
    )


def test_readme_example_reads_every_release_and_refuses_unknown_ones() -> None:
    example = readme_example()
    reader = example["load_envelope_schema"](SCHEMAS_DIR)
    writers = example["load_writer_schemas"](SCHEMAS_DIR)
    message = raw_message(load_envelope_schema(RELEASE_1))

    event = example["decode"](message, reader, writers)

    assert sorted(fingerprint.hex() for fingerprint in writers) == get_codec().known_fingerprints
    assert event["type"] == "offer.accepted"
    assert event["payload"] == ("unna.hub.OfferAccepted", {"offer_category": "Familienhebamme"})
    with pytest.raises(ValueError, match="written with an unknown"):
        example["decode"](message, reader, {})


def test_get_codec_returns_one_shared_instance() -> None:
    assert get_codec() is get_codec()


def test_envelope_to_json_gives_dotted_type_and_iso_dates() -> None:
    envelope = example_envelope(EventType.CONSENT_REVOKED, with_optional=True)

    event = json.loads(json.dumps(envelope_to_json(envelope)))

    assert event["type"] == "consent.revoked"
    assert event["time"] == "2025-03-03T09:00:00.125000Z"
    assert event["recipient"] == "gesundheitsamt-unna"
    assert event["payload"]["valid_from"] == "2025-03-01"
    assert event["payload"]["valid_to"] == "2026-02-28"
    assert event["payload"]["recipients"] == ["gesundheitsamt-unna", "kita-traeger-kamen"]


def test_a_message_written_with_release_1_decodes_with_the_current_codec() -> None:
    release_1 = load_envelope_schema(RELEASE_1)
    assert release_1.fingerprint != get_codec().current.fingerprint  # an older writer schema
    message = raw_message(
        release_1,
        type="handover_stalled",
        recipient="gesundheitsamt-unna",
        payload=(
            "unna.hub.HandoverStalled",
            {
                "handover_id": "UE-7781",
                "requested_by": "jugendamt-kamen",
                "waiting_for": "answer",
                "deadline": datetime(2025, 3, 17, 23, 0, tzinfo=UTC),
            },
        ),
    )

    decoded = get_codec().decode(message)

    assert decoded.type is EventType.HANDOVER_STALLED
    assert decoded.recipient == "gesundheitsamt-unna"
    assert decoded.schema_version == 1
    assert decoded.payload.model_dump()["handover_id"] == "UE-7781"


def test_the_codec_knows_the_current_schema_and_every_release() -> None:
    releases = [load_envelope_schema(release.directory) for release in list_releases()]

    assert len(releases) >= 2
    assert get_codec().known_fingerprints == sorted(
        {schema.fingerprint.hex() for schema in [*releases, get_codec().current]}
    )


def test_a_reader_on_release_1_refuses_a_subject_erased_message() -> None:
    release_1 = load_envelope_schema(RELEASE_1)
    old_reader = EnvelopeCodec(release_1)
    message = get_codec().encode(example_envelope(EventType.SUBJECT_ERASED))

    with pytest.raises(DecodeError) as exc:
        old_reader.decode(message)

    assert exc.value.reason == (
        f"unknown writer schema fingerprint {get_codec().current.fingerprint.hex()}: written "
        f"with a schema this reader does not know (a newer release? upgrade the reader); "
        f"known: {release_1.fingerprint.hex()}"
    )


def test_messages_of_an_older_release_are_resolved_against_the_current_schema(
    schemas_dir: Path,
) -> None:
    edit_schema(
        schemas_dir / "released/1",
        "payloads/offer_made.avsc",
        lambda s: s["fields"].append(LEGACY_FIELD),
    )
    release_1 = load_envelope_schema(schemas_dir / "released/1")
    message = raw_message(
        release_1,
        type="offer_made",
        payload=("unna.hub.OfferMade", {"offer_category": "Kita-Platz", "legacy_note": "x"}),
    )

    decoded = EnvelopeCodec.from_directory(schemas_dir).decode(message)

    assert decoded.type is EventType.OFFER_MADE
    assert decoded.payload.model_dump() == {"offer_category": "Kita-Platz"}
    with pytest.raises(
        DecodeError, match=f"unknown writer schema fingerprint {release_1.fingerprint.hex()}"
    ):
        EnvelopeCodec(load_envelope_schema(schemas_dir)).decode(message)


def test_a_codec_is_not_built_from_a_badly_named_release(schemas_dir: Path) -> None:
    (schemas_dir / "released/2").rename(schemas_dir / "released/v2")

    with pytest.raises(SchemaError, match="must be named by its release number"):
        EnvelopeCodec.from_directory(schemas_dir)


def _valid_message() -> bytes:
    return get_codec().encode(example_envelope())


BAD_MESSAGES: dict[str, tuple[Any, str]] = {
    "empty": (b"", "empty message"),
    "tombstone": (None, "empty message"),
    "json": (b'{"type": "offer.accepted"}', "not Avro single-object encoding (got JSON?)"),
    "other bytes": (b"\x00\x01\x02", "not Avro single-object encoding: starts with 00 01"),
    "header cut short": (MAGIC + b"\x01\x02", "message too short: 4 bytes"),
    "unknown fingerprint": (
        MAGIC + bytes.fromhex("0102030405060708") + b"\x00",
        "unknown writer schema fingerprint 0102030405060708",
    ),
}


@pytest.mark.parametrize("data,reason", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_header_gives_a_clear_reason(data: Any, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        get_codec().decode(data)

    assert exc.value.reason.startswith(reason)


def test_truncated_body_is_reported() -> None:
    with pytest.raises(DecodeError, match="^truncated Avro body"):
        get_codec().decode(_valid_message()[:-3])


def test_trailing_bytes_are_reported() -> None:
    with pytest.raises(DecodeError, match="^corrupt Avro body: 2 bytes left after the event"):
        get_codec().decode(_valid_message() + b"\x00\x00")


def test_body_that_fails_validation_names_every_problem() -> None:
    message = raw_message(get_codec().current, subject="NOT-HEX", source="")

    with pytest.raises(DecodeError) as exc:
        get_codec().decode(message)

    assert exc.value.reason.startswith("event fails validation: ")
    assert "source: String should match pattern" in exc.value.reason
    assert "subject: String should match pattern" in exc.value.reason


def test_payload_record_that_contradicts_the_type_is_rejected() -> None:
    message = raw_message(get_codec().current, type="offer_made")

    with pytest.raises(DecodeError) as exc:
        get_codec().decode(message)

    assert exc.value.reason == (
        "payload record unna.hub.OfferAccepted does not match type offer.made "
        "(expected unna.hub.OfferMade)"
    )


def _decode_or_decode_error(data: bytes) -> None:
    try:
        get_codec().decode(data)
    except DecodeError as exc:
        assert exc.reason


def test_fuzz_random_bytes_only_ever_raise_decode_error() -> None:
    rng = random.Random(20250303)
    header = MAGIC + get_codec().current.fingerprint
    for _ in range(3000):
        noise = rng.randbytes(rng.randrange(0, 120))
        _decode_or_decode_error(noise)
        _decode_or_decode_error(header + noise)


def test_fuzz_truncated_and_mutated_messages_only_ever_raise_decode_error() -> None:
    rng = random.Random(7)
    codec = get_codec()
    for event_type in EventType:
        message = codec.encode(example_envelope(event_type, with_optional=True))
        for length in range(len(message)):
            _decode_or_decode_error(message[:length])
        for _ in range(300):
            mutated = bytearray(message)
            mutated[rng.randrange(10, len(message))] = rng.randrange(256)
            _decode_or_decode_error(bytes(mutated))


# ------------------------------------------------------------ release 3: time_precision
RELEASE_2 = SCHEMAS_DIR / "released" / "2"
RELEASE_3 = SCHEMAS_DIR / "released" / "3"
DAY = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize("release", [RELEASE_1, RELEASE_2], ids=["release-1", "release-2"])
def test_a_message_without_time_precision_reads_as_an_instant(release: Path) -> None:
    decoded = get_codec().decode(raw_message(load_envelope_schema(release), time=DAY))

    assert decoded.time_precision is TimePrecision.INSTANT
    assert decoded.time == DAY


def test_a_date_only_event_survives_a_round_trip() -> None:
    envelope = example_envelope(time=DAY, time_precision=TimePrecision.DATE)

    decoded = get_codec().decode(get_codec().encode(envelope))

    assert decoded == envelope
    assert envelope_to_json(decoded)["time_precision"] == "date"


def test_a_release_2_schema_resolves_a_release_3_message_once_it_knows_the_fingerprint() -> None:
    """Forward compatible: the field has a default, so a consumer on release 2 that loaded
    ``released/3/`` reads the message and skips the field; without ``released/3/`` the
    fingerprint is unknown to it (CHANGES.md: upgrade the consumers first)."""
    release_2, release_3 = load_envelope_schema(RELEASE_2), load_envelope_schema(RELEASE_3)
    assert release_3.fingerprint == get_codec().current.fingerprint
    message = get_codec().encode(example_envelope(time=DAY, time_precision="date"))

    body = io.BytesIO(message[10:])
    record = schemaless_reader(body, release_3.parsed, release_2.parsed,
                               return_record_name=True)

    assert "time_precision" not in record and record["time"] == DAY
    with pytest.raises(DecodeError, match="unknown writer schema fingerprint"):
        EnvelopeCodec(release_2).decode(message)
