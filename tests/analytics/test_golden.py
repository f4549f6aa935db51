"""The golden stream (``tests/analytics/golden.py``): the aggregator publishes byte for byte
the cells recorded in ``golden_cells.jsonl`` (suppressed cells, late changes, tombstones, an
erasure, a rebuild), however it keeps its facts (no broker)."""

from __future__ import annotations

from hub.analytics.aggregate import Aggregator
from tests.analytics.golden import as_lines, golden_log, published_rounds, read_fixture


def assert_same_rounds(published, expected) -> None:
    assert len(published) == len(expected)
    for number, (got, wanted) in enumerate(zip(published, expected, strict=True)):
        if got == wanted:
            continue
        got_lines, wanted_lines = as_lines([got]), as_lines([wanted])
        first = next((i for i, (a, b) in enumerate(zip(got_lines, wanted_lines, strict=False))
                      if a != b), min(len(got_lines), len(wanted_lines)))
        raise AssertionError(
            f"round {number}: {len(got)} cells published, {len(wanted)} recorded; the first "
            f"difference at cell {first}:\n"
            f"  got      {got_lines[first] if first < len(got_lines) else '(none)'}\n"
            f"  recorded {wanted_lines[first] if first < len(wanted_lines) else '(none)'}")


def test_the_golden_stream_publishes_the_recorded_cells_byte_for_byte():
    expected = read_fixture()
    assert sum(map(len, expected)) > 1000  # the fixture is there and is not empty
    assert_same_rounds(published_rounds(golden_log(), Aggregator), expected)
