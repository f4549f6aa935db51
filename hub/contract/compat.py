"""Whether data written with one envelope schema can be read with another, in both directions.

Producers and consumers are upgraded one at a time, so a schema change must work both ways:

* **backward**: a newer schema reads data written with an older one
  (new consumers, old data still in the topics);
* **forward**: an older schema reads data written with a newer one
  (old consumers still running while producers are upgraded).

Each direction is checked with the Avro schema-resolution rules, implemented here: records
match by full name, and every reader field missing from the writer needs a default; primitive
types must be equal or promotable (int -> long -> float -> double, string <-> bytes); writer enum
symbols must exist in the reader enum unless it has a default; every writer union branch must
resolve to a reader branch; arrays and maps are checked item by item. Beyond the specification,
a changed logical type (e.g. timestamp-millis -> timestamp-micros) is reported, since the values
would still decode but mean something else. Aliases are not supported.

The release history (``schemas/released/<N>/``) is checked with these rules by
:mod:`hub.contract.history` (``hub schemas check``); :mod:`hub.contract.release` makes the next
release (``hub schemas release``) and :mod:`hub.contract.notes` reads ``CHANGES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from hub.contract.schemas import PRIMITIVE_TYPES, EnvelopeSchema, load_envelope_schema

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED_KINDS = {"record", "enum", "fixed"}


class Direction(StrEnum):
    """Which reader reads which data (or, for ``release``, the release history itself)."""

    BACKWARD = "backward"
    FORWARD = "forward"
    BOTH = "both"
    RELEASE = "release"

    @property
    def meaning(self) -> str:
        """The direction in plain words."""
        return {
            Direction.BACKWARD: "a newer schema reading data written with an older one",
            Direction.FORWARD: "consumers on an older schema reading data of a newer one",
            Direction.BOTH: "the set of schema files",
            Direction.RELEASE: "the release history: CHANGES.md and SCHEMA_VERSION",
        }[self]


@dataclass(frozen=True)
class Problem:
    """One incompatibility: where it is, in which direction, and what breaks; ``scope`` names
    the two schemas compared (e.g. ``current vs release 2``), empty for a single comparison."""

    path: str
    direction: Direction
    message: str
    scope: str = ""

    def __str__(self) -> str:
        where = f"{self.scope}: " if self.scope else ""
        return f"{where}[{self.direction}] {self.path}: {self.message}"

def release_problem(path: str, message: str) -> Problem:
    """A problem of the release history itself (``CHANGES.md``, ``SCHEMA_VERSION``)."""
    return Problem(path, Direction.RELEASE, message)


def scoped(problems: list[Problem], scope: str) -> list[Problem]:
    """``problems`` with ``scope`` naming the two schemas compared."""
    return [replace(problem, scope=scope) for problem in problems]


def check_compatibility(released_dir: Path, current_dir: Path) -> list[Problem]:
    """All incompatibilities of the schemas in ``current_dir`` with those in ``released_dir``.

    Raises :class:`~hub.errors.SchemaError` if either directory cannot be loaded.
    """
    return check_schemas(load_envelope_schema(released_dir), load_envelope_schema(current_dir))


def check_schemas(
    released: EnvelopeSchema,
    current: EnvelopeSchema,
    released_label: str = "released",
    current_label: str = "current",
) -> list[Problem]:
    """All incompatibilities between an older (``released``) and a newer (``current``) envelope
    schema (see the module docstring); the labels name them in the messages."""
    problems = [
        Problem(
            name,
            Direction.BOTH,
            f"{released_label} schema file no longer exists in the {current_label} schemas",
        )
        for name in sorted(set(released.files) - set(current.files))
    ]
    for direction, writer, reader, writer_label, reader_label in (
        (Direction.BACKWARD, released, current, released_label, current_label),
        (Direction.FORWARD, current, released, current_label, released_label),
    ):
        resolution = _Resolution(writer, reader, writer_label, reader_label)
        resolution.check(writer.parsed, reader.parsed, _short_name(reader.parsed["name"]))
        problems += [Problem(path, direction, message) for path, message in resolution.problems]
    return problems

class _Resolution:
    """Checks that data written with one schema can be read with another."""

    def __init__(
        self, writer: EnvelopeSchema, reader: EnvelopeSchema, writer_label: str, reader_label: str
    ):
        self._writer_names = writer.parsed["__named_schemas"]
        self._reader_names = reader.parsed["__named_schemas"]
        self._data = f"{writer_label} data"
        self._reader = f"the {reader_label} schema"
        self._checked_records: set[tuple[str, str]] = set()
        self.problems: list[tuple[str, str]] = []

    def check(self, writer: Any, reader: Any, path: str) -> None:
        """Record the problems of reading ``writer`` data with ``reader`` at ``path``."""
        writer = _deref(writer, self._writer_names)
        reader = _deref(reader, self._reader_names)
        if isinstance(writer, list):
            for branch in writer:
                branch_path = _branch_path(path, _deref(branch, self._writer_names))
                self._check_against(branch, reader, branch_path)
        else:
            self._check_against(writer, reader, path)

    def _check_against(self, writer: Any, reader: Any, path: str) -> None:
        writer = _deref(writer, self._writer_names)
        if isinstance(reader, list):
            branches = [_deref(branch, self._reader_names) for branch in reader]
            match = _first_match(writer, branches, exact=True) or _first_match(
                writer, branches, exact=False
            )
            if match is None:
                self._report(
                    path,
                    f"{self._data} can be {_describe(writer)}, "
                    f"which {self._reader} does not allow here ({_describe(branches)})",
                )
            else:
                self._check_single(writer, match, path)
        else:
            self._check_single(writer, reader, path)

    def _check_single(self, writer: Any, reader: Any, path: str) -> None:
        writer_kind, reader_kind = _kind(writer), _kind(reader)
        if writer_kind != reader_kind:
            if reader_kind not in _PROMOTIONS.get(writer_kind, ()):
                self._report(
                    path,
                    f"{self._data} has {_describe(writer)}, "
                    f"{self._reader} expects {_describe(reader)}; they do not convert",
                )
            return
        if writer_kind in _NAMED_KINDS and writer["name"] != reader["name"]:
            self._report(
                path,
                f"{self._data} has {_describe(writer)}, "
                f"{self._reader} expects {_describe(reader)} (named types match by name)",
            )
            return
        if writer_kind == "record":
            self._check_record(writer, reader, path)
        elif writer_kind == "enum":
            self._check_enum(writer, reader, path)
        elif writer_kind == "fixed" and writer["size"] != reader["size"]:
            self._report(path, f"fixed size changes from {writer['size']} to {reader['size']}")
        elif writer_kind == "array":
            self.check(writer["items"], reader["items"], f"{path}[]")
        elif writer_kind == "map":
            self.check(writer["values"], reader["values"], f"{path}{{}}")
        elif _logical_type(writer) != _logical_type(reader):
            self._report(
                path,
                f"logical type {_logical_type(writer)} in {self._data} but "
                f"{_logical_type(reader)} in {self._reader}; values would be misread",
            )

    def _check_record(self, writer: dict[str, Any], reader: dict[str, Any], path: str) -> None:
        key = (writer["name"], reader["name"])
        if key in self._checked_records:
            return
        self._checked_records.add(key)
        writer_fields = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            field_path = f"{path}.{field['name']}"
            if field["name"] in writer_fields:
                self.check(writer_fields[field["name"]]["type"], field["type"], field_path)
            elif "default" not in field:
                self._report(
                    field_path,
                    f"field is missing from {self._data} and {self._reader} gives it no default",
                )

    def _check_enum(self, writer: dict[str, Any], reader: dict[str, Any], path: str) -> None:
        missing = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
        if missing and "default" not in reader:
            self._report(
                path,
                f"{self._data} may contain {', '.join(missing)}, which the enum "
                f"{_short_name(reader['name'])} of {self._reader} lacks (and it has no default)",
            )

    def _report(self, path: str, message: str) -> None:
        self.problems.append((path, message))


def _deref(schema: Any, named_types: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema not in PRIMITIVE_TYPES:
        return named_types[schema]
    return schema


def _kind(schema: Any) -> str:
    """``string``, ``record``, ``array``, ... of a dereferenced non-union schema."""
    return schema if isinstance(schema, str) else schema["type"]


def _logical_type(schema: Any) -> str | None:
    return schema.get("logicalType") if isinstance(schema, dict) else None


def _first_match(writer: Any, branches: list[Any], exact: bool) -> Any | None:
    """The first reader union branch that ``writer`` resolves to (exactly or by promotion)."""
    writer_kind = _kind(writer)
    for branch in branches:
        branch_kind = _kind(branch)
        if exact and branch_kind == writer_kind:
            if writer_kind not in _NAMED_KINDS or branch["name"] == writer["name"]:
                return branch
        if not exact and branch_kind in _PROMOTIONS.get(writer_kind, ()):
            return branch
    return None


def _branch_path(path: str, branch: Any) -> str:
    """Union branches that are named types get their own path element."""
    return f"{path}.{_short_name(branch['name'])}" if _kind(branch) in _NAMED_KINDS else path


def _describe(schema: Any) -> str:
    if isinstance(schema, list):
        return "one of " + ", ".join(_describe(branch) for branch in schema)
    kind = _kind(schema)
    if kind in _NAMED_KINDS:
        return f"{kind} {_short_name(schema['name'])}"
    if kind == "array":
        return "an array"
    if kind == "map":
        return "a map"
    logical = _logical_type(schema)
    return f"{kind} ({logical})" if logical else kind


def _short_name(name: str) -> str:
    return name.rpartition(".")[2]
