"""Route a simulated district through the router in memory, and compare two trees' output.

For a change that must not change what the router does (a restructuring): run it on the
tree before and after the change, then compare. A district of the demo (fixed seed) is
exported a day at a time and every export goes through ``hub ingest``'s conversion and the
router, with a tick after each day (no Kafka); every output record is written to a file.
``--compare`` prints, per topic, whether the records are identical: inbox bytes and facts
must be; audit records may differ only by ``--ignore`` fields.

    python bench/route_district.py --tree . --out /tmp/after.json
    git worktree add /tmp/before <commit>
    python bench/route_district.py --tree /tmp/before --out /tmp/before.json
    python bench/route_district.py --compare /tmp/before.json /tmp/after.json \\
        --ignore audit_version,reason_kind,reason_params

The tree's own modules are imported (``--tree``), with the interpreter's packages; a tree
from before the router's handlers (``RoutingEngine``) is driven with ``process``/``expire``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path


def route(tree: Path, families: int, days: int, seed: int) -> list[tuple]:
    sys.path.insert(0, str(tree.resolve()))
    from connectors.ingest import convert_file
    from hub.agencies import load_agencies
    from hub.clock import FixedClock
    from hub.contract.codec import get_codec
    from hub.routing.delivered import DeliveredSet
    from hub.routing.rules import Router
    from hub.settings import PseudonymKey
    from hub.simulation.district import DistrictSimulation
    try:
        from hub.routing.bus import new_bus as make
        from hub.routing.messages import Incoming, Tick

        def handle(engine, message):
            return engine.handle(message)

        def tick(engine):
            return engine.handle(Tick(0))
    except ImportError:  # before the handlers
        from hub.routing.engine import Incoming
        from hub.routing.engine import RoutingEngine as make

        def handle(engine, message):
            return engine.process(message)

        def tick(engine):
            return engine.expire(0)

    agencies = load_agencies()
    folder = Path(tempfile.mkdtemp(prefix="route-district-"))
    (folder / "key").write_text("route-district-key-0123456789abcdef")
    key = PseudonymKey.from_file(folder / "key")
    sim = DistrictSimulation(agencies, seed=seed, families=families, start=date(2026, 9, 1))
    clock = FixedClock(datetime(2026, 9, 1, 20, tzinfo=UTC))
    engine = make(agencies, Router(agencies), clock, timedelta(hours=24),
                  DeliveredSet(timedelta(days=90)), {}, {}, {})
    codec, records, offset = get_codec(), [], 0

    def keep(outputs):
        records.extend((o.topic, (o.key or b"").hex(),
                        None if o.value is None else o.value.hex()) for o in outputs)

    for day in range(days):
        if day:
            clock.advance(days=1)
        (folder / str(day)).mkdir()
        for export in sim.exports(day):
            path = folder / str(day) / export.file_name
            path.write_text(export.csv_text(), encoding="utf-8")
            converted = convert_file(path, agencies, key)
            for event in converted.events:
                offset += 1
                keep(handle(engine, Incoming(converted.topic, 0, offset, codec.encode(event))))
        keep(tick(engine))
    return records


def compare(before: list, after: list, ignore: set[str]) -> bool:
    def by_topic(records):
        out: dict[str, list] = {}
        for topic, key, value in records:
            out.setdefault("inboxes" if topic.endswith(".inbox") else topic, []).append(
                (topic, key, value))
        return out

    def audit(records):
        return [(t, k, {f: v for f, v in json.loads(bytes.fromhex(value)).items()
                        if f not in ignore}) for t, k, value in records]

    a, b = by_topic(before), by_topic(after)
    same_everywhere = True
    for topic in sorted(set(a) | set(b)):
        x, y = a.get(topic, []), b.get(topic, [])
        same = audit(x) == audit(y) if topic == "hub.audit" else x == y
        note = f" (ignoring {', '.join(sorted(ignore))})" if topic == "hub.audit" and ignore else ""
        print(f"{topic}: {len(x)} and {len(y)} records, {'identical' if same else 'DIFFERENT'}"
              f"{note}")
        same_everywhere &= same
    return same_everywhere


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--tree", type=Path, help="the source tree to route with")
    parser.add_argument("--out", type=Path, help="where to write its output records")
    parser.add_argument("--families", type=int, default=150)
    parser.add_argument("--days", type=int, default=84)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--ignore", default="", help="audit fields to leave out, comma-separated")
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        sys.exit(0 if compare(before, after, set(filter(None, args.ignore.split(",")))) else 1)
    if not (args.tree and args.out):
        parser.error("give --tree and --out, or --compare BEFORE AFTER")
    records = route(args.tree, args.families, args.days, args.seed)
    args.out.write_text(json.dumps(records))
    print(f"{len(records)} output records of {args.families} families over {args.days} days "
          f"-> {args.out}")


if __name__ == "__main__":
    main()
