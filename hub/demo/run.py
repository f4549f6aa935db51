"""``hub demo``: the hub running a simulated district on a local broker, in one command.

Starts the local broker (unless one runs or ``HUB_BOOTSTRAP_SERVERS`` names another),
applies the topics, starts the worker and lets the district of :mod:`hub.simulation`
live: at the end of every simulated day each agency's export of that day is written to
``HUB_HOME/demo/exports/`` and published through the real connectors. The hub's clock runs
``--speed`` times as fast as real time, so weeks pass in minutes; the live view shows what
the worker's metrics say. At the end the demo writes the district report.

Ctrl-C stops what the demo started. The days already published are recorded in
``HUB_HOME/demo/progress.json``, so the next run goes on from there; ``--fresh`` starts
over with an empty broker.

The steps are :class:`DemoRun`'s; what it starts and stops is in :mod:`hub.demo.processes`,
the days and the end in :mod:`hub.demo.days`, the progress in :mod:`hub.demo.progress`.
"""

from __future__ import annotations

import sys
import threading

from hub.agencies import load_agencies
from hub.demo.days import DistrictDays
from hub.demo.options import DemoOptions
from hub.demo.processes import DemoProcesses, ensure_demo_key
from hub.demo.progress import load_progress, start_over
from hub.demo.screen import Screen, say
from hub.errors import ConfigError
from hub.settings import Settings
from hub.signals import stop_on_signals


def run_demo(settings: Settings, options: DemoOptions) -> int:
    from connectors.ingest import Conversion  # noqa: F401  (fail early on a broken install)

    demo = DemoRun(settings, options)
    done = demo.days_done()
    if done >= options.days:
        say(f"this demo already ran its {options.days} days (seed {options.seed}); "
            f"--weeks {options.weeks + 4:g} goes on for four more weeks, --fresh starts over")
        return 0
    check_ports(settings, options)
    try:
        with stop_on_signals(demo.stop, demo.processes.set_deadline):
            return demo.run(done)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        demo.shut_down()


def check_ports(settings: Settings, options: DemoOptions) -> None:
    from hub.broker.local import port_in_use

    for port, what in ((settings.metrics_port, "the worker's metrics (HUB_METRICS_PORT)"),
                       (options.metrics_port, "the demo's metrics (--metrics-port)")):
        if port and port_in_use(port):
            raise ConfigError(f"port {port} for {what} is in use (another `hub run` or "
                              "`hub demo`?); stop it or choose another port")


class DemoRun:
    """One run of ``hub demo``, step by step (:meth:`run`); :meth:`shut_down` stops what it
    started."""

    def __init__(self, settings: Settings, options: DemoOptions):
        self.settings = settings
        self.options = options
        self.agencies = load_agencies()
        self.folder = settings.home / "demo"
        self.processes = DemoProcesses(settings)
        self.stop = threading.Event()

    def days_done(self) -> int:
        """The simulated days published before (after --fresh: none)."""
        if self.options.fresh:
            start_over(self.settings, self.processes.broker, self.folder)
        return load_progress(self.folder, self.options)

    def run(self, done: int) -> int:
        """The demo from day ``done`` on: 0 when it ran to its end, 130 when stopped."""
        from hub.simulation.district import DistrictSimulation

        options, processes = self.options, self.processes
        processes.start_broker()
        self.apply_topics()
        key_file = ensure_demo_key(self.settings)
        key = self.settings.model_copy(update={"pseudonym_key_file": key_file}).pseudonym_key
        sim = DistrictSimulation(self.agencies, options.seed, options.families, options.start)
        anchor = processes.start_worker(key_file, options, done)
        processes.serve_metrics(options.metrics_port)
        self.announce(sim, done)
        processes.wait_until_ready(self.stop)
        days = DistrictDays(self.settings, options, sim, key, self.screen(), processes,
                            self.stop)
        day, recent = days.publish(done, anchor)
        if self.stop.is_set():
            days.show_stopped(day)
            return 130
        days.conclude(day, recent)
        if options.keep:
            days.keep_running(day)
        return 0

    def apply_topics(self) -> None:
        from hub.kafka_io import admin_client
        from hub.topic_admin import apply_topics
        from hub.topics import plan_topics

        with admin_client(self.settings.kafka) as admin:
            report = apply_topics(admin, plan_topics(
                self.agencies, audit_retention_days=self.settings.audit_retention_days))
        say(f"topics: {report.lines()[-1]}")

    def announce(self, sim, done: int) -> None:
        options = self.options
        say(f"simulating {options.families:,} families (seed {options.seed}) from day {done} "
            f"to day {options.days} ({sim.date_of(done)} to "
            f"{sim.date_of(options.days - 1)}), a day every {86400 / options.speed:.2g} s; "
            "Ctrl-C stops, and the next `hub demo` goes on from there")

    def screen(self) -> Screen:
        """The live view on a terminal (or as --view says), else a line per week."""
        live = sys.stdout.isatty() if self.options.live is None else self.options.live
        return Screen(live, self.processes.worker_url, bool(self.options.metrics_port))

    def shut_down(self) -> None:
        """Stop what this run started."""
        self.processes.shut_down()
