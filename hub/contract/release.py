"""``hub schemas release``: the current schema files become the next release
(``schemas/released/<N>/``), with their section in ``CHANGES.md``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hub.contract.compat import Direction, Problem, check_schemas, scoped
from hub.contract.history import load_history, main_check, print_problems
from hub.contract.notes import FORWARD_BREAK_PHRASE, announces_forward_break
from hub.contract.schemas import (
    CHANGES_FILE,
    RELEASED_SUBDIR,
    EnvelopeSchema,
    Release,
    schema_files,
)
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR


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
    cannot read the new one (forward) unless ``notes`` say so
    (:data:`~hub.contract.notes.FORWARD_BREAK_PHRASE`). ``notes`` (Markdown) are read from
    standard input when not given.
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
    if not _is_next_release(current, releases, number, schema_version):
        return 1
    forward = _forward_breaks(current, releases, number)
    if forward is None:
        return 1
    notes = _release_notes(notes, number, forward)
    if notes is None:
        return 1
    _write_release(schemas_dir, number, current, notes)
    return main_check(schemas_dir, schema_version)


def _is_next_release(current: EnvelopeSchema, releases: list[tuple[Release, EnvelopeSchema]],
                     number: int, schema_version: int) -> bool:
    """Whether the current schemas differ from the latest release and SCHEMA_VERSION is
    ``number``; says why not."""
    if releases and current.fingerprint == releases[-1][1].fingerprint:
        print(
            f"Nothing to release: the current schemas are release {number - 1} "
            f"(same fingerprint {current.fingerprint.hex()})."
        )
        return False
    if schema_version != number:
        print(
            f"FAILED: this would be release {number}; set SCHEMA_VERSION = {number} in "
            f"hub/contract/models.py first (it is {schema_version})."
        )
        return False
    return True


def _forward_breaks(current: EnvelopeSchema, releases: list[tuple[Release, EnvelopeSchema]],
                    number: int) -> list[Problem] | None:
    """What consumers on the latest release cannot read of release ``number`` (shown); None
    when the new release would break the data of an earlier one (backward)."""
    problems: list[Problem] = []
    forward: list[Problem] = []
    for release, schema in releases:
        scope = f"release {number} vs release {release.number}"
        found = scoped(check_schemas(schema, current, f"release {release.number}",
                                     f"release {number}"), scope)
        problems += [p for p in found if p.direction is Direction.BACKWARD]
        if release.number == number - 1:
            problems += [p for p in found if p.direction is Direction.BOTH]
            forward = [p for p in found if p.direction is Direction.FORWARD]
    if problems:
        print(f"FAILED: release {number} would break the data of earlier releases.")
        print_problems(problems)
        return None
    if forward:
        print(
            f"Release {number} breaks forward compatibility: consumers on release {number - 1} "
            f"{FORWARD_BREAK_PHRASE} its messages."
        )
        for problem in forward:
            print(f"  - {problem}")
    return forward


def _release_notes(notes: str | None, number: int, forward: list[Problem]) -> str | None:
    """The release's notes (asked for when not given); None when they are empty or do not
    announce a forward break."""
    if notes is None:
        notes = _ask_notes(number, forward_break=bool(forward))
    notes = notes.strip()
    if not notes:
        print("FAILED: the release needs notes: what changed, and who must upgrade first.")
        return None
    if forward and not announces_forward_break(notes):
        print(
            f"FAILED: the notes must say that consumers on release {number - 1} "
            f"{FORWARD_BREAK_PHRASE} messages of release {number} (the words "
            f"\"{FORWARD_BREAK_PHRASE}\"), and that every consumer is upgraded first."
        )
        return None
    return notes


def _write_release(schemas_dir: Path, number: int, current: EnvelopeSchema, notes: str) -> None:
    """Copy the schema files into ``released/<number>/`` and add the section to CHANGES.md."""
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


def _ask_notes(number: int, forward_break: bool) -> str:
    if sys.stdin.isatty():
        print(f"Notes for release {number} (Markdown: what changed", end="")
        if forward_break:
            print(f"; say that consumers on release {number - 1} {FORWARD_BREAK_PHRASE} it", end="")
        print("). End with Ctrl-D:")
    return sys.stdin.read()
