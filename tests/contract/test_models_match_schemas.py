"""The pydantic models and the Avro schema files describe the same records, field by field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import pytest
from pydantic import create_model

from hub.contract.conformance import compare_models_to_schema
from hub.contract.models import PAYLOAD_MODELS, Envelope, OfferMade
from hub.contract.schemas import list_releases, load_envelope_schema, schema_files
from hub.contract.vocabulary import EventType, event_type_symbol
from hub.paths import SCHEMAS_DIR

from .schema_edits import add_payload_record, edit_schema, field, remove_field


def test_models_agree_with_the_schema_files() -> None:
    assert compare_models_to_schema(load_envelope_schema().parsed) == []


def test_event_type_symbols_are_the_dotted_names_with_underscores() -> None:
    schema = load_envelope_schema()
    event_type_enum = schema.parsed["__named_schemas"]["unna.hub.EventType"]

    assert event_type_enum["symbols"] == [event_type_symbol(t) for t in EventType]


def test_every_event_type_has_a_payload_record_named_after_its_model() -> None:
    union = field(load_envelope_schema().parsed, "payload")["type"]
    record_names = [branch["name"] for branch in union]

    assert sorted(record_names) == sorted(f"unna.hub.{m.__name__}" for m in PAYLOAD_MODELS.values())


@pytest.mark.parametrize(
    "directory",
    [SCHEMAS_DIR, *(release.directory for release in list_releases())],
    ids=lambda d: d.relative_to(SCHEMAS_DIR.parent).as_posix(),
)
def test_every_type_and_field_is_documented(directory: Path) -> None:
    undocumented = []
    for path in schema_files(directory):
        schema = json.loads(path.read_text())
        if not schema.get("doc"):
            undocumented.append(schema["name"])
        undocumented += [
            f"{schema['name']}.{f['name']}" for f in schema.get("fields", []) if not f.get("doc")
        ]

    assert undocumented == []


SchemaChange = Callable[[Path], None]


def make_recipient_required(envelope: dict[str, Any]) -> None:
    recipient = field(envelope, "recipient")
    recipient["type"] = "string"
    del recipient["default"]


ALTERED_SCHEMAS: dict[str, tuple[SchemaChange, list[str]]] = {
    "field added to a payload record": (
        lambda d: edit_schema(
            d,
            "payloads/offer_made.avsc",
            lambda s: s["fields"].append({"name": "note", "type": "string"}),
        ),
        ["Envelope.payload.OfferMade.note: in the Avro schema but not in the model"],
    ),
    "field removed from a payload record": (
        lambda d: edit_schema(
            d, "payloads/offer_declined.avsc", lambda s: remove_field(s, "offer_category")
        ),
        ["Envelope.payload.OfferDeclined.offer_category: in the model but not in the Avro schema"],
    ),
    "string field becomes int": (
        lambda d: edit_schema(
            d,
            "payloads/handover_requested.avsc",
            lambda s: field(s, "handover_id").update(type="int"),
        ),
        ["Envelope.payload.HandoverRequested.handover_id: Avro int but model type <class 'str'>"],
    ),
    "date becomes timestamp": (
        lambda d: edit_schema(
            d,
            "payloads/consent_granted.avsc",
            lambda s: field(s, "valid_from").update(
                type={"type": "long", "logicalType": "timestamp-millis"}
            ),
        ),
        [
            "Envelope.payload.ConsentGranted.valid_from: "
            "Avro timestamp-millis but model type <class 'datetime.date'>"
        ],
    ),
    "optional field becomes required": (
        lambda d: edit_schema(d, "envelope.avsc", make_recipient_required),
        [
            "Envelope.recipient: only the model allows null",
            "Envelope.recipient: only the model has a default",
        ],
    ),
    "default removed": (
        lambda d: edit_schema(
            d, "envelope.avsc", lambda s: field(s, "schema_version").pop("default")
        ),
        ["Envelope.schema_version: only the model has a default"],
    ),
    "enum symbol removed": (
        lambda d: edit_schema(d, "enums/municipality.avsc", lambda s: s["symbols"].remove("werne")),
        ["Envelope.municipality: symbol 'werne' only in Municipality"],
    ),
    "payload record added": (
        lambda d: add_payload_record(d, "OfferArchived"),
        ["Envelope.payload.OfferArchived: Avro union branch without a model"],
    ),
}


@pytest.mark.parametrize("change", ALTERED_SCHEMAS.values(), ids=ALTERED_SCHEMAS.keys())
def test_comparison_detects_an_altered_schema(
    schema_dirs: tuple[Path, Path], change: tuple[SchemaChange, list[str]]
) -> None:
    _, current = schema_dirs
    alter, expected_problems = change
    alter(current)

    assert compare_models_to_schema(load_envelope_schema(current).parsed) == expected_problems


def envelope_with(**fields: Any) -> type[Envelope]:
    """A copy of :class:`Envelope` with some fields added or redefined."""
    return create_model("Envelope", __base__=Envelope, **fields)


def test_comparison_detects_a_field_added_to_the_envelope_model() -> None:
    altered = envelope_with(trace_id=(str | None, None))

    problems = compare_models_to_schema(load_envelope_schema().parsed, altered)

    assert problems == ["Envelope.trace_id: in the model but not in the Avro schema"]


def test_comparison_detects_a_field_added_to_a_payload_model() -> None:
    altered_offer = create_model("OfferMade", __base__=OfferMade, note=(str, ...))
    payloads = [altered_offer if m is OfferMade else m for m in PAYLOAD_MODELS.values()]
    altered = envelope_with(payload=(Union[tuple(payloads)], ...))  # noqa: UP007

    problems = compare_models_to_schema(load_envelope_schema().parsed, altered)

    assert problems == ["Envelope.payload.OfferMade.note: in the model but not in the Avro schema"]


def test_comparison_detects_a_field_made_required_in_the_model() -> None:
    altered = envelope_with(correlation_id=(str, ...))

    problems = compare_models_to_schema(load_envelope_schema().parsed, altered)

    assert problems == [
        "Envelope.correlation_id: only the Avro schema allows null",
        "Envelope.correlation_id: only the Avro schema has a default",
    ]
