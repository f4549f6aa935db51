"""Batch file names and what a folder of them says about the delivery position (pure)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.delivery.batchfiles import BatchFileName, stale_temp_files, written_positions

WHEN = datetime(2026, 9, 16, 7, 5, 9, tzinfo=UTC)


def name(partition, first, last, agency="jugendamt-selm", when=WHEN):
    return BatchFileName(agency, when, partition, first, last).name


def test_name_pattern():
    assert name(2, 100, 199) == "jugendamt-selm_inbox_20260916-070509_p2_100-199.csv"


def test_the_time_in_the_name_is_utc():
    berlin_summer = timezone(timedelta(hours=2))
    assert name(0, 0, 0, when=WHEN.astimezone(berlin_summer)) == name(0, 0, 0)


def test_parse_round_trip():
    parsed = BatchFileName.parse("jugendamt-selm", name(1, 5, 9))
    assert parsed == BatchFileName("jugendamt-selm", WHEN, 1, 5, 9)


@pytest.mark.parametrize("filename", [
    name(0, 1, 2, agency="jugendamt-werne"),               # another agency's file
    name(0, 1, 2, agency="jugendamt-selm-nord"),           # an agency whose id starts alike
    "jugendamt-selm_inbox_20260916-070509_p0_9-1.csv",     # not a range
    "jugendamt-selm_inbox_20261399-070509_p0_1-2.csv",     # not a time
    "jugendamt-selm_inbox_20260916-070509_p0_1-2.csv.bak",
    "." + name(0, 1, 2) + ".tmp",                          # still being written
    "jugendamt-selm_export.csv", "notes.txt",
])
def test_other_names_are_not_batch_files(filename):
    assert BatchFileName.parse("jugendamt-selm", filename) is None


def test_an_impossible_range_is_refused():
    with pytest.raises(ValueError, match="not a range"):
        BatchFileName("jugendamt-selm", WHEN, 0, 5, 4)


def test_written_positions_are_after_the_highest_offset_per_partition():
    files = [name(0, 0, 99), name(0, 100, 149), name(2, 7, 7), name(1, 0, 4, agency="x"),
             "." + name(1, 0, 999) + ".tmp", "readme.txt"]
    assert written_positions("jugendamt-selm", files) == {0: 150, 2: 8}


def test_written_positions_do_not_depend_on_order_or_time():
    later = WHEN + timedelta(days=1)
    files = [name(0, 100, 149, when=WHEN), name(0, 0, 99, when=later)]
    assert written_positions("jugendamt-selm", files) == {0: 150}
    assert written_positions("jugendamt-selm", []) == {}


def test_stale_temp_files_are_only_the_agencys_temporary_batch_files():
    ours = "." + name(0, 0, 9) + ".tmp"
    files = [ours, "." + name(0, 0, 9, agency="jugendamt-werne") + ".tmp", name(0, 0, 9),
             ".jugendamt-selm_inbox.lock", ".hidden.tmp"]
    assert stale_temp_files("jugendamt-selm", files) == [ours]
