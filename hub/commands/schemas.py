"""``hub schemas check|release``: the Avro schemas against their releases."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("schemas", help="check the Avro schemas against their releases",
                       description="check: fail when a schema in schemas/ changed in a way "
                       "that breaks readers of published data: compared with the latest "
                       "release in schemas/released/<N>/ in both directions and with every "
                       "earlier release backward; releases compared with each other (a "
                       "forward break needs a note in schemas/released/CHANGES.md); "
                       "SCHEMA_VERSION must fit. release: copy the current schemas into "
                       "schemas/released/<latest+1>/ and add their notes to CHANGES.md.")
    p.add_argument("action", choices=["check", "release"])
    p.add_argument("--notes", default=None,
                   help="with `release`: the release notes (Markdown): what changed and who "
                   "is upgraded first; a release that consumers on the previous one cannot "
                   "read must say so (the words \"cannot read\"). Default: read from stdin")
    p.set_defaults(func=cmd_schemas)


def cmd_schemas(args) -> int:
    from hub.contract.history import main_check
    from hub.contract.release import main_release

    if args.action == "release":
        return main_release(args.notes)
    return main_check()
