"""What ``hub demo`` shows: its messages, and the live view on a terminal or a line per
simulated week otherwise (drawn by :mod:`hub.demo.view` from the worker's metrics)."""

from __future__ import annotations

import shutil
import sys

from hub.demo.view import Header, Snapshot, render, scrape, summary_line


def say(message: str) -> None:
    print(message, flush=True)


class Screen:
    """The live view on a terminal, or a line per simulated week otherwise."""

    def __init__(self, live: bool, worker_url: str, own_registry: bool):
        self.live = live
        self.worker_url = worker_url
        self.own = own_registry
        self.week = -1

    def snapshot(self) -> Snapshot:
        from prometheus_client import REGISTRY

        families = scrape(self.worker_url)
        snapshot = Snapshot.of(families, worker_up=bool(families))
        if self.own:
            snapshot.add(f for f in REGISTRY.collect()
                         if f.name == "hub_connector_rows")
        return snapshot

    def show(self, head: Header, final: bool = False) -> Snapshot:
        snapshot = self.snapshot()
        if self.live:
            sys.stdout.write("\x1b[H\x1b[J" + render(head, snapshot,
                                                     shutil.get_terminal_size().columns) + "\n")
            sys.stdout.flush()
        elif final:
            say(render(head, snapshot, 200))
        elif head.day // 7 != self.week:
            self.week = head.day // 7
            say(summary_line(head, snapshot))
        return snapshot
