"""Loading the schema files: the envelope is assembled from them, mistakes are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.contract.schemas import Release, list_releases, load_envelope_schema
from hub.errors import SchemaError
from hub.paths import SCHEMAS_DIR

from .schema_edits import edit_schema, field


def test_envelope_is_assembled_from_every_file_except_the_releases() -> None:
    layout = ["*.avsc", "enums/*.avsc", "payloads/*.avsc"]
    expected = {
        path.relative_to(SCHEMAS_DIR).as_posix()
        for pattern in layout
        for path in SCHEMAS_DIR.glob(pattern)
    }

    assert set(load_envelope_schema().files) == expected
    assert len(expected) == 20  # envelope, 6 enums, 13 payloads


def test_assembled_schema_is_self_contained_avro() -> None:
    assembled = load_envelope_schema().assembled
    text = json.dumps(assembled)

    assert text.count('"name": "unna.hub.StallStep"') == 1
    assert field(assembled, "payload")["type"][0]["name"] == "unna.hub.ConsentGranted"


def test_unknown_type_reference_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    edit_schema(current, "envelope.avsc", lambda s: field(s, "purpose").update(type="Zweck"))

    with pytest.raises(SchemaError, match="unknown type unna.hub.Zweck: no schema file defines it"):
        load_envelope_schema(current)


def test_type_defined_in_two_files_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    (current / "enums/purpose_copy.avsc").write_text((current / "enums/purpose.avsc").read_text())

    with pytest.raises(SchemaError, match="unna.hub.Purpose is defined twice"):
        load_envelope_schema(current)


def test_file_the_envelope_does_not_use_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    unused = {"type": "enum", "name": "Unused", "namespace": "unna.hub", "symbols": ["a"]}
    (current / "enums/unused.avsc").write_text(json.dumps(unused))

    with pytest.raises(SchemaError, match="schema files not used by the envelope: enums/unused"):
        load_envelope_schema(current)


def test_invalid_json_is_named(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    (current / "payloads/offer_made.avsc").write_text('{"type": "record",')

    with pytest.raises(SchemaError, match="cannot read schema file payloads/offer_made.avsc"):
        load_envelope_schema(current)


def test_schema_fastavro_rejects_is_reported(schema_dirs: tuple[Path, Path]) -> None:
    _, current = schema_dirs
    edit_schema(current, "envelope.avsc", lambda s: field(s, "recipient").update(default=42))

    with pytest.raises(SchemaError, match="invalid envelope schema"):
        load_envelope_schema(current)


def test_releases_are_listed_by_number() -> None:
    released = SCHEMAS_DIR / "released"

    assert list_releases() == [Release(n, released / str(n)) for n in (1, 2, 3)]


def test_releases_are_sorted_as_numbers_not_as_text(tmp_path: Path) -> None:
    for number in range(1, 12):
        (tmp_path / "released" / str(number)).mkdir(parents=True)
    (tmp_path / "released" / "CHANGES.md").write_text("# Schema releases\n")

    assert [release.number for release in list_releases(tmp_path)] == list(range(1, 12))


def test_no_released_directory_means_no_release(tmp_path: Path) -> None:
    assert list_releases(tmp_path) == []


@pytest.mark.parametrize("name", ["v3", "0", "01", "-1", "2.1", "latest"])
def test_release_directory_not_named_by_a_positive_number_is_an_error(
    schemas_dir: Path, name: str
) -> None:
    (schemas_dir / "released" / name).mkdir()

    with pytest.raises(SchemaError) as exc:
        list_releases(schemas_dir)

    assert str(exc.value) == (
        f"{schemas_dir / 'released' / name}: a release directory must be named by its release "
        f"number, a positive integer such as 1 or 2 (found {name!r})"
    )


def test_gap_in_the_release_numbers_is_an_error(schemas_dir: Path) -> None:
    (schemas_dir / "released/2").rename(schemas_dir / "released/4")

    with pytest.raises(SchemaError, match=r"numbered 1, 2, 3 \.\.\. without a gap: missing 2"):
        list_releases(schemas_dir)


def test_schema_file_left_in_the_old_flat_layout_is_an_error(schemas_dir: Path) -> None:
    released = schemas_dir / "released"
    (released / "envelope.avsc").write_text((released / "1/envelope.avsc").read_text())

    with pytest.raises(SchemaError, match="envelope.avsc: only release directories"):
        list_releases(schemas_dir)
