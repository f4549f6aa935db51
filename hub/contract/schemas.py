"""Load the Avro schema files and assemble the envelope schema from them.

A schema directory (``schemas/``, or a release ``schemas/released/<N>/``) holds one named type
per ``*.avsc`` file: ``envelope.avsc``, ``enums/*.avsc`` and ``payloads/*.avsc``. Files refer to
each other by name (``"type": "OfferMade"``). :func:`load_envelope_schema` indexes every file by
the full name of the type it defines, then resolves the names starting at
``unna.hub.Envelope``: each named type is inlined where it is first used and referred to by full
name afterwards, exactly as the Avro specification requires of a self-contained schema. The
result is parsed by fastavro once, and its Parsing Canonical Form and CRC-64-AVRO fingerprint are
computed for the single-object encoding.

``schemas/released/`` holds the history of releases, one directory per release named by its
number (``released/1/``, ``released/2/``, ...), each a frozen copy of the envelope's files, and
``CHANGES.md`` with the notes of each release; :func:`list_releases` finds them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR

NAMESPACE = "unna.hub"
ENVELOPE_FULLNAME = f"{NAMESPACE}.Envelope"
RELEASED_SUBDIR = "released"
"""Sub-directory of ``schemas/`` holding the releases, one directory ``<N>/`` each (same layout)."""
CHANGES_FILE = "CHANGES.md"
"""The release notes in ``released/``: one section ``## <N>`` per release."""
ANALYTICS_SUBDIR = "analytics"
"""Sub-directory of ``schemas/`` holding the records of the analytics topics (not events)."""

PRIMITIVE_TYPES = frozenset(
    {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
)
NAMED_KINDS = frozenset({"record", "error", "enum", "fixed"})


@dataclass(frozen=True)
class EnvelopeSchema:
    """The envelope schema of one schema directory, assembled and parsed."""

    directory: Path
    files: tuple[str, ...]
    """The ``*.avsc`` files it was assembled from, relative to ``directory`` (POSIX form)."""
    assembled: dict[str, Any]
    """Self-contained Avro schema JSON; give it to any Avro library."""
    parsed: dict[str, Any]
    """The same schema as parsed by fastavro (full names, lookup of named types)."""
    canonical_form: str
    """Parsing Canonical Form of ``assembled``."""
    fingerprint: bytes
    """CRC-64-AVRO fingerprint of ``canonical_form``, 8 bytes little-endian (wire order)."""


class Release(NamedTuple):
    """One release of the envelope schema: its number and the directory of its files."""

    number: int
    directory: Path


_RELEASE_NAME = re.compile(r"[1-9][0-9]*")


def list_releases(schemas_dir: Path = SCHEMAS_DIR) -> list[Release]:
    """The releases in ``schemas_dir/released/``, sorted by number; empty if there is none.

    Every directory there must be named by its release number (a positive integer without
    leading zeros), and the numbers must run 1, 2, 3 ... without a gap (a missing release would
    leave its messages undecodable). Besides the release directories, ``released/`` may only
    hold ``*.md`` files (``CHANGES.md``) and hidden files. Anything else raises
    :class:`~hub.errors.SchemaError`.
    """
    released_dir = Path(schemas_dir) / RELEASED_SUBDIR
    if not released_dir.is_dir():
        return []
    releases = []
    for entry in sorted(released_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            if entry.suffix == ".md":
                continue
            raise SchemaError(
                f"{entry}: only release directories ({RELEASED_SUBDIR}/1/, "
                f"{RELEASED_SUBDIR}/2/, ...) and {CHANGES_FILE} belong in {released_dir}"
            )
        if not _RELEASE_NAME.fullmatch(entry.name):
            raise SchemaError(
                f"{entry}: a release directory must be named by its release number, "
                f"a positive integer such as 1 or 2 (found {entry.name!r})"
            )
        releases.append(Release(int(entry.name), entry))
    releases.sort()
    missing = sorted(set(range(1, len(releases) + 1)) - {release.number for release in releases})
    if missing:
        raise SchemaError(
            f"releases in {released_dir} must be numbered 1, 2, 3 ... without a gap: "
            f"missing {', '.join(str(number) for number in missing)} "
            f"(found {', '.join(str(release.number) for release in releases)})"
        )
    return releases


def schema_files(directory: Path) -> list[Path]:
    """All ``*.avsc`` files of the envelope under ``directory``, sorted, without the
    releases in ``released/`` and the analytics records."""
    return sorted(
        path
        for path in directory.rglob("*.avsc")
        if path.relative_to(directory).parts[0] not in (RELEASED_SUBDIR, ANALYTICS_SUBDIR)
    )


def load_envelope_schema(directory: Path = SCHEMAS_DIR) -> EnvelopeSchema:
    """Assemble, parse and fingerprint the envelope schema of ``directory``.

    Raises :class:`~hub.errors.SchemaError` if a file is not valid JSON, two files define the
    same name, a referenced name has no file, a file is not used by the envelope, or fastavro
    rejects the assembled schema.
    """
    directory = Path(directory)
    files = schema_files(directory)
    if not files:
        raise SchemaError(f"no *.avsc files in {directory}")
    named_types, defined_in = _index_named_types(directory, files)
    if ENVELOPE_FULLNAME not in named_types:
        raise SchemaError(f"no file in {directory} defines {ENVELOPE_FULLNAME}")
    used: list[str] = []
    assembled = _inline(ENVELOPE_FULLNAME, "", named_types, used)
    unused = sorted(defined_in[name] for name in named_types.keys() - set(used))
    if unused:
        raise SchemaError(f"schema files not used by the envelope: {', '.join(unused)}")
    try:
        parsed = parse_schema(assembled)
    except Exception as exc:  # fastavro raises several exception types for bad schemas
        raise SchemaError(f"invalid envelope schema in {directory}: {exc}") from exc
    canonical_form = to_parsing_canonical_form(parsed)
    return EnvelopeSchema(
        directory=directory,
        files=tuple(path.relative_to(directory).as_posix() for path in files),
        assembled=assembled,
        parsed=parsed,
        canonical_form=canonical_form,
        fingerprint=bytes.fromhex(fingerprint(canonical_form, "CRC-64-AVRO")),
    )


def fullname(name: str, namespace: str) -> str:
    """The full name of ``name`` when used inside ``namespace`` (Avro name resolution)."""
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _index_named_types(
    directory: Path, files: list[Path]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Map the full name of each file's type to its JSON, and to the file's relative path."""
    named_types: dict[str, dict[str, Any]] = {}
    defined_in: dict[str, str] = {}
    for path in files:
        relative = path.relative_to(directory).as_posix()
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SchemaError(f"cannot read schema file {relative}: {exc}") from exc
        if (
            not isinstance(schema, dict)
            or schema.get("type") not in NAMED_KINDS
            or not isinstance(schema.get("name"), str)
        ):
            raise SchemaError(f"{relative} must define one named record, enum or fixed type")
        name = fullname(schema["name"], schema.get("namespace", ""))
        if name in named_types:
            raise SchemaError(f"{name} is defined twice: in {defined_in[name]} and {relative}")
        named_types[name] = schema
        defined_in[name] = relative
    return named_types, defined_in


def _inline(
    schema: Any, namespace: str, named_types: dict[str, dict[str, Any]], used: list[str]
) -> Any:
    """Copy ``schema`` with each named type defined at its first use (``used`` tracks them)."""
    if isinstance(schema, list):
        return [_inline(branch, namespace, named_types, used) for branch in schema]
    if isinstance(schema, str):
        if schema in PRIMITIVE_TYPES:
            return schema
        name = fullname(schema, namespace)
        if name in used:
            return name
        if name not in named_types:
            raise SchemaError(f"unknown type {name}: no schema file defines it")
        return _inline(named_types[name], namespace, named_types, used)
    if not isinstance(schema, dict):
        raise SchemaError(f"invalid Avro type {schema!r}")
    kind = schema.get("type")
    if kind in NAMED_KINDS:
        name = fullname(schema["name"], schema.get("namespace", namespace))
        if name in used:
            raise SchemaError(f"{name} is defined more than once in the envelope schema")
        used.append(name)
        copy = {key: value for key, value in schema.items() if key != "namespace"}
        copy["name"] = name
        if kind in ("record", "error"):
            inner_namespace = name.rpartition(".")[0]
            copy["fields"] = [
                {**field, "type": _inline(field.get("type"), inner_namespace, named_types, used)}
                for field in schema.get("fields", [])
            ]
        return copy
    if kind == "array":
        return {**schema, "items": _inline(schema["items"], namespace, named_types, used)}
    if kind == "map":
        return {**schema, "values": _inline(schema["values"], namespace, named_types, used)}
    return schema
