"""A large export streams: the memory a conversion needs hardly grows with the file."""

import tracemalloc

from connectors.ingest import Conversion
from hub.agencies import load_agencies
from tests.support.synthetic import write_youth_office_export


def peak_bytes(path, key, agencies) -> tuple[int, int]:
    tracemalloc.start()
    try:
        conversion = Conversion(path, agencies, key)
        events = sum(1 for o in conversion.outcomes() if o.kind == "event")
        return tracemalloc.get_traced_memory()[1], events
    finally:
        tracemalloc.stop()


def test_memory_stays_flat(tmp_path, pseudonym_key):
    agencies = load_agencies()
    small = write_youth_office_export(tmp_path / "jugendamt-unna_export.csv", 1_000)
    large_dir = tmp_path / "large"
    large_dir.mkdir()
    large = write_youth_office_export(large_dir / "jugendamt-unna_export.csv", 10_000)
    peak_small, events_small = peak_bytes(small, pseudonym_key, agencies)
    peak_large, events_large = peak_bytes(large, pseudonym_key, agencies)
    assert events_small > 950 and events_large > 9_500
    # ten times the rows; only the ids seen (for duplicates in the file) grow with it
    assert peak_large < 2 * peak_small + 2_000_000, (peak_small, peak_large)
