"""``hub audit --subject S [--json | --letter --out FILE]``: a family's history, or its
access letter (Art. 15 DSGVO)."""

from __future__ import annotations

import sys
from pathlib import Path

from hub.errors import InputError
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("audit", help="a family's history: who received what, what was refused",
                       description="Print every routing decision about one subject (the "
                       "pseudonym of a child): which agency received which event when, under "
                       "which consent, and what was refused or held, with the reason. Find the "
                       "pseudonym with `hub pseudonym` (needs the key). `--letter --out FILE` "
                       "writes the same as the family's access letter instead (Art. 15 DSGVO: "
                       "German, printable HTML, with the consents and what an erasure would "
                       "do).")
    p.add_argument("--subject", required=True, help="the child's pseudonym")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--letter", action="store_true",
                   help="write the family's access letter (Art. 15 DSGVO, German, printable "
                   "HTML) to --out instead: who received what, what was refused or held and "
                   "why, the consents, what an erasure would do")
    p.add_argument("--out", metavar="FILE", help="the HTML file of --letter")
    p.add_argument("--timeout", type=float, default=3.0,
                   help="stop reading hub.audit after S seconds without a record")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args) -> int:
    from hub.operator_views import child_pseudonyms, family_history, format_history

    if args.letter and not args.out:
        raise InputError("--letter writes an HTML file: name it with --out, e.g. "
                         "--out auskunft.html")
    if args.out and not args.letter:
        raise InputError("--out names the file of the letter: add --letter")
    if args.letter and args.json:
        raise InputError("--letter and --json exclude each other")
    out = Path(args.out) if args.out else None
    if out and not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    settings = load_settings()
    pseudonyms = child_pseudonyms(settings.kafka, args.subject)
    records = family_history(settings.kafka, pseudonyms, timeout=args.timeout)
    if len(pseudonyms) > 1 and not args.json:  # one child under several spellings
        print(f"{args.subject} is one child with {', '.join(pseudonyms[1:])} (linked "
              "spellings of the agencies): their records are shown together", file=sys.stderr)
    if out:
        from hub.agencies import load_agencies
        from hub.clock import clock_from_settings
        from hub.operator_views import family_consents
        from hub.report.letter import LOCAL_TIME, Retention, build_letter

        consents = family_consents(settings.kafka, pseudonyms)
        today = clock_from_settings(settings).now().astimezone(LOCAL_TIME).date()
        out.write_text(build_letter(args.subject, records, consents, load_agencies(), today,
                                    Retention.declared(settings.audit_retention_days)),
                       encoding="utf-8")
        print(f"wrote the access letter to {out} ({len(records)} audit records, "
              f"{len(consents)} consents)")
        return 0
    if args.json:
        import json

        for record in records:
            print(json.dumps(record, ensure_ascii=False, sort_keys=True))
    else:
        lines = format_history(records)
        print("\n".join(lines) if lines else f"no audit records for {args.subject}")
    return 0
