"""The one codec for events on Kafka: Avro single-object encoding of :class:`Envelope`.

Wire format (Avro specification, "Single object encoding")::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | Avro binary body

The fingerprint selects the writer schema: the current one or any release in
``schemas/released/<N>/`` (every release is kept, so messages written years ago still decode);
the body is then resolved against the current (reader) schema with the Avro resolution rules.
``hub schemas check`` makes sure the current schema can read the data of every release.
A message whose fingerprint is unknown (written with a newer release than this reader knows)
is a :class:`~hub.errors.DecodeError`. ``schemas/README.md`` explains how to decode the messages
from other languages.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from pydantic import ValidationError

from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.schemas import (
    NAMESPACE,
    EnvelopeSchema,
    list_releases,
    load_envelope_schema,
)
from hub.contract.vocabulary import event_type_from_symbol, event_type_symbol
from hub.errors import DecodeError
from hub.paths import SCHEMAS_DIR

MAGIC = b"\xc3\x01"
"""The two marker bytes that start every single-object encoded message."""
HEADER_SIZE = len(MAGIC) + 8
"""Marker bytes plus the 8-byte schema fingerprint."""


class EnvelopeCodec:
    """Encode envelopes with the current schema; decode anything written with a known schema
    (the current one or one of ``released``)."""

    def __init__(self, current: EnvelopeSchema, released: tuple[EnvelopeSchema, ...] = ()):
        self.current = current
        self._writer_schemas = {schema.fingerprint: schema.parsed for schema in released}
        # The current schema last: a release with the same fingerprint needs no resolution.
        self._writer_schemas[current.fingerprint] = current.parsed
        self._header = MAGIC + current.fingerprint

    @classmethod
    def from_directory(cls, schemas_dir: Path = SCHEMAS_DIR) -> EnvelopeCodec:
        """A codec for the current schemas in ``schemas_dir`` that also reads messages written
        with every release in ``schemas_dir/released/<N>/`` (none if there is no ``released/``).

        Raises :class:`~hub.errors.SchemaError` if a schema directory cannot be loaded or the
        release directories are not numbered 1, 2, 3 ...
        """
        releases = tuple(
            load_envelope_schema(release.directory) for release in list_releases(schemas_dir)
        )
        return cls(load_envelope_schema(schemas_dir), releases)

    @property
    def known_fingerprints(self) -> list[str]:
        """Hex fingerprints (wire byte order) of every schema this codec can decode."""
        return sorted(fingerprint.hex() for fingerprint in self._writer_schemas)

    def encode(self, envelope: Envelope) -> bytes:
        """The single-object encoding of ``envelope`` with the current schema."""
        body = io.BytesIO()
        body.write(self._header)
        schemaless_writer(body, self.current.parsed, _to_avro_record(envelope))
        return body.getvalue()

    def decode(self, data: bytes | bytearray | memoryview | None) -> Envelope:
        """The envelope in ``data``; raises :class:`~hub.errors.DecodeError` for anything else."""
        data = bytes(data or b"")
        if not data:
            raise DecodeError("empty message")
        if data[: len(MAGIC)] != MAGIC[: len(data)]:
            if data.lstrip()[:1] in (b"{", b"["):
                raise DecodeError("not Avro single-object encoding (got JSON?)")
            raise DecodeError(
                f"not Avro single-object encoding: starts with {data[:2].hex(' ')}, "
                f"expected {MAGIC.hex(' ')}"
            )
        if len(data) < HEADER_SIZE:
            raise DecodeError(
                f"message too short: {len(data)} bytes, the header alone needs {HEADER_SIZE}"
            )
        fingerprint = data[len(MAGIC) : HEADER_SIZE]
        writer_schema = self._writer_schemas.get(fingerprint)
        if writer_schema is None:
            raise DecodeError(
                f"unknown writer schema fingerprint {fingerprint.hex()}: written with a schema "
                f"this reader does not know (a newer release? upgrade the reader); "
                f"known: {', '.join(self.known_fingerprints)}"
            )
        record = self._read_body(data, writer_schema)
        return _from_avro_record(record)

    def _read_body(self, data: bytes, writer_schema: dict[str, Any]) -> dict[str, Any]:
        body = io.BytesIO(data)
        body.seek(HEADER_SIZE)
        reader_schema = None if writer_schema is self.current.parsed else self.current.parsed
        try:
            record = schemaless_reader(body, writer_schema, reader_schema, return_record_name=True)
        except EOFError:
            raise DecodeError("truncated Avro body: the message ends inside the event") from None
        except Exception as exc:  # fastavro raises many types for corrupt input
            raise DecodeError(f"corrupt Avro body: {type(exc).__name__}: {exc}") from None
        trailing = len(data) - body.tell()
        if trailing:
            raise DecodeError(f"corrupt Avro body: {trailing} bytes left after the event")
        return record


@cache
def get_codec() -> EnvelopeCodec:
    """The process-wide codec for ``schemas/``; the schemas are loaded on first use."""
    return EnvelopeCodec.from_directory()


def envelope_to_json(envelope: Envelope) -> dict[str, Any]:
    """A JSON-ready dict of ``envelope``: dotted ``type``, ISO 8601 dates and UTC timestamps."""
    return envelope.model_dump(mode="json")


def _to_avro_record(envelope: Envelope) -> dict[str, Any]:
    """The envelope as fastavro expects it; enum members pass as their (string) values."""
    record = envelope.model_dump()
    record["type"] = event_type_symbol(envelope.type)
    record["payload"] = (f"{NAMESPACE}.{type(envelope.payload).__name__}", record["payload"])
    return record


def _from_avro_record(record: dict[str, Any]) -> Envelope:
    try:
        event_type = event_type_from_symbol(record["type"])
    except ValueError as exc:
        raise DecodeError(str(exc)) from None
    record_name, payload = record["payload"]
    expected = PAYLOAD_MODELS[event_type].__name__
    if record_name.rpartition(".")[2] != expected:
        raise DecodeError(
            f"payload record {record_name} does not match type {event_type.value} "
            f"(expected {NAMESPACE}.{expected})"
        )
    try:
        return Envelope.model_validate({**record, "type": event_type, "payload": payload})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise DecodeError(f"event fails validation: {problems}") from None


def peek_event_id(data: bytes) -> str | None:
    """The event id of an encoded envelope without decoding the rest (``id`` is the
    envelope's first field in every schema version); None if ``data`` is not an envelope."""
    if len(data) <= HEADER_SIZE or data[: len(MAGIC)] != MAGIC:
        return None
    shift = value = 0
    pos = HEADER_SIZE
    while pos < len(data):
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            break
        shift += 7
    length = (value >> 1) ^ -(value & 1)
    if length <= 0 or pos + length > len(data):
        return None
    try:
        return data[pos: pos + length].decode("utf-8")
    except UnicodeDecodeError:
        return None
