"""Compatibility of changed schemas with the released ones, in both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.contract.compat import Direction, Problem, check_compatibility, main_check
from hub.errors import SchemaError

from .schema_edits import add_payload_record, edit_schema, field, remove_field

OPTIONAL_NOTE = {"name": "note", "type": ["null", "string"], "default": None, "doc": "New."}


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


def test_main_check_reports_ok_for_the_repository_schemas(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main_check() == 0

    assert "OK: the current schemas are compatible" in capsys.readouterr().out


def test_main_check_reports_each_problem_and_fails(
    schema_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    released, current = schema_dirs
    edit_schema(
        current, "payloads/offer_accepted.avsc", lambda s: remove_field(s, "offer_category")
    )

    exit_code = main_check(released, current)

    output = capsys.readouterr().out
    assert exit_code == 1
    assert "INCOMPATIBLE: 1 problem(s)" in output
    assert "[forward] Envelope.payload.OfferAccepted.offer_category: field is missing" in output


def test_main_check_fails_when_schemas_cannot_be_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main_check(tmp_path / "nothing", tmp_path) == 1

    assert "FAILED: no *.avsc files" in capsys.readouterr().out
