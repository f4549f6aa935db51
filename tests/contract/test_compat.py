"""Compatibility of changed schemas with the released ones, in both directions."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from hub.contract.codec import EnvelopeCodec
from hub.contract.compat import Direction, Problem, check_compatibility
from hub.contract.history import HistoryReport, check_history, main_check
from hub.contract.models import SCHEMA_VERSION
from hub.contract.release import main_release
from hub.contract.schemas import load_envelope_schema, schema_files
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR

from .schema_edits import add_payload_record, edit_schema, field, remove_field

OPTIONAL_NOTE = {"name": "note", "type": ["null", "string"], "default": None, "doc": "New."}
NOTE = OPTIONAL_NOTE


def test_identical_schemas_are_compatible(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs

    assert check_compatibility(released, current) == []


def test_removing_a_field_breaks_old_consumers(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    edit_schema(
        current, "payloads/offer_accepted.avsc", lambda s: remove_field(s, "offer_category")
    )

    problems = check_compatibility(released, current)

    assert problems == [
        Problem(
            "Envelope.payload.OfferAccepted.offer_category",
            Direction.FORWARD,
            "field is missing from current data and the released schema gives it no default",
        )
    ]


def test_changing_a_field_type_breaks_both_directions(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    edit_schema(
        current,
        "payloads/handover_requested.avsc",
        lambda s: field(s, "handover_id").update(type="int"),
    )

    problems = check_compatibility(released, current)

    assert [(p.path, p.direction) for p in problems] == [
        ("Envelope.payload.HandoverRequested.handover_id", Direction.BACKWARD),
        ("Envelope.payload.HandoverRequested.handover_id", Direction.FORWARD),
    ]
    assert problems[0].message == (
        "released data has string, the current schema expects int; they do not convert"
    )


def test_adding_an_optional_field_with_default_is_compatible(
    schema_dirs: tuple[Path, Path],
) -> None:
    released, current = schema_dirs
    edit_schema(current, "payloads/offer_made.avsc", lambda s: s["fields"].append(OPTIONAL_NOTE))

    assert check_compatibility(released, current) == []


def test_adding_a_field_without_default_breaks_reading_released_data(
    schema_dirs: tuple[Path, Path],
) -> None:
    released, current = schema_dirs
    new_field = {"name": "note", "type": "string", "doc": "New."}
    edit_schema(current, "payloads/offer_made.avsc", lambda s: s["fields"].append(new_field))

    problems = check_compatibility(released, current)

    assert [(p.path, p.direction) for p in problems] == [
        ("Envelope.payload.OfferMade.note", Direction.BACKWARD)
    ]


def test_removing_an_enum_symbol_is_caught(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    edit_schema(current, "enums/municipality.avsc", lambda s: s["symbols"].remove("werne"))

    problems = check_compatibility(released, current)

    assert problems == [
        Problem(
            "Envelope.municipality",
            Direction.BACKWARD,
            "released data may contain werne, which the enum Municipality of the current schema "
            "lacks (and it has no default)",
        )
    ]


def test_removing_an_enum_symbol_is_allowed_when_the_enum_has_a_default(
    schema_dirs: tuple[Path, Path],
) -> None:
    released, current = schema_dirs
    edit_schema(current, "enums/stall_step.avsc", lambda s: s["symbols"].remove("completion"))
    edit_schema(current, "enums/stall_step.avsc", lambda s: s.update(default="answer"))

    assert check_compatibility(released, current) == []


def test_a_new_event_type_breaks_consumers_on_the_release(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    add_payload_record(current, "OfferArchived")
    edit_schema(current, "enums/event_type.avsc", lambda s: s["symbols"].append("offer_archived"))

    problems = check_compatibility(released, current)

    assert [(p.path, p.direction) for p in problems] == [
        ("Envelope.type", Direction.FORWARD),
        ("Envelope.payload.OfferArchived", Direction.FORWARD),
    ]


def test_widening_int_to_long_only_works_backward(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    edit_schema(current, "envelope.avsc", lambda s: field(s, "schema_version").update(type="long"))

    problems = check_compatibility(released, current)

    assert [(p.path, p.direction) for p in problems] == [
        ("Envelope.schema_version", Direction.FORWARD)
    ]


def test_changing_a_logical_type_is_caught(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    micros = {"type": "long", "logicalType": "timestamp-micros"}
    edit_schema(current, "envelope.avsc", lambda s: field(s, "time").update(type=micros))

    problems = check_compatibility(released, current)

    assert {p.path for p in problems} == {"Envelope.time"}
    assert "values would be misread" in problems[0].message


def test_a_released_file_missing_from_current_is_caught(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    (current / "payloads/offer_made.avsc").rename(current / "payloads/offer-made.avsc")

    problems = check_compatibility(released, current)

    assert problems == [
        Problem(
            "payloads/offer_made.avsc",
            Direction.BOTH,
            "released schema file no longer exists in the current schemas",
        )
    ]


def test_unloadable_schemas_raise_schema_error(schema_dirs: tuple[Path, Path]) -> None:
    released, current = schema_dirs
    (current / "payloads/offer_made.avsc").unlink()

    with pytest.raises(SchemaError, match="unknown type unna.hub.OfferMade"):
        check_compatibility(released, current)


def test_main_check_passes_on_the_repository_and_names_the_releases(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main_check() == 0

    output = capsys.readouterr().out
    assert "current vs release 3 (the latest): backward and forward" in output
    assert "current vs release 2: backward" in output
    assert "current vs release 1: backward" in output
    assert "release 1 -> release 2: backward and forward" in output
    assert "release 2 -> release 3: backward and forward" in output
    assert "release 1 -> 2: [forward] Envelope.type: release 2 data may contain subject_erased" in (
        output
    )
    assert "OK: the current schemas are compatible with release 3 in both directions" in output


def test_check_history_of_the_repository_finds_no_problem() -> None:
    report = check_history(SCHEMAS_DIR)

    assert report.problems == []
    assert [release.number for release, _ in report.releases] == [1, 2, 3]
    assert report.current_is_latest
    assert report.schema_version == 3


def test_main_check_reports_each_problem_and_fails(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema(
        schemas_dir, "payloads/offer_accepted.avsc", lambda s: remove_field(s, "offer_category")
    )

    exit_code = main_check(schemas_dir, schema_version=4)

    output = capsys.readouterr().out
    assert exit_code == 1
    assert "INCOMPATIBLE: 1 problem(s)" in output
    assert (
        "current vs release 3: [forward] Envelope.payload.OfferAccepted.offer_category: "
        "field is missing from current data and the release 3 schema gives it no default"
    ) in output
    assert "must be released (hub schemas release" in output


def test_main_check_fails_when_schemas_cannot_be_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_check(tmp_path) == 1

    assert "FAILED: no *.avsc files" in capsys.readouterr().out


def test_main_check_fails_without_any_release(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(schemas_dir / "released")

    assert main_check(schemas_dir) == 1

    assert f"FAILED: no release in {schemas_dir / 'released'}" in capsys.readouterr().out


def test_main_check_names_a_badly_named_release_directory(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (schemas_dir / "released/2").rename(schemas_dir / "released/2-subject-erased")

    assert main_check(schemas_dir) == 1

    assert (
        "FAILED: " + str(schemas_dir / "released/2-subject-erased") + ": a release directory "
        "must be named by its release number, a positive integer such as 1 or 2 "
        "(found '2-subject-erased')"
    ) in capsys.readouterr().out


# ------------------------------------------------------------------ the history of releases
def changes(schemas_dir: Path) -> Path:
    return schemas_dir / "released" / "CHANGES.md"


def rewrite_changes(schemas_dir: Path, old: str, new: str) -> None:
    text = changes(schemas_dir).read_text()
    assert old in text
    changes(schemas_dir).write_text(text.replace(old, new))


def restate_fingerprint(schemas_dir: Path, number: int) -> None:
    """After a test changed ``released/<number>/``: its new fingerprint in CHANGES.md."""
    text = changes(schemas_dir).read_text()
    section = text.index(f"## {number}\n")
    line = text.index("Fingerprint: `", section)
    new = load_envelope_schema(schemas_dir / "released" / str(number)).fingerprint.hex()
    changes(schemas_dir).write_text(f"{text[:line]}Fingerprint: `{new}`{text[line + 31:]}")


def problem_texts(report: HistoryReport) -> list[str]:
    return [str(problem) for problem in report.problems]


def test_forward_break_between_releases_needs_a_note_in_changes(schemas_dir: Path) -> None:
    rewrite_changes(schemas_dir, "cannot read", "may not understand")

    problems = check_history(schemas_dir, schema_version=3).problems

    assert [(p.scope, p.direction, p.path) for p in problems] == [
        ("release 1 -> 2", Direction.FORWARD, "Envelope.type"),
        ("release 1 -> 2", Direction.FORWARD, "Envelope.payload.SubjectErased"),
        ("", Direction.RELEASE, "CHANGES.md"),
    ]
    assert problems[2].message == (
        "release 2 breaks forward compatibility with release 1, but its section ## 2 does not "
        "say so: it must state that consumers on release 1 cannot read its messages (and so "
        "are upgraded first)"
    )


def test_forward_break_between_releases_passes_with_the_note(schemas_dir: Path) -> None:
    rewrite_changes(schemas_dir, "cannot read", "may not understand")
    rewrite_changes(
        schemas_dir,
        "Fingerprint: `84e7f9255bdcb5b6`\n",
        "Fingerprint: `84e7f9255bdcb5b6`\n\nConsumers on release 1\nCANNOT  read it.\n",
    )

    report = check_history(schemas_dir, schema_version=3)

    assert report.problems == []
    assert [(p.scope, p.path) for p in report.announced] == [
        ("release 1 -> 2", "Envelope.type"),
        ("release 1 -> 2", "Envelope.payload.SubjectErased"),
    ]


def test_the_note_of_another_release_does_not_allow_a_forward_break(schemas_dir: Path) -> None:
    rewrite_changes(schemas_dir, "cannot read", "may not understand")
    rewrite_changes(schemas_dir, "Producers write\n`schema_version` 1.", "Readers cannot read.")

    report = check_history(schemas_dir, schema_version=3)

    assert "CHANGES.md" in [p.path for p in report.problems]


def test_current_schema_must_read_the_data_of_an_old_release(schemas_dir: Path) -> None:
    """Release 3 added a field with a default; the current schema drops the default (the
    fingerprint stays that of release 3). Data of release 3 has the field, data of releases 1
    and 2 does not: only the old releases break."""
    edit_schema(
        schemas_dir / "released/3", "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE)
    )
    restate_fingerprint(schemas_dir, 3)
    required = {key: value for key, value in NOTE.items() if key != "default"}
    edit_schema(schemas_dir, "payloads/offer_made.avsc", lambda s: s["fields"].append(required))

    report = check_history(schemas_dir, schema_version=3)

    assert report.current_is_latest
    assert problem_texts(report) == [
        f"current vs release {number}: [backward] Envelope.payload.OfferMade.note: field is "
        f"missing from release {number} data and the current schema gives it no default"
        for number in (2, 1)
    ]


def test_a_changed_release_is_caught_by_its_fingerprint(schemas_dir: Path) -> None:
    edit_schema(
        schemas_dir / "released/1", "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE)
    )
    changed = load_envelope_schema(schemas_dir / "released/1").fingerprint.hex()

    problems = check_history(schemas_dir, schema_version=3).problems

    assert [str(p) for p in problems] == [
        f"[release] released/1/: the files have fingerprint {changed}, but CHANGES.md says "
        "release 1 has 8fa38b644bac2880: a released schema must never change (its messages "
        "would become undecodable)"
    ]


def test_every_release_needs_a_section_with_its_fingerprint(schemas_dir: Path) -> None:
    text = changes(schemas_dir).read_text()
    changes(schemas_dir).write_text(
        text[: text.index("## 1\n")]
        + text[text.index("## 2\n") :].replace("Fingerprint: `84e7f9255bdcb5b6`", "")
        + "\n## 4\n\nNot yet.\n\n## Later\n"
    )

    problems = check_history(schemas_dir, schema_version=3).problems

    assert [p.message for p in problems] == [
        "heading '## Later' does not start with a release number",
        "no section ## 1 for release 1",
        "section ## 2 does not state the release's fingerprint "
        "(a line: Fingerprint: `84e7f9255bdcb5b6`)",
        "section ## 4, but there is no release 4 (released/4/)",
    ]


@pytest.mark.parametrize(
    "compatible_change,version,expected",
    [
        (False, 3, None),
        (False, 4, "the current schemas are release 3 (same fingerprint), so "
                   "hub.contract.models.SCHEMA_VERSION must be 3, not 4"),
        (False, 2, "the current schemas are release 3 (same fingerprint), so "
                   "hub.contract.models.SCHEMA_VERSION must be 3, not 2"),
        (True, 4, None),
        (True, 3, "the current schemas differ from release 3 (work in progress for release 4), "
                  "so hub.contract.models.SCHEMA_VERSION must be 4, not 3"),
    ],
    ids=["release-3-as-3", "release-3-as-4", "release-3-as-2", "wip-as-4", "wip-as-3"],
)
def test_schema_version_is_the_latest_release_or_the_next_one(
    schemas_dir: Path, compatible_change: bool, version: int, expected: str | None
) -> None:
    if compatible_change:
        edit_schema(schemas_dir, "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE))

    problems = check_history(schemas_dir, schema_version=version).problems

    assert [p.message for p in problems] == ([expected] if expected else [])
    assert all(p.path == "SCHEMA_VERSION" for p in problems)


def test_the_check_reads_schema_version_from_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.contract.models.SCHEMA_VERSION", SCHEMA_VERSION + 1)

    problems = check_history(SCHEMAS_DIR).problems

    assert [p.path for p in problems] == ["SCHEMA_VERSION"]


# ----------------------------------------------------------------------------- hub schemas release
def add_event_type(schemas_dir: Path, name: str = "OfferArchived") -> None:
    add_payload_record(schemas_dir, name)
    symbol = "offer_archived"
    edit_schema(schemas_dir, "enums/event_type.avsc", lambda s: s["symbols"].append(symbol))


def test_release_copies_the_current_schemas_and_appends_the_notes(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_event_type(schemas_dir)
    notes = "Adds offer.archived. Consumers on release 3 cannot read it: upgrade them first."

    assert main_release(notes, schemas_dir, schema_version=4) == 0

    release_4 = schemas_dir / "released/4"
    assert sorted(p.relative_to(release_4) for p in release_4.rglob("*.avsc")) == sorted(
        p.relative_to(schemas_dir) for p in schema_files(schemas_dir)
    )
    current = load_envelope_schema(schemas_dir)
    assert load_envelope_schema(release_4).fingerprint == current.fingerprint
    assert changes(schemas_dir).read_text().endswith(
        f"\n\n## 4\n\nFingerprint: `{current.fingerprint.hex()}`\n\n{notes}\n"
    )
    output = capsys.readouterr().out
    assert "Release 4 breaks forward compatibility" in output
    assert "release 3 -> release 4: backward and forward" in output
    assert "OK: the current schemas are compatible with release 4" in output
    assert len(EnvelopeCodec.from_directory(schemas_dir).known_fingerprints) == 4


def test_release_refuses_a_forward_break_the_notes_do_not_announce(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_event_type(schemas_dir)
    before = changes(schemas_dir).read_text()

    assert main_release("Adds offer.archived.", schemas_dir, schema_version=4) == 1

    assert "FAILED: the notes must say that consumers on release 3 cannot read" in (
        capsys.readouterr().out
    )
    assert not (schemas_dir / "released/4").exists()
    assert changes(schemas_dir).read_text() == before


def test_release_refuses_a_schema_that_cannot_read_old_data(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema(schemas_dir, "enums/municipality.avsc", lambda s: s["symbols"].remove("werne"))

    assert main_release("Werne leaves. Nobody cannot read.", schemas_dir, schema_version=4) == 1

    output = capsys.readouterr().out
    assert "FAILED: release 4 would break the data of earlier releases." in output
    for number in (1, 2, 3):
        assert f"release 4 vs release {number}: [backward] Envelope.municipality" in output
    assert not (schemas_dir / "released/4").exists()


def test_release_refuses_when_nothing_changed(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_release("Nothing.", schemas_dir, schema_version=4) == 1

    assert "Nothing to release: the current schemas are release 3" in capsys.readouterr().out
    assert not (schemas_dir / "released/4").exists()


def test_release_refuses_a_schema_version_that_is_not_the_new_number(
    schemas_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema(schemas_dir, "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE))

    assert main_release("Adds a note.", schemas_dir, schema_version=3) == 1

    assert "set SCHEMA_VERSION = 4 in hub/contract/models.py first" in capsys.readouterr().out
    assert not (schemas_dir / "released/4").exists()


def test_release_reads_the_notes_from_stdin(
    schemas_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema(schemas_dir, "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE))
    monkeypatch.setattr("sys.stdin", io.StringIO("Adds an optional note to offer.made.\n"))

    assert main_release(None, schemas_dir, schema_version=4) == 0

    assert changes(schemas_dir).read_text().endswith("Adds an optional note to offer.made.\n")
    assert "OK:" in capsys.readouterr().out


def test_release_refuses_empty_notes(
    schemas_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_schema(schemas_dir, "payloads/offer_made.avsc", lambda s: s["fields"].append(NOTE))
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))

    assert main_release(None, schemas_dir, schema_version=4) == 1

    assert "FAILED: the release needs notes" in capsys.readouterr().out
    assert not (schemas_dir / "released/4").exists()
