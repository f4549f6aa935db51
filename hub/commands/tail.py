"""``hub tail TOPIC...``: the events of topics as JSON lines."""

from __future__ import annotations

from hub.core.topics import LINKAGE_TOPIC
from hub.errors import InputError
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("tail", help="print the events of topics as JSON lines",
                       description="Print decoded events of one or more topics as JSON "
                       "lines. Undecodable messages are reported on stderr and skipped.")
    p.add_argument("topics", nargs="+", metavar="TOPIC")
    p.add_argument("--from-beginning", action="store_true",
                   help="start at the oldest record (default: only new records)")
    p.add_argument("--max", type=int, default=None, help="stop after N records")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop after S seconds without a new record")
    p.add_argument("--meta", action="store_true",
                   help="wrap each record with its topic, partition and offset")
    p.set_defaults(func=cmd_tail)


def cmd_tail(args) -> int:
    from hub.tail import Tail, print_records

    refused = [t for t in args.topics if t == LINKAGE_TOPIC]
    if refused:
        raise InputError(f"{LINKAGE_TOPIC} holds the children's linkage encodings: only the "
                         "workers' linkage stage reads them, they are never shown "
                         "(docs/privacy.md, \"Linkage encodings\")")
    settings = load_settings()
    records = Tail(settings.kafka, args.topics, args.from_beginning, args.max,
                   args.timeout)
    print_records(records, with_meta=args.meta)
    return 0
