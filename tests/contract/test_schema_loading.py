"""Loading the schema files: the envelope is assembled from them, mistakes are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.contract.schemas import load_envelope_schema
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR

from .schema_edits import edit_schema, field


def test_envelope_is_assembled_from_every_file_except_the_released_copy() -> None:
    layout = ["*.avsc", "enums/*.avsc", "payloads/*.avsc"]
    expected = {
        path.relative_to(SCHEMAS_DIR).as_posix()
        for pattern in layout
        for path in SCHEMAS_DIR.glob(pattern)
    }

    assert set(load_envelope_schema().files) == expected
    assert len(expected) == 18


def test_assembled_schema_is_self_contained_avro() -> None:
    assembled = load_envelope_schema().assembled
    text = json.dumps(assembled)

    assert text.count('"name": "unna.hub.StallStep"') == 1
    assert field(assembled, "payload")["type"][0]["name"] == "unna.hub.ConsentGranted"


def test_unknown_type_reference_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    edit_schema(current, "envelope.avsc", lambda s: field(s, "purpose").update(type="Zweck"))

    with pytest.raises(SchemaError, match="unknown type unna.hub.Zweck: no schema file defines it"):
        load_envelope_schema(current)


def test_type_defined_in_two_files_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    (current / "enums/purpose_copy.avsc").write_text((current / "enums/purpose.avsc").read_text())

    with pytest.raises(SchemaError, match="unna.hub.Purpose is defined twice"):
        load_envelope_schema(current)


def test_file_the_envelope_does_not_use_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    unused = {"type": "enum", "name": "Unused", "namespace": "unna.hub", "symbols": ["a"]}
    (current / "enums/unused.avsc").write_text(json.dumps(unused))

    with pytest.raises(SchemaError, match="schema files not used by the envelope: enums/unused"):
        load_envelope_schema(current)


def test_invalid_json_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    (current / "payloads/offer_made.avsc").write_text('{"type": "record",')

    with pytest.raises(SchemaError, match="cannot read schema file payloads/offer_made.avsc"):
        load_envelope_schema(current)


def test_schema_fastavro_rejects_is_reported(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    edit_schema(current, "envelope.avsc", lambda s: field(s, "recipient").update(default=42))

    with pytest.raises(SchemaError, match="invalid envelope schema"):
        load_envelope_schema(current)
