"""Compatibility of the current schemas with the release history (``schemas/released/<N>/``).

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

:func:`check_history` (``hub schemas check``) applies them to the whole history:

* the current schemas vs. the latest release, both directions;
* the current schemas vs. every earlier release, backward (the codec reads every release's
  messages with the current schema);
* each release vs. the one before it, both directions; a **forward** break there is accepted
  only when the later release's section in ``released/CHANGES.md`` announces it, i.e. its text
  contains the words "cannot read" (:data:`FORWARD_BREAK_PHRASE`): every consumer must then be
  upgraded before any producer;
* ``CHANGES.md`` has one section ``## <N>`` per release, each stating the release's fingerprint
  (a line ``Fingerprint: `<16 hex digits>` ``), so that a change to a released file is caught;
* :data:`hub.contract.models.SCHEMA_VERSION` is the latest release's number when the current
  schemas have its fingerprint, and the next number when they differ (work in progress).

:func:`main_release` (``hub schemas release``) copies the current files into the next release.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Any

from hub.contract.schemas import (
    CHANGES_FILE,
    PRIMITIVE_TYPES,
    RELEASED_SUBDIR,
    EnvelopeSchema,
    Release,
    list_releases,
    load_envelope_schema,
    schema_files,
)
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR

_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED_KINDS = {"record", "enum", "fixed"}

FORWARD_BREAK_PHRASE = "cannot read"
"""A release whose ``CHANGES.md`` section contains these words (any case, across line breaks)
may break forward compatibility with the release before it."""
_FINGERPRINT_LINE = re.compile(
    r"^fingerprint:\s*`?([0-9a-f]{16})`?\s*$", re.IGNORECASE | re.MULTILINE
)
_SECTION_HEADING = re.compile(r"^##(?!#)(.*)$")


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


# ------------------------------------------------------------------------------ release notes
def announces_forward_break(notes: str | None) -> bool:
    """Whether release notes allow a forward break: they contain :data:`FORWARD_BREAK_PHRASE`."""
    return notes is not None and FORWARD_BREAK_PHRASE in " ".join(notes.lower().split())


def read_release_notes(path: Path) -> tuple[dict[int, str], list[Problem]]:
    """The sections of ``CHANGES.md`` by release number (each ``## <N> ...`` heading starts one),
    and the problems of the file's form: a level-2 heading that does not start with a release
    number, a release with two sections. A missing file has no sections."""
    if not path.is_file():
        return {}, []
    sections: dict[int, list[str]] = {}
    problems = []
    number: int | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = _SECTION_HEADING.match(line)
        if heading is None:
            if number is not None:
                sections[number].append(line)
            continue
        found = re.match(r"\s*([1-9][0-9]*)\b", heading.group(1))
        number = int(found.group(1)) if found else None
        if number is None:
            problems.append(_release_problem(
                CHANGES_FILE, f"heading {line.strip()!r} does not start with a release number"
            ))
        elif number in sections:
            problems.append(_release_problem(CHANGES_FILE, f"two sections ## {number}"))
        else:
            sections[number] = []
    return {number: "\n".join(lines).strip() for number, lines in sections.items()}, problems


def _release_problem(path: str, message: str) -> Problem:
    return Problem(path, Direction.RELEASE, message)


# ------------------------------------------------------------------------------ history check
@dataclass
class HistoryReport:
    """What :func:`check_history` compared and found."""

    current: EnvelopeSchema
    releases: list[tuple[Release, EnvelopeSchema]]
    schema_version: int
    checked: list[str] = dataclass_field(default_factory=list)
    """One line per comparison made, naming the releases."""
    announced: list[Problem] = dataclass_field(default_factory=list)
    """Forward breaks between releases that ``CHANGES.md`` announces (accepted)."""
    problems: list[Problem] = dataclass_field(default_factory=list)

    @property
    def latest(self) -> tuple[Release, EnvelopeSchema]:
        return self.releases[-1]

    @property
    def current_is_latest(self) -> bool:
        """Whether the current schemas are the latest release (same fingerprint)."""
        return self.current.fingerprint == self.latest[1].fingerprint


def load_history(schemas_dir: Path) -> tuple[EnvelopeSchema, list[tuple[Release, EnvelopeSchema]]]:
    """The current envelope schema of ``schemas_dir`` and every release, oldest first.

    Raises :class:`~hub.errors.SchemaError` if anything cannot be loaded.
    """
    releases = [
        (release, load_envelope_schema(release.directory)) for release in list_releases(schemas_dir)
    ]
    return load_envelope_schema(schemas_dir), releases


def check_history(
    schemas_dir: Path = SCHEMAS_DIR, schema_version: int | None = None
) -> HistoryReport:
    """Check the current schemas of ``schemas_dir`` against its releases and the releases
    against each other (see the module docstring); ``schema_version`` defaults to
    :data:`hub.contract.models.SCHEMA_VERSION`.

    Raises :class:`~hub.errors.SchemaError` if a schema cannot be loaded or there is no release.
    """
    schemas_dir = Path(schemas_dir)
    if schema_version is None:
        from hub.contract.models import SCHEMA_VERSION as schema_version
    current, releases = load_history(schemas_dir)
    if not releases:
        raise SchemaError(
            f"no release in {schemas_dir / RELEASED_SUBDIR}: "
            f"expected directories 1/, 2/, ... (see schemas/README.md)"
        )
    report = HistoryReport(current, releases, schema_version)
    notes, report.problems = read_release_notes(schemas_dir / RELEASED_SUBDIR / CHANGES_FILE)
    latest, latest_schema = report.latest

    scope = f"current vs release {latest.number}"
    report.checked.append(f"{scope} (the latest): backward and forward")
    report.problems += _scoped(
        check_schemas(latest_schema, current, f"release {latest.number}"), scope
    )
    for release, schema in reversed(releases[:-1]):
        scope = f"current vs release {release.number}"
        report.checked.append(f"{scope}: backward")
        problems = check_schemas(schema, current, f"release {release.number}")
        report.problems += _scoped(
            [p for p in problems if p.direction is Direction.BACKWARD], scope
        )

    for (older, older_schema), (newer, newer_schema) in pairwise(releases):
        scope = f"release {older.number} -> {newer.number}"
        report.checked.append(
            f"release {older.number} -> release {newer.number}: backward and forward"
        )
        problems = _scoped(
            check_schemas(
                older_schema, newer_schema, f"release {older.number}", f"release {newer.number}"
            ),
            scope,
        )
        forward = [p for p in problems if p.direction is Direction.FORWARD]
        report.problems += [p for p in problems if p.direction is not Direction.FORWARD]
        if forward and announces_forward_break(notes.get(newer.number)):
            report.announced += forward
        elif forward:
            report.problems += forward
            report.problems.append(_release_problem(
                CHANGES_FILE,
                f"release {newer.number} breaks forward compatibility with release "
                f"{older.number}, but its section ## {newer.number} does not say so: it must "
                f"state that consumers on release {older.number} {FORWARD_BREAK_PHRASE} its "
                f"messages (and so are upgraded first)",
            ))

    report.checked.append(f"{CHANGES_FILE}: a section with the fingerprint of each release")
    report.problems += _check_notes(notes, releases)

    if report.current_is_latest:
        expected = latest.number
        state = f"the current schemas are release {latest.number} (same fingerprint)"
    else:
        expected = latest.number + 1
        state = (
            f"the current schemas differ from release {latest.number} "
            f"(work in progress for release {latest.number + 1})"
        )
    report.checked.append(f"SCHEMA_VERSION {schema_version}: {state}, expected {expected}")
    if schema_version != expected:
        report.problems.append(_release_problem(
            "SCHEMA_VERSION",
            f"{state}, so hub.contract.models.SCHEMA_VERSION must be {expected}, "
            f"not {schema_version}",
        ))
    return report


def _scoped(problems: list[Problem], scope: str) -> list[Problem]:
    return [replace(problem, scope=scope) for problem in problems]


def _check_notes(
    notes: dict[int, str], releases: list[tuple[Release, EnvelopeSchema]]
) -> list[Problem]:
    """Every release has a section stating its fingerprint; every section has a release."""
    problems = []
    numbers = {release.number for release, _ in releases}
    for release, schema in releases:
        section = notes.get(release.number)
        if section is None:
            problems.append(_release_problem(
                CHANGES_FILE, f"no section ## {release.number} for release {release.number}"
            ))
            continue
        stated = _FINGERPRINT_LINE.search(section)
        if stated is None:
            problems.append(_release_problem(
                CHANGES_FILE,
                f"section ## {release.number} does not state the release's fingerprint "
                f"(a line: Fingerprint: `{schema.fingerprint.hex()}`)",
            ))
        elif stated.group(1).lower() != schema.fingerprint.hex():
            problems.append(_release_problem(
                f"{RELEASED_SUBDIR}/{release.number}/",
                f"the files have fingerprint {schema.fingerprint.hex()}, but {CHANGES_FILE} "
                f"says release {release.number} has {stated.group(1).lower()}: a released "
                f"schema must never change (its messages would become undecodable)",
            ))
    problems += [
        _release_problem(
            CHANGES_FILE,
            f"section ## {number}, but there is no release {number} ({RELEASED_SUBDIR}/{number}/)",
        )
        for number in sorted(notes.keys() - numbers)
    ]
    return problems


def main_check(schemas_dir: Path | None = None, schema_version: int | None = None) -> int:
    """Print a report on the current schemas vs. the releases; 0 if all is well, else 1."""
    schemas_dir = Path(schemas_dir or SCHEMAS_DIR)
    print(
        f"Checking the schemas in {schemas_dir} against the releases in "
        f"{schemas_dir / RELEASED_SUBDIR}"
    )
    try:
        report = check_history(schemas_dir, schema_version)
    except SchemaError as exc:
        print(f"FAILED: {exc}")
        return 1
    for release, schema in report.releases:
        print(f"  release {release.number}: fingerprint {schema.fingerprint.hex()}")
    latest = report.latest[0].number
    state = "same as" if report.current_is_latest else "changed since"
    print(
        f"  current:   fingerprint {report.current.fingerprint.hex()} "
        f"({state} release {latest})"
    )
    print("Checked:")
    for line in report.checked:
        print(f"  {line}")
    if report.announced:
        print(f"Forward breaks announced in {CHANGES_FILE} (consumers are upgraded first):")
        for problem in report.announced:
            print(f"  - {problem}")
    if not report.problems:
        numbers = ", ".join(str(release.number) for release, _ in report.releases)
        print(
            f"OK: the current schemas are compatible with release {latest} in both directions "
            f"and read the data of every release ({numbers}); SCHEMA_VERSION is "
            f"{report.schema_version}."
        )
        return 0
    _print_problems(report.problems)
    if any(
        p.direction is Direction.FORWARD and p.scope.startswith("current")
        for p in report.problems
    ):
        print(
            f"  A change that consumers on release {latest} cannot read must be released "
            f"(hub schemas release, see schemas/README.md), and every consumer upgraded first."
        )
    return 1


def _print_problems(problems: list[Problem]) -> None:
    print(f"INCOMPATIBLE: {len(problems)} problem(s)")
    for direction in [d for d in Direction if any(p.direction is d for p in problems)]:
        print(f"  {direction.value:<8} = {direction.meaning}")
    for problem in problems:
        print(f"  - {problem}")


# ------------------------------------------------------------------------------------ release
def main_release(
    notes: str | None = None,
    schemas_dir: Path | None = None,
    schema_version: int | None = None,
) -> int:
    """Copy the current schema files into ``released/<latest + 1>/`` and add their section to
    ``CHANGES.md``; 0 if released (and the history check then passes), else 1.

    Refuses when the current schemas have the latest release's fingerprint (nothing to
    release), when SCHEMA_VERSION is not the new release's number, when the current schema
    cannot read the data of every release (backward), and when consumers on the latest release
    cannot read the new one (forward) unless ``notes`` say so (:data:`FORWARD_BREAK_PHRASE`).
    ``notes`` (Markdown) are read from standard input when not given.
    """
    schemas_dir = Path(schemas_dir or SCHEMAS_DIR)
    if schema_version is None:
        from hub.contract.models import SCHEMA_VERSION as schema_version
    try:
        current, releases = load_history(schemas_dir)
    except SchemaError as exc:
        print(f"FAILED: {exc}")
        return 1
    number = len(releases) + 1
    if releases and current.fingerprint == releases[-1][1].fingerprint:
        print(
            f"Nothing to release: the current schemas are release {number - 1} "
            f"(same fingerprint {current.fingerprint.hex()})."
        )
        return 1
    if schema_version != number:
        print(
            f"FAILED: this would be release {number}; set SCHEMA_VERSION = {number} in "
            f"hub/contract/models.py first (it is {schema_version})."
        )
        return 1
    problems: list[Problem] = []
    forward: list[Problem] = []
    for release, schema in releases:
        scope = f"release {number} vs release {release.number}"
        found = _scoped(check_schemas(schema, current, f"release {release.number}",
                                      f"release {number}"), scope)
        problems += [p for p in found if p.direction is Direction.BACKWARD]
        if release.number == number - 1:
            problems += [p for p in found if p.direction is Direction.BOTH]
            forward = [p for p in found if p.direction is Direction.FORWARD]
    if problems:
        print(f"FAILED: release {number} would break the data of earlier releases.")
        _print_problems(problems)
        return 1
    if forward:
        print(
            f"Release {number} breaks forward compatibility: consumers on release {number - 1} "
            f"{FORWARD_BREAK_PHRASE} its messages."
        )
        for problem in forward:
            print(f"  - {problem}")
    if notes is None:
        notes = _ask_notes(number, forward_break=bool(forward))
    notes = notes.strip()
    if not notes:
        print("FAILED: the release needs notes: what changed, and who must upgrade first.")
        return 1
    if forward and not announces_forward_break(notes):
        print(
            f"FAILED: the notes must say that consumers on release {number - 1} "
            f"{FORWARD_BREAK_PHRASE} messages of release {number} (the words "
            f"\"{FORWARD_BREAK_PHRASE}\"), and that every consumer is upgraded first."
        )
        return 1
    target = schemas_dir / RELEASED_SUBDIR / str(number)
    files = schema_files(schemas_dir)
    for path in files:
        copy = target / path.relative_to(schemas_dir)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
    changes = schemas_dir / RELEASED_SUBDIR / CHANGES_FILE
    text = changes.read_text(encoding="utf-8") if changes.is_file() else "# Schema releases\n"
    section = f"## {number}\n\nFingerprint: `{current.fingerprint.hex()}`\n\n{notes}\n"
    changes.write_text(f"{text.rstrip()}\n\n{section}", encoding="utf-8")
    print(
        f"Released {number}: {len(files)} files in {target}, fingerprint "
        f"{current.fingerprint.hex()}; notes added to {changes}."
    )
    return main_check(schemas_dir, schema_version)


def _ask_notes(number: int, forward_break: bool) -> str:
    if sys.stdin.isatty():
        print(f"Notes for release {number} (Markdown: what changed", end="")
        if forward_break:
            print(f"; say that consumers on release {number - 1} {FORWARD_BREAK_PHRASE} it", end="")
        print("). End with Ctrl-D:")
    return sys.stdin.read()


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
