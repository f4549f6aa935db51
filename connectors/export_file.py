"""Reading agency export files: ``;``-separated CSV with German column names.

Files are streamed: a first pass checks the encoding and counts the lines (for progress),
the second yields one row at a time, so memory stays flat on large exports. A file that
cannot be read as a whole (wrong delimiter, no header, missing columns, undecodable bytes)
fails in :func:`open_export`, before anything is published. A row that is broken in itself
(too few or too many fields, a field too long for the CSV reader, NUL bytes) comes with its
``problems``; it never stops the file.
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
MAX_FIELD_CHARS = 100_000
"""A longer field makes its row an error (no export has such values; Python's CSV reader
refuses fields above 131,072 characters anyway, unless a program raised that limit)."""


@dataclass(frozen=True)
class ExportRow:
    line: int  # line number in the file where the row starts (the header is line 1)
    fields: dict[str, str]
    problems: tuple[str, ...] = ()  # the row is broken as CSV: its values are not reliable
    readable: bool = True  # False: the CSV reader could not take the row apart (no fields)

    def get(self, column: str) -> str:
        return (self.fields.get(column) or "").strip()


@dataclass(frozen=True)
class ExportFile:
    path: Path
    encoding: str
    columns: tuple[str, ...]
    lines: int  # physical lines after the header (an upper bound of the rows)

    def rows(self) -> Iterator[ExportRow]:
        """The data rows, one at a time; blank lines are skipped. No row stops the file: a
        row with too few or too many fields, a field longer than ``MAX_FIELD_CHARS`` or NUL
        bytes comes with ``problems`` (which never quote its values)."""
        with open(self.path, encoding=self.encoding, newline="") as fh:
            fh.readline()  # the header line, as open_export read it
            lines = _Lines(fh)
            reader = csv.reader(lines, delimiter=";", quotechar='"')
            while True:
                line = reader.line_num + 2  # where the next row starts: after the header
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a field above csv.field_size_limit()
                    yield ExportRow(line, {}, (_unreadable(exc),), readable=False)
                    continue
                if not any(v.strip() for v in values):
                    continue
                yield ExportRow(line, dict(zip(self.columns, values, strict=False)),
                                self._problems(values, cut_off=lines.ended))

    def _problems(self, values: list[str], cut_off: bool) -> tuple[str, ...]:
        problems = []
        if cut_off:  # the reader asked for another line to finish the row: none was left
            problems.append("the file ends inside a quoted field (a quote left open, or the "
                            "file is cut off)")
        if len(values) < len(self.columns):
            open_quote = not cut_off and any("\n" in v or "\r" in v for v in values)
            problems.append(f"row has only {len(values)} of {len(self.columns)} fields"
                            + (" (a quote left open?)" if open_quote else ""))
        elif any(v.strip() for v in values[len(self.columns):]):
            problems.append(f"row has {len(values)} fields, the header only "
                            f"{len(self.columns)} (a ';' inside an unquoted value?)")
        if any(len(v) > MAX_FIELD_CHARS for v in values):
            problems.append(f"row has a field longer than {MAX_FIELD_CHARS} characters")
        if any("\x00" in v for v in values):
            problems.append("row contains NUL bytes (a damaged export?)")
        return tuple(problems)


class _Lines:
    """The lines of a file, for the CSV reader; ``ended`` once it asked for one past the end
    (it does so only to finish a row whose quoted field is still open)."""

    def __init__(self, fh):
        self._fh = fh
        self.ended = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            return next(self._fh)
        except StopIteration:
            self.ended = True
            raise


def _unreadable(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return (f"row is not readable as CSV: a field is longer than "
                f"{csv.field_size_limit()} characters")
    return f"row is not readable as CSV: {exc}"


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
    if "\x00" in header_line:
        raise InputError(f"{path}: the header line contains NUL bytes (a UTF-16 file? save "
                         "it as UTF-8, or name it with --encoding utf-16)")
    try:
        columns = tuple(c.strip() for c in next(csv.reader([header_line], delimiter=";")))
    except csv.Error as exc:
        raise InputError(f"{path}: the header line is not readable as CSV: "
                         f"{_unreadable(exc).removeprefix('row is not readable as CSV: ')}"
                         ) from None
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
