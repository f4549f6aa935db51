"""``schemas/released/CHANGES.md``: one section ``## <N>`` per release, with the release's
fingerprint and its notes; a forward break must be announced there (:data:`FORWARD_BREAK_PHRASE`).
"""

from __future__ import annotations

import re
from pathlib import Path

from hub.contract.compat import Problem, release_problem
from hub.contract.schemas import CHANGES_FILE, RELEASED_SUBDIR, EnvelopeSchema, Release

FORWARD_BREAK_PHRASE = "cannot read"
"""A release whose ``CHANGES.md`` section contains these words (any case, across line breaks)
may break forward compatibility with the release before it."""
_FINGERPRINT_LINE = re.compile(
    r"^fingerprint:\s*`?([0-9a-f]{16})`?\s*$", re.IGNORECASE | re.MULTILINE
)
_SECTION_HEADING = re.compile(r"^##(?!#)(.*)$")


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
            problems.append(release_problem(
                CHANGES_FILE, f"heading {line.strip()!r} does not start with a release number"
            ))
        elif number in sections:
            problems.append(release_problem(CHANGES_FILE, f"two sections ## {number}"))
        else:
            sections[number] = []
    return {number: "\n".join(lines).strip() for number, lines in sections.items()}, problems


def check_notes(
    notes: dict[int, str], releases: list[tuple[Release, EnvelopeSchema]]
) -> list[Problem]:
    """Every release has a section stating its fingerprint; every section has a release."""
    problems = []
    numbers = {release.number for release, _ in releases}
    for release, schema in releases:
        section = notes.get(release.number)
        if section is None:
            problems.append(release_problem(
                CHANGES_FILE, f"no section ## {release.number} for release {release.number}"
            ))
            continue
        stated = _FINGERPRINT_LINE.search(section)
        if stated is None:
            problems.append(release_problem(
                CHANGES_FILE,
                f"section ## {release.number} does not state the release's fingerprint "
                f"(a line: Fingerprint: `{schema.fingerprint.hex()}`)",
            ))
        elif stated.group(1).lower() != schema.fingerprint.hex():
            problems.append(release_problem(
                f"{RELEASED_SUBDIR}/{release.number}/",
                f"the files have fingerprint {schema.fingerprint.hex()}, but {CHANGES_FILE} "
                f"says release {release.number} has {stated.group(1).lower()}: a released "
                f"schema must never change (its messages would become undecodable)",
            ))
    problems += [
        release_problem(
            CHANGES_FILE,
            f"section ## {number}, but there is no release {number} ({RELEASED_SUBDIR}/{number}/)",
        )
        for number in sorted(notes.keys() - numbers)
    ]
    return problems
