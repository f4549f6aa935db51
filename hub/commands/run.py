"""``hub run``: the stream-processing worker in the foreground."""

from __future__ import annotations

from typing import get_args

from hub.settings import Settings, load_settings

ROLES = get_args(Settings.model_fields["worker_role"].annotation)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run", help="run the stream-processing worker (router and analytics)",
        description="Run the Faust worker in the foreground until Ctrl-C. By default it "
        "routes the agencies' events and aggregates the anonymous analytics; with --role "
        "the two run in processes of their own, so that the router has its core to itself "
        "(docs/operations.md, \"Running the analytics apart\").")
    p.add_argument("--role", choices=ROLES, default=None,
                   help="all: route and aggregate; router: route only (then run a worker "
                   "with --role analytics too, or no cells are published); analytics: "
                   "aggregate only, in the consumer group <app id>-analytics. Default: "
                   "HUB_WORKER_ROLE, else all")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from hub.worker import run_worker

    settings = load_settings()
    if getattr(args, "role", None):
        settings = settings.model_copy(update={"worker_role": args.role})
    run_worker(settings)
    return 0
