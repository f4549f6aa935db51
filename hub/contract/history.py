"""The release history (``schemas/released/<N>/``) against the current schemas and itself:
``hub schemas check``.

:func:`check_history` applies the rules of :mod:`hub.contract.compat` to the whole history:

* the current schemas vs. the latest release, both directions;
* the current schemas vs. every earlier release, backward (the codec reads every release's
  messages with the current schema);
* each release vs. the one before it, both directions; a **forward** break there is accepted
  only when the later release's section in ``released/CHANGES.md`` announces it, i.e. its text
  contains the words "cannot read" (:data:`~hub.contract.notes.FORWARD_BREAK_PHRASE`): every
  consumer must then be upgraded before any producer;
* ``CHANGES.md`` has one section ``## <N>`` per release, each stating the release's fingerprint
  (a line ``Fingerprint: `<16 hex digits>` ``), so that a change to a released file is caught;
* :data:`hub.contract.models.SCHEMA_VERSION` is the latest release's number when the current
  schemas have its fingerprint, and the next number when they differ (work in progress).

:func:`main_check` prints what it compared and found.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import pairwise
from pathlib import Path

from hub.contract.compat import Direction, Problem, check_schemas, release_problem, scoped
from hub.contract.notes import (
    FORWARD_BREAK_PHRASE,
    announces_forward_break,
    check_notes,
    read_release_notes,
)
from hub.contract.schemas import (
    CHANGES_FILE,
    RELEASED_SUBDIR,
    EnvelopeSchema,
    Release,
    list_releases,
    load_envelope_schema,
)
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR


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
    _check_current(report)
    _check_releases(report, notes)
    report.checked.append(f"{CHANGES_FILE}: a section with the fingerprint of each release")
    report.problems += check_notes(notes, releases)
    _check_schema_version(report)
    return report


def _check_current(report: HistoryReport) -> None:
    """The current schemas vs. the latest release both ways, vs. every earlier one backward."""
    current = report.current
    latest, latest_schema = report.latest
    scope = f"current vs release {latest.number}"
    report.checked.append(f"{scope} (the latest): backward and forward")
    report.problems += scoped(
        check_schemas(latest_schema, current, f"release {latest.number}"), scope
    )
    for release, schema in reversed(report.releases[:-1]):
        scope = f"current vs release {release.number}"
        report.checked.append(f"{scope}: backward")
        problems = check_schemas(schema, current, f"release {release.number}")
        report.problems += scoped(
            [p for p in problems if p.direction is Direction.BACKWARD], scope
        )


def _check_releases(report: HistoryReport, notes: dict[int, str]) -> None:
    """Each release vs. the one before it; a forward break must be announced in ``notes``."""
    for (older, older_schema), (newer, newer_schema) in pairwise(report.releases):
        scope = f"release {older.number} -> {newer.number}"
        report.checked.append(
            f"release {older.number} -> release {newer.number}: backward and forward"
        )
        problems = scoped(
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
            report.problems.append(release_problem(
                CHANGES_FILE,
                f"release {newer.number} breaks forward compatibility with release "
                f"{older.number}, but its section ## {newer.number} does not say so: it must "
                f"state that consumers on release {older.number} {FORWARD_BREAK_PHRASE} its "
                f"messages (and so are upgraded first)",
            ))


def _check_schema_version(report: HistoryReport) -> None:
    """SCHEMA_VERSION is the latest release, or the next one while the schemas differ."""
    latest, schema_version = report.latest[0], report.schema_version
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
        report.problems.append(release_problem(
            "SCHEMA_VERSION",
            f"{state}, so hub.contract.models.SCHEMA_VERSION must be {expected}, "
            f"not {schema_version}",
        ))


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
    print_problems(report.problems)
    if any(
        p.direction is Direction.FORWARD and p.scope.startswith("current")
        for p in report.problems
    ):
        print(
            f"  A change that consumers on release {latest} cannot read must be released "
            f"(hub schemas release, see schemas/README.md), and every consumer upgraded first."
        )
    return 1


def print_problems(problems: list[Problem]) -> None:
    print(f"INCOMPATIBLE: {len(problems)} problem(s)")
    for direction in [d for d in Direction if any(p.direction is d for p in problems)]:
        print(f"  {direction.value:<8} = {direction.meaning}")
    for problem in problems:
        print(f"  - {problem}")
