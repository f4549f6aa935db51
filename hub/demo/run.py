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
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hub.agencies import load_agencies
from hub.core.topics import TICK_TOPIC
from hub.demo.view import Header, Snapshot, render, scrape, summary_line
from hub.errors import ConfigError, HubError
from hub.metrics import start_server
from hub.settings import Settings, write_new_key
from hub.signals import stop_on_signals

DEFAULT_START = date(2026, 9, 7)  # a Monday: the first school weeks after the summer
STARTUP_SECONDS = 8.0  # real seconds between starting the worker and the first day
STOP_WITHIN = 28.0
"""Seconds from the first SIGTERM or Ctrl-C until the demo has exited, done or not."""


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 1
    families: int = 400
    weeks: float = 12.0
    speed: float = 43200.0  # simulated seconds per real second: a day every 2 s
    start: date = DEFAULT_START
    fresh: bool = False
    keep: bool = False
    metrics_port: int = 9311  # the demo's own endpoint: its connectors' metrics
    live: bool | None = None  # a redrawn screen; None: when stdout is a terminal

    @property
    def days(self) -> int:
        return max(1, round(self.weeks * 7))


def say(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- progress
def load_progress(folder: Path, options: DemoOptions) -> int:
    """The simulated days a previous run published (0 for a new demo); refuses to go on
    with another district than the one the broker holds."""
    try:
        saved = json.loads((folder / "progress.json").read_text())
    except FileNotFoundError:
        return 0
    except ValueError:
        raise ConfigError(f"{folder / 'progress.json'} is damaged; run `hub demo --fresh` "
                          "to start over") from None
    ours = {"seed": options.seed, "families": options.families,
            "start": options.start.isoformat()}
    theirs = {k: saved.get(k) for k in ours}
    if theirs != ours:
        raise ConfigError(
            f"the demo in {folder} simulates another district (seed {theirs['seed']}, "
            f"{theirs['families']} families from {theirs['start']}); run it with those "
            "options to continue, or add --fresh to start over with an empty broker")
    return int(saved.get("days_done", 0))


def save_progress(folder: Path, options: DemoOptions, days_done: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "progress.json.tmp"
    tmp.write_text(json.dumps({"seed": options.seed, "families": options.families,
                               "start": options.start.isoformat(),
                               "days_done": days_done}, indent=1))
    tmp.replace(folder / "progress.json")


def start_over(settings: Settings, broker, folder: Path) -> None:
    """--fresh: an empty local broker, no worker state, no progress."""
    if settings.bootstrap_servers:
        raise ConfigError("--fresh empties the local broker, but HUB_BOOTSTRAP_SERVERS names "
                          "another one; delete its topics yourself, or unset it")
    if broker.stop():
        say("broker stopped, to start from scratch")
    for path in (broker.data_dir, settings.home / "worker", folder):
        if path.exists():
            shutil.rmtree(path)
            say(f"removed {path}")


# ----------------------------------------------------------------------------- worker
def ensure_demo_key(settings: Settings) -> Path:
    """The key file of the settings, or a demo key under HUB_HOME (created once)."""
    if settings.pseudonym_key_file:
        return settings.pseudonym_key_file
    path = settings.home / "demo-pseudonym.key"
    if not path.exists():
        write_new_key(path)
        say(f"demo pseudonymisation key created: {path}")
    return path


def start_worker(settings: Settings, key_file: Path, clock: dict[str, str]
                 ) -> tuple[subprocess.Popen, Path]:
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "worker.log"
    env = dict(os.environ, HUB_BOOTSTRAP_SERVERS=settings.bootstrap,
               HUB_PSEUDONYM_KEY_FILE=str(key_file), HUB_HOME=str(settings.home), **clock)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "hub", "run"], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    return proc, log_path


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_ready(proc: subprocess.Popen, log_path: Path, offset: int, stop: threading.Event,
                     timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        text = log_path.read_text(errors="replace")[offset:]
        if "Worker]: Ready" in text:
            return
        if proc.poll() is not None:
            raise HubError(f"the worker stopped while starting; the end of {log_path}:\n"
                           + "\n".join(text.splitlines()[-15:]))
        if time.monotonic() > deadline:
            raise HubError(f"the worker did not become ready in {timeout:.0f} s; see {log_path}")
        stop.wait(0.5)


# ------------------------------------------------------------------------------ screen
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


# -------------------------------------------------------------------------------- demo
def publish_day(sim, day: int, folder: Path, agencies, key, producer) -> list[str]:
    """Write the agencies' exports of ``day`` and publish them through the connectors;
    returns the rejections (file, row, problems)."""
    from connectors.ingest import Conversion, publish

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
        with stop_on_signals(demo.stop, demo.set_deadline):
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
    """One run of ``hub demo``, step by step (:meth:`run`), and what it started, which
    :meth:`shut_down` stops again."""

    def __init__(self, settings: Settings, options: DemoOptions):
        from hub.broker.local import LocalBroker

        self.settings = settings
        self.options = options
        self.agencies = load_agencies()
        self.folder = settings.home / "demo"
        self.broker = LocalBroker(settings.home, settings.broker_port,
                                  settings.controller_port, settings.kafka_libs_dir,
                                  settings.broker_heap)
        self.stop = threading.Event()
        self.started_broker = False
        self.worker: subprocess.Popen | None = None
        self.server = None  # the demo's own metrics endpoint
        self.log_path = settings.home / "logs" / "worker.log"
        self.log_start = 0  # where this run's part of the worker log begins
        self.worker_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        self.urls: list[str] = []
        self.started = 0.0  # time.monotonic() when the first day began

    def days_done(self) -> int:
        """The simulated days published before (after --fresh: none)."""
        if self.options.fresh:
            start_over(self.settings, self.broker, self.folder)
        return load_progress(self.folder, self.options)

    def run(self, done: int) -> int:
        """The demo from day ``done`` on: 0 when it ran to its end, 130 when stopped."""
        from hub.simulation.district import DistrictSimulation

        options = self.options
        self.start_broker()
        self.apply_topics()
        key_file = ensure_demo_key(self.settings)
        key = self.settings.model_copy(update={"pseudonym_key_file": key_file}).pseudonym_key
        sim = DistrictSimulation(self.agencies, options.seed, options.families, options.start)
        anchor = self.start_worker(key_file, done)
        self.serve_metrics()
        self.announce(sim, done)
        wait_until_ready(self.worker, self.log_path, self.log_start, self.stop)
        live = sys.stdout.isatty() if options.live is None else options.live
        screen = Screen(live, self.worker_url, bool(options.metrics_port))
        self.started = time.monotonic()
        day, recent = self.publish_days(sim, key, screen, done, anchor)
        if self.stop.is_set():
            screen.show(self.header(sim, day), final=True)
            say(f"stopped after day {day} of {options.days}; `hub demo` (same options) goes "
                "on from there, `hub demo --fresh` starts over")
            return 130
        self.conclude(sim, screen, day, recent)
        if options.keep:
            self.keep_running(sim, screen, day)
        return 0

    # ------------------------------------------------------------------------- steps
    def start_broker(self) -> None:
        if self.settings.bootstrap_servers:
            say(f"using the broker at {self.settings.bootstrap}")
            return
        status, self.started_broker = self.broker.start(progress=say)
        say(f"broker {'started' if self.started_broker else 'already running'} at "
            f"{status.bootstrap}")

    def apply_topics(self) -> None:
        from hub.kafka_io import admin_client
        from hub.topic_admin import apply_topics
        from hub.topics import plan_topics

        with admin_client(self.settings.kafka) as admin:
            report = apply_topics(admin, plan_topics(
                self.agencies, audit_retention_days=self.settings.audit_retention_days))
        say(f"topics: {report.lines()[-1]}")

    def start_worker(self, key_file: Path, done: int) -> datetime:
        """Start ``hub run`` on the district's clock; returns when (real time) the clock
        stands at the start of day ``done``."""
        options = self.options
        first = datetime.combine(options.start, datetime.min.time(), UTC) + timedelta(days=done)
        # the district's clock starts once the worker is up (it starts in a few seconds),
        # so that the first days are not published in one burst
        anchor = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
        clock = {"HUB_CLOCK_START": first.isoformat(), "HUB_CLOCK_ANCHOR": anchor.isoformat(),
                 "HUB_CLOCK_SPEED": repr(options.speed)}
        if self.log_path.exists():
            self.log_start = self.log_path.stat().st_size
        self.worker, self.log_path = start_worker(self.settings, key_file, clock)
        say(f"worker started (pid {self.worker.pid}, log {self.log_path})")
        return anchor

    def serve_metrics(self) -> None:
        """The demo's own endpoint (its connectors' metrics); says where both are."""
        port = self.options.metrics_port
        if self.settings.metrics_port:
            self.urls.append(f"worker {self.worker_url}")
        if port:
            self.server = start_server(self.settings.metrics_addr, port, "--metrics-port",
                                       "0 turns it off")
            self.urls.append(f"connectors http://127.0.0.1:{port}/metrics")
        say("metrics: " + ("  ".join(self.urls) or "off"))

    def announce(self, sim, done: int) -> None:
        options = self.options
        say(f"simulating {options.families:,} families (seed {options.seed}) from day {done} "
            f"to day {options.days} ({sim.date_of(done)} to "
            f"{sim.date_of(options.days - 1)}), a day every {86400 / options.speed:.2g} s; "
            "Ctrl-C stops, and the next `hub demo` goes on from there")

    def header(self, sim, day: int) -> Header:
        options = self.options
        return Header(options.seed, options.families, options.speed, day, options.days,
                      sim.date_of(min(day, options.days - 1)),
                      time.monotonic() - self.started, tuple(self.urls))

    def publish_days(self, sim, key, screen: Screen, done: int, anchor: datetime
                     ) -> tuple[int, list[str]]:
        """Publish each day once the hub's clock has passed it, up to the last day or a
        stop; returns the day reached and the latest rejected rows."""
        from hub.kafka_io import producer

        options, stop = self.options, self.stop
        recent: list[str] = []
        kp = producer(self.settings.kafka, client_id="demo-connectors")
        try:
            day = done
            while day < options.days and not stop.is_set():
                due = anchor + timedelta(seconds=(day + 1 - done) * 86400 / options.speed)
                while not stop.is_set() and datetime.now(UTC) < due:
                    screen.show(self.header(sim, day))
                    stop.wait(min(1.0, max(0.05, (due - datetime.now(UTC)).total_seconds())))
                if stop.is_set():
                    break
                recent = (recent + publish_day(sim, day, self.folder, self.agencies, key,
                                               kp))[-3:]
                day += 1
                save_progress(self.folder, options, day)
                if day < options.days:  # a slow machine may have no time left to wait
                    screen.show(self.header(sim, day))
                if self.worker.poll() is not None:
                    raise HubError(f"the worker stopped; see {self.log_path}")
        finally:
            kp.close()
        return day, recent

    def conclude(self, sim, screen: Screen, day: int, recent: list[str]) -> None:
        """The figures once the worker has caught up, and the district report."""
        settle(screen, self.stop, self.settings.analytics_publish_seconds)
        final = screen.show(self.header(sim, day), final=True)
        if recent:
            say("latest rejected rows (dead-lettered to hub.dlq):\n  " + "\n  ".join(recent))
        say(f"{int(final.total('hub_deliveries_total')):,} events delivered, "
            f"{int(final.total('hub_refusals_total')):,} refused, "
            f"{int(final.total('hub_handovers_stalled_total')):,} stall notices; "
            f"the exports are in {self.folder / 'exports'}")
        write_demo_report(self.settings, self.options, self.folder,
                          sim.date_of(self.options.days - 1))

    def keep_running(self, sim, screen: Screen, day: int) -> None:
        say("the hub keeps running (Ctrl-C stops it); look around with `hub tail`, "
            "`hub audit` or the metrics, with "
            f"HUB_BOOTSTRAP_SERVERS={self.settings.bootstrap}")
        while not self.stop.is_set():
            screen.show(self.header(sim, day))
            self.stop.wait(1.0)

    # ---------------------------------------------------------------------- stopping
    def set_deadline(self, _signal: str) -> None:
        """The first Ctrl-C or SIGTERM: the demo has STOP_WITHIN seconds to stop."""
        timer = threading.Timer(STOP_WITHIN, self.hard_stop)
        timer.daemon = True
        timer.start()

    def hard_stop(self) -> None:
        """The demo did not stop within STOP_WITHIN seconds (e.g. its broker is gone and
        a send waits for it): the worker is killed, the broker left as it is."""
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
        say(f"not stopped after {STOP_WITHIN:.0f} s: worker killed"
            + ("; the local broker may still run (`hub broker stop` stops it)"
               if self.started_broker else ""))
        os._exit(1)

    def shut_down(self) -> None:
        """Stop what this run started."""
        if self.server is not None:
            self.server.shutdown()
        if self.worker is not None:
            stop_process(self.worker, timeout=STOP_WITHIN - 3)  # it stops itself within 25 s
            say("worker stopped")
        if self.started_broker:
            self.broker.stop()
            say("broker stopped")


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
