"""The golden stream (``tests/analytics/golden.py``): the aggregator publishes byte for byte
the cells recorded in ``golden_cells.jsonl`` (suppressed cells, late changes, tombstones, an
erasure, a rebuild), however it keeps its facts, and however many partitions ``hub.facts``
has (no broker)."""

from __future__ import annotations

import itertools

import pytest

from hub.analytics.aggregate import Aggregator
from hub.analytics.rocks import RocksStore
from tests.analytics.golden import (
    as_lines,
    golden_log,
    published_rounds,
    published_rounds_partitioned,
    published_rounds_restarted,
    read_fixture,
)


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


@pytest.fixture(scope="module")
def expected():
    rounds = read_fixture()
    assert sum(map(len, rounds)) > 1000  # the fixture is there and is not empty
    return rounds


def test_the_golden_stream_publishes_the_recorded_cells_byte_for_byte(expected):
    assert_same_rounds(published_rounds(golden_log(), Aggregator), expected)


def test_with_the_facts_in_rocksdb_the_same_cells(expected, tmp_path):
    stores = itertools.count()
    assert_same_rounds(published_rounds(
        golden_log(), lambda: Aggregator(5, RocksStore(tmp_path / str(next(stores))))),
        expected)


def test_a_restart_that_keeps_the_store_reads_on_and_publishes_the_same(expected, tmp_path):
    assert_same_rounds(published_rounds_restarted(golden_log(), tmp_path), expected)


@pytest.mark.parametrize("partitions", [2, 3])
def test_partitioned_facts_publish_the_same_cells(expected, partitions):
    published = published_rounds_partitioned(golden_log(), partitions)
    assert [len(cells) for cells in published] == [len(cells) for cells in expected]
    assert_same_rounds([sorted(cells) for cells in published],
                       [sorted(cells) for cells in expected])


def test_partitioned_facts_in_rocksdb_publish_the_same_cells(expected, tmp_path):
    stores = itertools.count()  # the rebuild: new stores
    published = published_rounds_partitioned(
        golden_log(), 3, lambda p: RocksStore(tmp_path / f"hub.facts-{p}-{next(stores)}"))
    assert_same_rounds([sorted(cells) for cells in published],
                       [sorted(cells) for cells in expected])
