"""Check that the pydantic models and the Avro schemas describe the same records.

:func:`compare_models_to_schema` walks the parsed envelope schema and the :class:`Envelope`
model side by side and lists every disagreement: a record or field on one side only, types that
do not correspond, enum symbols that differ, or an optional field / default on one side only.

Type correspondence: ``string``/``str``, ``int`` and ``long``/``int``, ``boolean``/``bool``,
``float`` and ``double``/``float``, ``bytes``/``bytes``, ``date``/``datetime.date``,
``timestamp-millis``/``datetime.datetime``, arrays/``tuple[X, ...]`` or ``list[X]``, enums/
``Enum`` classes (symbol = value; for :class:`EventType` dots become underscores), records/models
of the same (unqualified) name, ``["null", X]``/``X | None``, a union of records/a union of models.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from hub.contract.models import Envelope
from hub.contract.vocabulary import EventType, event_type_symbol

_PRIMITIVE_PYTHON_TYPES = {
    "string": str,
    "int": int,
    "long": int,
    "boolean": bool,
    "float": float,
    "double": float,
    "bytes": bytes,
}
_LOGICAL_PYTHON_TYPES = {"date": date, "timestamp-millis": datetime}


def compare_models_to_schema(
    parsed_schema: dict[str, Any], envelope_model: type[BaseModel] = Envelope
) -> list[str]:
    """Every disagreement between ``envelope_model`` and the fastavro-parsed envelope schema."""
    named_types = parsed_schema.get("__named_schemas", {})
    return compare_record(parsed_schema, envelope_model, named_types)


def compare_record(
    record_schema: dict[str, Any],
    model: type[BaseModel],
    named_types: dict[str, Any],
    path: str = "",
) -> list[str]:
    """Disagreements between one Avro record schema and one model class."""
    record_name = _short_name(record_schema["name"])
    path = f"{path}.{record_name}" if path else record_name
    if model.__name__ != record_name:
        return [f"{path}: Avro record {record_name} but model {model.__name__}"]
    avro_fields = {field["name"]: field for field in record_schema["fields"]}
    model_fields = model.model_fields
    problems = [
        f"{path}.{name}: in the Avro schema but not in the model"
        for name in avro_fields.keys() - model_fields.keys()
    ]
    problems += [
        f"{path}.{name}: in the model but not in the Avro schema"
        for name in model_fields.keys() - avro_fields.keys()
    ]
    for name in avro_fields.keys() & model_fields.keys():
        field_path = f"{path}.{name}"
        avro_field, model_field = avro_fields[name], model_fields[name]
        problems += _compare_type(
            avro_field["type"], model_field.annotation, named_types, field_path
        )
        problems += _compare_default(avro_field, model_field.default, field_path)
    return sorted(problems)


def _compare_default(avro_field: dict[str, Any], model_default: Any, path: str) -> list[str]:
    has_avro_default = "default" in avro_field
    has_model_default = model_default is not PydanticUndefined
    if has_avro_default != has_model_default:
        side = "Avro schema" if has_avro_default else "model"
        return [f"{path}: only the {side} has a default"]
    if has_avro_default and _avro_value(model_default) != avro_field["default"]:
        return [f"{path}: default {avro_field['default']!r} in Avro, {model_default!r} in model"]
    return []


def _compare_type(
    schema: Any, annotation: Any, named_types: dict[str, Any], path: str
) -> list[str]:
    annotation = _strip_annotated(annotation)
    schema = _deref(schema, named_types)
    if isinstance(schema, list) or _union_members(annotation):
        branches = schema if isinstance(schema, list) else [schema]
        return _compare_union(branches, annotation, named_types, path)
    if isinstance(schema, str):
        return _expect(annotation, _PRIMITIVE_PYTHON_TYPES.get(schema), schema, path)
    kind = schema["type"]
    if kind == "record":
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return [f"{path}: Avro record {schema['name']} but model type {annotation}"]
        return compare_record(schema, annotation, named_types, path)
    if kind == "enum":
        return _compare_enum(schema, annotation, path)
    if kind == "array":
        if typing.get_origin(annotation) not in (tuple, list):
            return [f"{path}: Avro array but model type {annotation}"]
        item_annotation = typing.get_args(annotation)[0]
        return _compare_type(schema["items"], item_annotation, named_types, f"{path}[]")
    logical_type = schema.get("logicalType")
    if logical_type in _LOGICAL_PYTHON_TYPES:
        return _expect(annotation, _LOGICAL_PYTHON_TYPES[logical_type], logical_type, path)
    return _expect(annotation, _PRIMITIVE_PYTHON_TYPES.get(kind), kind, path)


def _compare_union(
    branches: list[Any], annotation: Any, named_types: dict[str, Any], path: str
) -> list[str]:
    members = _union_members(annotation) or [annotation]
    avro_nullable = "null" in branches
    model_nullable = type(None) in members
    if avro_nullable != model_nullable:
        side = "Avro schema" if avro_nullable else "model"
        return [f"{path}: only the {side} allows null"]
    avro_branches = [_deref(b, named_types) for b in branches if b != "null"]
    model_members = [m for m in members if m is not type(None)]
    if len(avro_branches) == 1 and len(model_members) == 1:
        return _compare_type(avro_branches[0], model_members[0], named_types, path)
    avro_records = {_short_name(b["name"]): b for b in avro_branches if isinstance(b, dict)}
    models = {m.__name__: m for m in model_members if isinstance(m, type)}
    if len(avro_records) != len(avro_branches) or len(models) != len(model_members):
        return [f"{path}: only unions of records (or with null) can be compared"]
    problems = [
        f"{path}.{name}: Avro union branch without a model"
        for name in avro_records.keys() - models.keys()
    ]
    problems += [
        f"{path}.{name}: model without an Avro union branch"
        for name in models.keys() - avro_records.keys()
    ]
    for name in avro_records.keys() & models.keys():
        problems += compare_record(avro_records[name], models[name], named_types, path)
    return problems


def _compare_enum(schema: dict[str, Any], annotation: Any, path: str) -> list[str]:
    if not (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return [f"{path}: Avro enum {schema['name']} but model type {annotation}"]
    model_symbols = {_avro_value(member) for member in annotation}
    avro_symbols = set(schema["symbols"])
    problems = [f"{path}: symbol {s!r} only in the Avro enum" for s in avro_symbols - model_symbols]
    problems += [
        f"{path}: symbol {s!r} only in {annotation.__name__}" for s in model_symbols - avro_symbols
    ]
    return sorted(problems)


def _expect(annotation: Any, expected: type | None, avro_type: str, path: str) -> list[str]:
    if expected is None or annotation is not expected:
        return [f"{path}: Avro {avro_type} but model type {annotation}"]
    return []


def _avro_value(value: Any) -> Any:
    """How a Python default or enum member is written in an Avro schema."""
    if isinstance(value, EventType):
        return event_type_symbol(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _deref(schema: Any, named_types: dict[str, Any]) -> Any:
    """The definition of a named-type reference; any other schema unchanged."""
    return named_types.get(schema, schema) if isinstance(schema, str) else schema


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [_strip_annotated(member) for member in typing.get_args(annotation)]
    return []


def _short_name(name: str) -> str:
    return name.rpartition(".")[2]
