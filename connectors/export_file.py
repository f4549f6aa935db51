"""Reading agency export files: ``;``-separated CSV with German column names.

A file that cannot be read as a whole (wrong delimiter, no header, missing columns, wrong
encoding) fails before anything is published; single bad rows are reported per row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.errors import InputError

ENCODINGS = ("utf-8-sig", "cp1252")


@dataclass(frozen=True)
class ExportRow:
    line: int  # line number in the file (the header is line 1)
    fields: dict[str, str]

    def get(self, column: str) -> str:
        return (self.fields.get(column) or "").strip()


@dataclass(frozen=True)
class ExportFile:
    path: Path
    encoding: str
    columns: tuple[str, ...]
    rows: tuple[ExportRow, ...]


def agency_from_filename(path: Path) -> str | None:
    """``jugendamt-kamen_export.csv`` or ``einwilligungen_jugendamt-kamen.csv`` -> the id."""
    stem = Path(path).stem.lower()
    for pattern in (r"^(?P<id>[a-z0-9-]+)_export$", r"^einwilligungen_(?P<id>[a-z0-9-]+)$"):
        match = re.match(pattern, stem)
        if match:
            return match.group("id")
    return None


def decode_bytes(data: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    """Text and the encoding used: the given one, else UTF-8 (with or without BOM), else
    Windows-1252."""
    for enc in (encoding,) if encoding else ENCODINGS:
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError as exc:
            if encoding:
                raise InputError(
                    f"{path}: not readable as {encoding} (byte {exc.start}); "
                    "try another --encoding"
                ) from None
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}") from None
    raise InputError(f"{path}: neither UTF-8 nor Windows-1252 text; name it with --encoding")


def read_export(path: Path, required: Iterable[str], encoding: str | None = None) -> ExportFile:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    text, used = decode_bytes(data, path, encoding)
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}: empty file, or no header line")
    header_line = lines[0]
    required = list(required)
    if ";" not in header_line:
        other = next((d for d in (",", "\t", "|") if d in header_line), None)
        hint = f" (it uses {other!r})" if other else ""
        raise InputError(
            f"{path}: the header is not separated by ';'{hint}; agency exports are "
            "semicolon-separated CSV"
        )
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=";", quotechar='"')
    columns = tuple(c.strip() for c in next(reader))
    missing = [c for c in required if c not in columns]
    if missing:
        if not set(required) & set(columns):
            raise InputError(
                f"{path}: no header line with the expected columns (expected "
                f"{'; '.join(required)})"
            )
        raise InputError(f"{path}: missing columns: {', '.join(missing)}")
    rows = []
    for values in reader:
        line_no = reader.line_num
        if not any(v.strip() for v in values):
            continue
        fields = dict(zip(columns, values, strict=False))
        if len(values) < len(columns):
            fields["__short__"] = f"{len(values)} of {len(columns)} fields"
        rows.append(ExportRow(line_no, fields))
    return ExportFile(path, used, columns, tuple(rows))
