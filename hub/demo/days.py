"""The district's days in ``hub demo``: at the end of every simulated day each agency's
export of that day is written to ``HUB_HOME/demo/exports/`` and published through the real
connectors, once the hub's clock has passed the day; the view shows what the worker's metrics
say meanwhile. At the end: the figures once the worker has caught up, and the district
report."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hub.core.topics import TICK_TOPIC
from hub.demo.options import DemoOptions
from hub.demo.processes import DemoProcesses
from hub.demo.progress import save_progress
from hub.demo.screen import Screen, say
from hub.demo.view import Header
from hub.errors import HubError
from hub.settings import Settings


def publish_day(sim, day: int, folder: Path, agencies, key, producer) -> list[str]:
    """Write the agencies' exports of ``day`` and publish them through the connectors;
    returns the rejections (file, row, problems)."""
    from connectors.ingest import Conversion
    from connectors.publish import publish

    target = folder / "exports" / sim.date_of(day).isoformat()
    target.mkdir(parents=True, exist_ok=True)
    rejected: list[str] = []
    for export in sim.exports(day):
        path = target / export.file_name
        path.write_text(export.csv_text(), encoding="utf-8")
        conversion = Conversion(path, agencies, key)
        summary = publish(conversion, producer, report=rejected.append)
        if summary.unacknowledged:
            raise HubError(f"the broker did not acknowledge {path.name}: "
                           + "; ".join(summary.unacknowledged[:3]))
    return rejected


class DistrictDays:
    """The days of the simulated district ``sim`` in one run, and what the screen shows of
    them; ``stop`` ends them early."""

    def __init__(self, settings: Settings, options: DemoOptions, sim, key, screen: Screen,
                 processes: DemoProcesses, stop: threading.Event):
        self.settings = settings
        self.options = options
        self.sim = sim
        self.key = key
        self.screen = screen
        self.processes = processes
        self.stop = stop
        self.folder = settings.home / "demo"
        self.started = time.monotonic()  # when the first day began

    def header(self, day: int) -> Header:
        options = self.options
        return Header(options.seed, options.families, options.speed, day, options.days,
                      self.sim.date_of(min(day, options.days - 1)),
                      time.monotonic() - self.started, tuple(self.processes.urls))

    def publish(self, done: int, anchor: datetime) -> tuple[int, list[str]]:
        """Publish each day from ``done`` on once the hub's clock has passed it (the clock
        stands at day ``done`` at ``anchor``), up to the last day or a stop; returns the day
        reached and the latest rejected rows."""
        from hub.kafka_io import producer

        options, stop = self.options, self.stop
        recent: list[str] = []
        kp = producer(self.settings.kafka, client_id="demo-connectors")
        try:
            day = done
            while day < options.days and not stop.is_set():
                due = anchor + timedelta(seconds=(day + 1 - done) * 86400 / options.speed)
                self.wait_until(due, day)
                if stop.is_set():
                    break
                recent = (recent + publish_day(self.sim, day, self.folder, self.sim.agencies,
                                               self.key, kp))[-3:]
                day += 1
                save_progress(self.folder, options, day)
                if day < options.days:  # a slow machine may have no time left to wait
                    self.screen.show(self.header(day))
                self.processes.check_worker()
        finally:
            kp.close()
        return day, recent

    def wait_until(self, due: datetime, day: int) -> None:
        """Show the view of ``day`` until the hub's clock has passed it (``due``) or a stop."""
        stop = self.stop
        while not stop.is_set() and datetime.now(UTC) < due:
            self.screen.show(self.header(day))
            stop.wait(min(1.0, max(0.05, (due - datetime.now(UTC)).total_seconds())))

    def show_stopped(self, day: int) -> None:
        self.screen.show(self.header(day), final=True)
        say(f"stopped after day {day} of {self.options.days}; `hub demo` (same options) goes "
            "on from there, `hub demo --fresh` starts over")

    def conclude(self, day: int, recent: list[str]) -> None:
        """The figures once the worker has caught up, and the district report."""
        settle(self.screen, self.stop, self.settings.analytics_publish_seconds)
        final = self.screen.show(self.header(day), final=True)
        if recent:
            say("latest rejected rows (dead-lettered to hub.dlq):\n  " + "\n  ".join(recent))
        say(f"{int(final.total('hub_deliveries_total')):,} events delivered, "
            f"{int(final.total('hub_refusals_total')):,} refused, "
            f"{int(final.total('hub_handovers_stalled_total')):,} stall notices; "
            f"the exports are in {self.folder / 'exports'}")
        write_demo_report(self.settings, self.options, self.folder,
                          self.sim.date_of(self.options.days - 1))

    def keep_running(self, day: int) -> None:
        say("the hub keeps running (Ctrl-C stops it); look around with `hub tail`, "
            "`hub audit` or the metrics, with "
            f"HUB_BOOTSTRAP_SERVERS={self.settings.bootstrap}")
        while not self.stop.is_set():
            self.screen.show(self.header(day))
            self.stop.wait(1.0)


def settle(screen: Screen, stop: threading.Event, analytics_every: float,
           timeout: float = 90.0) -> None:
    """Wait until the worker has read everything published (no lag twice in a row, after
    the lag was measured anew) and has published the analytics of it."""
    deadline = time.monotonic() + timeout
    calm = 0
    stop.wait(6.0)  # the lag gauge is measured every 5 s
    while not stop.is_set() and time.monotonic() < deadline:
        snapshot = screen.snapshot()
        lagging = sum(v for topic, v in snapshot.by("hub_consumer_lag", "topic").items()
                      if topic != TICK_TOPIC)  # ticks keep coming, one a second
        calm = calm + 1 if snapshot.worker_up and lagging == 0 else 0
        if calm >= 2:
            stop.wait(analytics_every + 1.0)  # the analytics of the last facts
            return
        stop.wait(1.0)
    if not stop.is_set():
        say("the worker is still catching up; the figures below are not final")


def write_demo_report(settings: Settings, options: DemoOptions, folder: Path,
                      last: date) -> None:
    from hub.report.load import write_report

    out = folder / "report.html"
    try:
        write_report(settings.kafka, options.start, last, out, datetime.now(UTC),
                     progress=lambda m: None)
    except HubError as exc:
        say(f"no report: {exc}")
        return
    say(f"district report: {out} (`hub report --from {options.start} --to {last} --out "
        "FILE` writes it again while the broker runs)")
