"""Reading the analytics topics for the report: the latest record of every cell."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hub.analytics.records import RECORD_OF_TOPIC, decode_record
from hub.errors import DecodeError
from hub.kafka_io import Kafka, read_to_end
from hub.report.model import build_report
from hub.report.render import render


def latest_cells(bootstrap: Kafka, progress: Callable[[str], None] = lambda _: None
                 ) -> dict[str, list[dict[str, Any]]]:
    """topic -> the latest record of each cell key (tombstones remove the cell)."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for topic in RECORD_OF_TOPIC:
        by_key: dict[bytes, dict[str, Any]] = {}
        unreadable = 0
        for record in read_to_end(bootstrap, topic, "unna-hub-report"):
            if record.value is None:
                by_key.pop(record.key, None)
                continue
            try:
                by_key[record.key] = decode_record(topic, record.value)
            except DecodeError:
                unreadable += 1
        cells[topic] = list(by_key.values())
        note = f", {unreadable} unreadable records skipped" if unreadable else ""
        progress(f"read {topic}: {len(by_key)} cells{note}")
    return cells


def write_report(bootstrap: Kafka, start: date, end: date, out: Path, now: datetime,
                 progress: Callable[[str], None] = lambda m: print(m, file=sys.stderr)
                 ) -> Path:
    report = build_report(latest_cells(bootstrap, progress), start, end, now)
    out.write_text(render(report), encoding="utf-8")
    towns = sum(not s.empty for s in report.sections)
    progress(f"wrote {out} ({out.stat().st_size // 1024} KB): {report.cells_read} cells of "
             f"{start} to {end}, {towns} of {len(report.sections)} municipalities with data")
    return out
