"""Benchmark the connector on a large synthetic export, against plain CSV reading.

Generates a youth-office export of N rows (every person invented), then measures in the same
run: the baseline (``csv.reader`` over the file, nothing else) and the full conversion
(parse, check, pseudonymise, build and Avro-encode each event). Prints rows/s of both and
the ratio, and the peak traced memory of converting N/10 and N rows (flat = the ratio stays
far below 10). With ``--bootstrap HOST:PORT`` it also publishes the file to a broker whose
topics are applied (acks=all, idempotent) and prints that rate.

    python bench/bench_ingest.py [--rows 200000] [--bootstrap 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.ingest import Conversion  # noqa: E402
from connectors.publish import publish  # noqa: E402
from hub.agencies import load_agencies  # noqa: E402
from hub.contract.codec import get_codec  # noqa: E402
from hub.settings import PseudonymKey  # noqa: E402
from tests.support.synthetic import write_youth_office_export  # noqa: E402

AGENCY_FILE = "jugendamt-unna_export.csv"


def baseline(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh, delimiter=";")) - 1


def convert(path: Path, key, agencies) -> int:
    codec = get_codec()
    conversion = Conversion(path, agencies, key)
    return sum(len(codec.encode(o.envelope)) > 0 for o in conversion.outcomes() if o.envelope)


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - start, n


def peak_memory(path: Path, key, agencies) -> int:
    tracemalloc.start()
    try:
        convert(path, key, agencies)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--bootstrap", help="also publish to this broker")
    args = parser.parse_args()
    agencies = load_agencies()
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key"
        key_file.write_text("bench-key-" * 4)
        key = PseudonymKey.from_file(key_file)
        big_dir, small_dir = Path(tmp) / "big", Path(tmp) / "small"
        big_dir.mkdir()
        small_dir.mkdir()
        big = write_youth_office_export(big_dir / AGENCY_FILE, args.rows)
        small = write_youth_office_export(small_dir / AGENCY_FILE, args.rows // 10)

        base_s, rows = timed(baseline, big)
        conv_s, events = timed(convert, big, key, agencies)
        print(f"rows: {rows:,} ({big.stat().st_size / 1e6:.1f} MB), events: {events:,}")
        print(f"baseline csv.reader : {rows / base_s:12,.0f} rows/s")
        print(f"full conversion     : {rows / conv_s:12,.0f} rows/s")
        print(f"ratio conversion/baseline throughput: {base_s / conv_s:.4f}")

        small_peak = peak_memory(small, key, agencies)
        big_peak = peak_memory(big, key, agencies)
        print(f"peak traced memory: {args.rows // 10:,} rows {small_peak / 1e6:.1f} MB, "
              f"{args.rows:,} rows {big_peak / 1e6:.1f} MB "
              f"(ratio {big_peak / small_peak:.2f} for 10x the rows)")

        if args.bootstrap:
            from hub.kafka_io import producer

            kp = producer(args.bootstrap, "bench-ingest")
            try:
                start = time.perf_counter()
                summary = publish(Conversion(big, agencies, key), kp, report=lambda m: None)
                pub_s = time.perf_counter() - start
            finally:
                kp.close()
            print(f"publish (acks=all)  : {summary.published / pub_s:12,.0f} events/s, "
                  f"{len(summary.unacknowledged)} unacknowledged; ratio to conversion "
                  f"{conv_s / pub_s:.2f}")


if __name__ == "__main__":
    main()
