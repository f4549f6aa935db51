"""``hub report --from DATE --to DATE``: the district's HTML report."""

from __future__ import annotations

from pathlib import Path

from hub.argtypes import iso_date
from hub.errors import InputError
from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write the district's HTML report from the analytics",
                       description="Read the anonymous analytics topics and write one "
                       "self-contained HTML file (charts inline, opens offline) with a section "
                       "per municipality: families reached per life phase, offers accepted, "
                       "handover times, stalled handovers and bounces, refusal rates. Cells "
                       "withheld for anonymity are shown as such. Weeks and months that overlap "
                       "the period are included.")
    p.add_argument("--from", dest="start", type=iso_date, required=True, metavar="DATE",
                   help="first day of the period, e.g. 2026-10-01")
    p.add_argument("--to", dest="end", type=iso_date, required=True, metavar="DATE",
                   help="last day of the period (inclusive), e.g. 2026-12-31")
    p.add_argument("--out", default="report.html", metavar="FILE",
                   help="the HTML file to write (default report.html)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from datetime import datetime

    from hub.analytics.aggregate import LOCAL_TIME
    from hub.report.load import write_report

    if args.end < args.start:
        raise InputError(f"--to {args.end} is before --from {args.start}")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: folder {out.parent} does not exist")
    write_report(load_settings().kafka, args.start, args.end, out, datetime.now(LOCAL_TIME))
    return 0
