"""The ``hub`` command: one entry point for operators, agency IT staff and developers.

Each command is a module of :mod:`hub.commands` with ``add_parser`` (its options and help)
and ``cmd_<command>`` (what it does); here they are registered, and errors are shown.
"""

from __future__ import annotations

import argparse
import sys

from kafka.errors import AuthorizationError as KafkaAuthorizationError

from hub.commands import (
    acl,
    audit,
    broker,
    deliver,
    demo,
    deploy,
    dlq,
    erase,
    ingest,
    key,
    linkage,
    pseudonym,
    report,
    run,
    schemas,
    tail,
    topics,
)
from hub.errors import HubError
from hub.settings import load_settings

DESCRIPTION = """\
The Unna prevention-chain hub: moves consented, pseudonymised events between the agencies
of Kreis Unna through Kafka, and routes, deduplicates and aggregates them.

Settings come from environment variables with the prefix HUB_ (see README.md), e.g.
HUB_BOOTSTRAP_SERVERS, HUB_HOME, HUB_PSEUDONYM_KEY_FILE.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``hub`` command: each command adds its own sub-parser (``add_parser`` of its module
    in :mod:`hub.commands`)."""
    parser = argparse.ArgumentParser(
        prog="hub", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # one step per command, in the order `hub --help` lists them
    for command in (demo, broker, topics, schemas, ingest, run, tail, audit, erase, linkage,
                    pseudonym, dlq, deliver, deploy, acl, report, key):
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HubError as exc:
        print(f"hub: error: {exc}", file=sys.stderr)
        return 1
    except KafkaAuthorizationError as exc:  # one not translated where it happened
        from hub.kafka_io import not_allowed

        print(f"hub: error: {not_allowed(exc, load_settings().kafka, args.command)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
