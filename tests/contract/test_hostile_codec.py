"""Hostile messages, generated: ``EnvelopeCodec.decode`` returns a valid envelope or raises
:class:`~hub.errors.DecodeError` with a short reason, for any bytes at all; it never raises
anything else (the worker, ``hub tail`` and ``hub deliver`` dead-letter on DecodeError and
would stop on any other exception)."""

from __future__ import annotations

import io

import pytest
from fastavro import schemaless_writer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hub.contract.codec import HEADER_SIZE, MAGIC, get_codec, peek_event_id
from hub.contract.models import Envelope
from hub.contract.schemas import list_releases, load_envelope_schema
from hub.contract.vocabulary import EventType
from hub.errors import DecodeError
from hub.paths import SCHEMAS_DIR

from .examples import example_envelope
from .strategies import avro_values, envelopes

CODEC = get_codec()
SCHEMAS = {"current": CODEC.current,
           **{f"release {release.number}": load_envelope_schema(release.directory)
              for release in list_releases(SCHEMAS_DIR)}}
HEADERS = [MAGIC + schema.fingerprint for schema in SCHEMAS.values()]
MAX_REASON = 1000

FEW = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode(data: bytes) -> Envelope | None:
    """The envelope, or None after a DecodeError with a short reason; any other exception
    fails the test."""
    try:
        envelope = CODEC.decode(data)
    except DecodeError as exc:
        assert isinstance(exc.reason, str) and exc.reason.strip()
        assert len(exc.reason) < MAX_REASON, exc.reason[:200]
        return None
    assert isinstance(envelope, Envelope)
    assert CODEC.decode(CODEC.encode(envelope)) == envelope  # whatever decodes is valid
    return envelope


@FEW
@given(st.binary(max_size=512))
@example(b"")
@example(b"\x00")
@example(MAGIC)
@example(MAGIC[:1])
@example(HEADERS[0])
@example(HEADERS[0][:-1])
@example(b'{"id": "x", "type": "offer.made"}')
@example(b"  [1, 2]")
@example(b"\xef\xbb\xbf{}")
@example(bytes(range(256)))
@example(b"\xc3\x01" + b"\xff" * 8)
def test_any_bytes(data):
    decode(data)
    assert peek_event_id(data) is None or isinstance(peek_event_id(data), str)


@FEW
@given(header=st.sampled_from(HEADERS), body=st.binary(max_size=512))
@example(header=HEADERS[0], body=b"")
@example(header=HEADERS[0], body=b"\xff" * 64)  # a varint that never ends
@example(header=HEADERS[0], body=b"\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01")  # huge length
@example(header=HEADERS[0], body=b"\x01")  # negative length
@example(header=HEADERS[0], body=b"\x00" * 512)
def test_any_body_after_a_known_header(header, body):
    decode(header + body)
    peek_event_id(header + body)


@st.composite
def mutated(draw) -> bytes:
    """A valid message, then cut, extended, overwritten or with bytes flipped."""
    message = bytearray(CODEC.encode(draw(envelopes())))
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["cut", "insert", "overwrite", "flip", "delete"]))
        at = draw(st.integers(0, len(message)))
        if how == "cut":
            del message[at:]
        elif how == "insert":
            message[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif how == "delete":
            del message[at:at + draw(st.integers(1, 16))]
        elif at < len(message):
            message[at] = (draw(st.integers(0, 255)) if how == "overwrite"
                           else message[at] ^ (1 << draw(st.integers(0, 7))))
    return bytes(message)


@FEW
@given(mutated())
def test_mutated_messages(data):
    decode(data)
    peek_event_id(data)


@pytest.mark.parametrize("schema", SCHEMAS)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_record_the_schema_allows(schema, data):
    """Well-formed Avro with any values the schema allows: huge or empty strings, timestamps
    and dates at the ends of their range, every payload with every type. The contract's
    rules (ids, pseudonyms, lengths, the payload that fits the type) are DecodeErrors."""
    parsed = SCHEMAS[schema].parsed
    record = data.draw(avro_values(parsed))
    body = io.BytesIO()
    try:
        schemaless_writer(body, parsed, record)
    except (OverflowError, ValueError):
        return  # fastavro cannot write it (e.g. a date beyond year 9999)
    decode(MAGIC + SCHEMAS[schema].fingerprint + body.getvalue())


@FEW
@given(envelopes())
def test_every_valid_envelope_survives_a_round_trip(envelope):
    data = CODEC.encode(envelope)
    assert CODEC.decode(data) == envelope
    assert peek_event_id(data) == envelope.id


def test_a_10_mb_message_of_junk():
    data = HEADERS[0] + bytes(range(256)) * 40_000
    assert decode(data) is None
    assert decode(b"x" * 10_000_000) is None


def test_a_10_mb_string_in_well_formed_avro():
    """The contract limits an offer name to 64 characters: the reason says so, briefly."""
    record = CODEC.current.parsed
    envelope = example_envelope(EventType.OFFER_MADE)
    fields = envelope.model_dump()
    fields["type"] = "offer_made"
    fields["payload"] = ("unna.hub.OfferMade", {"offer_category": "=1+1" + "x" * 10_000_000})
    body = io.BytesIO()
    schemaless_writer(body, record, fields)
    data = MAGIC + CODEC.current.fingerprint + body.getvalue()
    assert len(data) > 10_000_000
    with pytest.raises(DecodeError, match="payload.offer_category") as info:
        CODEC.decode(data)
    assert len(info.value.reason) < MAX_REASON


def test_header_size_is_what_the_codec_checks():
    assert len(HEADERS[0]) == HEADER_SIZE
