"""``hub run``: the stream-processing worker in the foreground."""

from __future__ import annotations

from hub.settings import load_settings


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the stream-processing worker (router)",
                       description="Run the Faust worker in the foreground until Ctrl-C.")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from hub.worker import run_worker

    run_worker(load_settings())
    return 0
