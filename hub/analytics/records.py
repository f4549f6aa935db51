"""The records of the analytics topics: schemas, cell keys and their codec (no Kafka).

Each analytics topic has one Avro record in ``schemas/analytics/`` (which uses the enums of
``schemas/enums/``). Values are written in Avro single-object encoding, like events (see
``schemas/README.md``); keys are the cell key as UTF-8 text, so that the compacted topic
keeps the latest version of every cell.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from hub.contract.codec import HEADER_SIZE, MAGIC
from hub.contract.schemas import ANALYTICS_SUBDIR, _index_named_types, _inline
from hub.errors import DecodeError
from hub.paths import SCHEMAS_DIR

NAMESPACE = "unna.hub.analytics"
WEEKLY_ACTIVITY = "analytics.weekly_activity"
MONTHLY_HANDOVERS = "analytics.monthly_handovers"
WEEKLY_REFUSALS = "analytics.weekly_refusals"
RECORD_OF_TOPIC = {
    WEEKLY_ACTIVITY: "WeeklyActivity",
    MONTHLY_HANDOVERS: "MonthlyHandovers",
    WEEKLY_REFUSALS: "WeeklyRefusals",
}
ALL = "all"
"""The key part that stands for a total (null in the record)."""


@dataclass(frozen=True)
class AnalyticsSchema:
    topic: str
    name: str
    parsed: dict[str, Any]
    fingerprint: bytes


@cache
def analytics_schemas() -> dict[str, AnalyticsSchema]:
    """The schema of each analytics topic, by topic."""
    files = sorted((SCHEMAS_DIR / "enums").glob("*.avsc")) + sorted(
        (SCHEMAS_DIR / ANALYTICS_SUBDIR).glob("*.avsc"))
    named, _ = _index_named_types(SCHEMAS_DIR, files)
    schemas = {}
    for topic, name in RECORD_OF_TOPIC.items():
        assembled = _inline(f"{NAMESPACE}.{name}", "", named, [])
        parsed = parse_schema(assembled)
        canonical = to_parsing_canonical_form(parsed)
        schemas[topic] = AnalyticsSchema(topic, name, parsed,
                                         bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")))
    return schemas


def encode_record(topic: str, record: dict[str, Any]) -> bytes:
    """A record of ``topic`` (a dict with the schema's fields) in single-object encoding."""
    schema = analytics_schemas()[topic]
    out = io.BytesIO()
    out.write(MAGIC + schema.fingerprint)
    schemaless_writer(out, schema.parsed, record)
    return out.getvalue()


def decode_record(topic: str, data: bytes | None) -> dict[str, Any]:
    """The record of ``topic`` in ``data``; :class:`DecodeError` says why it is not one."""
    schema = analytics_schemas()[topic]
    if not data or data[:len(MAGIC)] != MAGIC:
        raise DecodeError(f"not an analytics record of {topic} (no single-object marker)")
    if data[len(MAGIC):HEADER_SIZE] != schema.fingerprint:
        raise DecodeError(f"record of {topic} written with an unknown schema "
                          f"(fingerprint {data[len(MAGIC):HEADER_SIZE].hex()})")
    body = io.BytesIO(data)
    body.seek(HEADER_SIZE)
    try:
        return schemaless_reader(body, schema.parsed, None)
    except Exception as exc:  # fastavro raises many types for corrupt input
        raise DecodeError(f"corrupt analytics record of {topic}: {exc}") from None


def iso_week(day: date) -> tuple[str, date]:
    """``("2026-W48", monday)`` of the ISO week ``day`` is in."""
    year, week, weekday = day.isocalendar()
    return f"{year}-W{week:02d}", date.fromordinal(day.toordinal() - weekday + 1)


def month_of(moment: datetime | date) -> str:
    return f"{moment.year}-{moment.month:02d}"


def cell_key(*parts: str | None) -> bytes:
    """The topic key of a cell: its dimensions joined by ``|``, ``all`` for a total."""
    return "|".join(ALL if part is None else str(part) for part in parts).encode("utf-8")
