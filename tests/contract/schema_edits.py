"""Helpers to change copies of schema files in tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def edit_schema(directory: Path, relative: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``change`` to the JSON of ``directory/relative`` and write it back."""
    path = directory / relative
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2))


def field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The field ``name`` of a record schema."""
    return next(f for f in schema["fields"] if f["name"] == name)


def remove_field(schema: dict[str, Any], name: str) -> None:
    schema["fields"].remove(field(schema, name))


def add_payload_record(directory: Path, name: str) -> None:
    """Add a payload record ``name`` (one optional string field) and put it in the union."""
    record = {
        "type": "record",
        "name": name,
        "namespace": "unna.hub",
        "doc": "Added by a test.",
        "fields": [{"name": "note", "type": ["null", "string"], "default": None, "doc": "Test."}],
    }
    (directory / "payloads" / f"{name.lower()}.avsc").write_text(json.dumps(record))
    edit_schema(directory, "envelope.avsc", lambda s: field(s, "payload")["type"].append(name))
