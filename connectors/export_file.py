"""Reading agency export files: ``;``-separated CSV with German column names.

Files are streamed: a first pass checks the encoding and counts the lines (for progress),
the second yields one row at a time, so memory stays flat on large exports. A file that
cannot be read as a whole (wrong delimiter, no header, missing columns, undecodable bytes)
fails in :func:`open_export`, before anything is published.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.errors import InputError

ENCODINGS = ("utf-8-sig", "cp1252")
CHUNK = 1 << 20


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
    lines: int  # physical lines after the header (an upper bound of the rows)

    def rows(self) -> Iterator[ExportRow]:
        """The data rows, one at a time; blank lines are skipped."""
        with open(self.path, encoding=self.encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=";", quotechar='"')
            next(reader, None)
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                fields = dict(zip(self.columns, values, strict=False))
                if len(values) < len(self.columns):
                    fields["__short__"] = f"{len(values)} of {len(self.columns)} fields"
                yield ExportRow(reader.line_num, fields)


def agency_from_filename(path: Path) -> str | None:
    """``jugendamt-kamen_export.csv`` or ``einwilligungen_jugendamt-kamen.csv`` -> the id."""
    stem = Path(path).stem.lower()
    for pattern in (r"^(?P<id>[a-z0-9-]+)_export$", r"^einwilligungen_(?P<id>[a-z0-9-]+)$"):
        match = re.match(pattern, stem)
        if match:
            return match.group("id")
    return None


def _detect(path: Path, encoding: str | None) -> tuple[str, int]:
    """The encoding that decodes the whole file, and its number of lines."""
    candidates = (encoding,) if encoding else ENCODINGS
    for enc in candidates:
        try:
            decoder = codecs.getincrementaldecoder(enc)()
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}") from None
        lines = 0
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    decoder.decode(chunk)
                    lines += chunk.count(b"\n")
                decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if encoding:
                raise InputError(f"{path}: not readable as {encoding} ({exc.reason}); "
                                 "try another --encoding") from None
            continue
        return enc, lines
    raise InputError(f"{path}: neither UTF-8 nor Windows-1252 text; name it with --encoding")


def open_export(path: Path, required: Iterable[str], encoding: str | None = None) -> ExportFile:
    """Check the file as a whole and return it, ready to stream its rows."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        used, lines = _detect(path, encoding)
        with open(path, encoding=used, newline="") as fh:
            header_line = fh.readline()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    if not header_line.strip():
        raise InputError(f"{path}: empty file, or no header line")
    columns = tuple(c.strip() for c in next(csv.reader([header_line], delimiter=";")))
    check_header(path, columns, header_line, list(required))
    return ExportFile(path, used, columns, lines)


def read_columns(path: Path, encoding: str | None = None) -> tuple[str, ...]:
    """Only the header's column names (to tell which format a file is in)."""
    return open_export(path, (), encoding).columns


def check_header(path: Path, columns: tuple[str, ...], header_line: str,
                 required: list[str]) -> None:
    if ";" not in header_line:
        other = next((d for d in (",", "\t", "|") if d in header_line), None)
        hint = f" (it uses {other!r})" if other else ""
        raise InputError(
            f"{path}: the header is not separated by ';'{hint}; agency exports are "
            "semicolon-separated CSV"
        )
    missing = [c for c in required if c not in columns]
    if not missing:
        return
    if not set(required) & set(columns):
        raise InputError(
            f"{path}: no header line with the expected columns (expected "
            f"{'; '.join(required)})"
        )
    raise InputError(f"{path}: missing columns: {', '.join(missing)}")
