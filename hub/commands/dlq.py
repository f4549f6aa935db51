"""``hub dlq list|replay [--offset N]``: the dead letters of hub.dlq."""

from __future__ import annotations

from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("dlq", help="list or replay dead letters",
                       description="`list` prints the dead letters of hub.dlq with their "
                       "reasons; `replay` sends the original bytes of the worker's dead "
                       "letters back to their outbox after a fix. Replay goes through the "
                       "router's dedupe, so replaying twice delivers nothing twice.")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--offset", type=int, action="append",
                   help="only the dead letter at this offset of hub.dlq (repeatable)")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="stop reading hub.dlq after S seconds without a record")
    p.set_defaults(func=cmd_dlq)


def cmd_dlq(args) -> int:
    from hub.operator_views import dead_letters, replay

    settings = load_settings()
    letters = dead_letters(settings.kafka, timeout=args.timeout)
    if args.offset:
        letters = [d for d in letters if d.offset in set(args.offset)]
    if args.action == "list":
        for letter in letters:
            print(letter.describe())
        print(f"{len(letters)} dead letters ({sum(d.replayable for d in letters)} replayable; "
              "rows rejected by a connector are fixed in the export and ingested again)")
        return 0
    from hub.kafka_io import producer

    kp = producer(settings.kafka, "hub-dlq-replay")
    try:
        sent = replay(settings.kafka, letters, kp)
    finally:
        kp.close()
    print(f"{sent} dead letters replayed to the outboxes they came from (the router's dedupe "
          "keeps anything already delivered from being delivered again)")
    return 0
