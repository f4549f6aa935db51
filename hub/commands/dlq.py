"""``hub dlq list|replay [--letter P@O]``: the dead letters of hub.dlq."""

from __future__ import annotations

import argparse
import sys

from hub.settings import load_settings


def letter_number(text: str) -> tuple[int | None, int]:
    """An argparse type: a dead letter's number as ``hub dlq list`` prints it,
    ``<partition>@<offset>`` of hub.dlq (``3@17``); a bare offset (``17``) matches that
    offset on every partition. Returns (partition or None, offset)."""
    partition, at, offset = text.strip().lstrip("#").rpartition("@")
    try:
        numbers = (int(partition) if at else None, int(offset))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a dead letter's number: give <partition>@<offset> as "
            "`hub dlq list` prints it, e.g. 3@17") from None
    if numbers[1] < 0 or (numbers[0] is not None and numbers[0] < 0):
        raise argparse.ArgumentTypeError(f"{text!r}: partition and offset are 0 or more")
    return numbers


def add_parser(sub) -> None:
    p = sub.add_parser("dlq", help="list or replay dead letters",
                       description="`list` prints the dead letters of hub.dlq with their "
                       "reasons, each with its number (<partition>@<offset> of hub.dlq); "
                       "`replay` sends the original bytes of the worker's dead letters back "
                       "to their outbox after a fix. Replay goes through the router's "
                       "dedupe, so replaying twice delivers nothing twice.")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--letter", "--offset", dest="letters", type=letter_number,
                   action="append", metavar="P@O",
                   help="only the dead letter with this number, <partition>@<offset> as "
                   "`list` prints it (repeatable); a bare offset names that offset on every "
                   "partition, which `replay` refuses when it names more than one letter")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="stop reading hub.dlq after S seconds without a record")
    p.set_defaults(func=cmd_dlq)


def chosen(letters: list, numbers: list[tuple[int | None, int]]) -> list:
    """The ``letters`` the ``numbers`` (:func:`letter_number`) name."""
    return [d for d in letters
            if any(o == d.offset and p in (None, d.partition) for p, o in numbers)]


def ambiguous(letters: list, numbers: list[tuple[int | None, int]]) -> list[str]:
    """For each bare offset among ``numbers`` that names letters on more than one
    partition: a line that says which."""
    lines = []
    for offset in sorted({o for p, o in numbers if p is None}):
        named = [d.number for d in letters if d.offset == offset]
        if len(named) > 1:
            lines.append(f"offset {offset} names {len(named)} dead letters "
                         f"({', '.join(named)}): give the one you mean as <partition>@<offset>")
    return lines


def cmd_dlq(args) -> int:
    from hub.operator_views import dead_letters, replay

    settings = load_settings()
    letters = dead_letters(settings.kafka, timeout=args.timeout)
    if args.letters:
        unclear = ambiguous(letters, args.letters)
        letters = chosen(letters, args.letters)
        if unclear and args.action == "replay":
            print("nothing replayed: " + "; ".join(unclear), file=sys.stderr)
            return 2
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
