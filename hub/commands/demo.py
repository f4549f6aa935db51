"""``hub demo``: the hub on a simulated district."""

from __future__ import annotations

from hub.argtypes import iso_date, positive
from hub.settings import load_settings

DEMO_START = "2026-09-07"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the hub on a simulated district: local broker, topics, worker, "
        "the agencies' daily exports, and a live view",
        description="Starts the local broker (unless one runs, or HUB_BOOTSTRAP_SERVERS "
        "names another), applies the topics, starts the worker, and lets a simulated "
        "district live: the agencies of deploy/agencies.yaml export each day's events of "
        "invented families (consents collected, late or withdrawn; offers; handovers "
        "answered, late, never, or declined and sent elsewhere; re-sent and broken rows), "
        "and the connectors publish them. The hub's clock runs SPEED times as fast as real "
        "time. A live view shows events, deliveries, refusals, duplicates, stalls and dead "
        "letters; the worker's metrics are at http://127.0.0.1:HUB_METRICS_PORT/metrics "
        "(9310), the connectors' at --metrics-port (9311). At the end it writes the "
        "district report to HUB_HOME/demo/report.html. Ctrl-C stops everything it started; "
        "the next run goes on where it stopped (--fresh starts over).")
    p.add_argument("--seed", type=int, default=1,
                   help="the district's random seed: the same seed gives the same exports "
                   "(default 1)")
    p.add_argument("--families", type=positive(int), default=400,
                   help="families in the district (default 400)")
    p.add_argument("--weeks", type=positive(float), default=12.0,
                   help="simulated weeks in all, counted from --start; a run that was "
                   "stopped goes on up to this (default 12)")
    p.add_argument("--speed", type=positive(float), default=43200.0,
                   help="simulated seconds per real second (default 43200: a day every "
                   "2 seconds)")
    p.add_argument("--start", type=iso_date, default=DEMO_START,
                   help=f"the first simulated day, YYYY-MM-DD (default {DEMO_START})")
    p.add_argument("--fresh", action="store_true",
                   help="start over: empties the local broker (all its topics) and forgets "
                   "the progress of earlier runs")
    p.add_argument("--keep", action="store_true",
                   help="keep the broker and worker running after the last day, until "
                   "Ctrl-C, to look around with `hub tail`, `hub audit` or the metrics")
    p.add_argument("--metrics-port", type=int, default=9311, metavar="PORT",
                   help="port of the demo's own /metrics (its connectors' rows and dead "
                   "letters) on 127.0.0.1; 0 turns it off (default 9311)")
    p.add_argument("--view", choices=("auto", "live", "lines"), default="auto",
                   help="live: redraw a screen every second; lines: a line per simulated "
                   "week (for logs); auto: live on a terminal (default)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from hub.demo import DemoOptions, run_demo

    return run_demo(load_settings(), DemoOptions(
        seed=args.seed, families=args.families, weeks=args.weeks, speed=args.speed,
        start=args.start, fresh=args.fresh, keep=args.keep, metrics_port=args.metrics_port,
        live={"auto": None, "live": True, "lines": False}[args.view]))
