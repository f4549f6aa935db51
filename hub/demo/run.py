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
from hub.demo.view import Header, Snapshot, render, scrape, summary_line
from hub.errors import ConfigError, HubError
from hub.settings import Settings, write_new_key

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
    from hub.broker.local import LocalBroker, port_in_use
    from hub.kafka_io import admin_client, producer
    from hub.simulation.district import DistrictSimulation
    from hub.topics import apply_topics, plan_topics

    agencies = load_agencies()
    folder = settings.home / "demo"
    broker = LocalBroker(settings.home, settings.broker_port, settings.controller_port,
                         settings.kafka_libs_dir, settings.broker_heap)
    if options.fresh:
        start_over(settings, broker, folder)
    done = load_progress(folder, options)
    if done >= options.days:
        say(f"this demo already ran its {options.days} days (seed {options.seed}); "
            f"--weeks {options.weeks + 4:g} goes on for four more weeks, --fresh starts over")
        return 0
    for port, what in ((settings.metrics_port, "the worker's metrics (HUB_METRICS_PORT)"),
                       (options.metrics_port, "the demo's metrics (--metrics-port)")):
        if port and port_in_use(port):
            raise ConfigError(f"port {port} for {what} is in use (another `hub run` or "
                              "`hub demo`?); stop it or choose another port")

    stop = threading.Event()
    started_broker = False
    worker = server = None

    def hard_stop() -> None:
        """The demo did not stop within STOP_WITHIN seconds (e.g. its broker is gone and
        a send waits for it): the worker is killed, the broker left as it is."""
        if worker is not None and worker.poll() is None:
            worker.kill()
        say(f"not stopped after {STOP_WITHIN:.0f} s: worker killed"
            + ("; the local broker may still run (`hub broker stop` stops it)"
               if started_broker else ""))
        os._exit(1)

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop at once
        stop.set()
        timer = threading.Timer(STOP_WITHIN, hard_stop)
        timer.daemon = True
        timer.start()
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    try:
        if settings.bootstrap_servers:
            say(f"using the broker at {settings.bootstrap}")
        else:
            status, started_broker = broker.start(progress=say)
            say(f"broker {'started' if started_broker else 'already running'} at "
                f"{status.bootstrap}")
        with admin_client(settings.kafka) as admin:
            report = apply_topics(admin, plan_topics(
                agencies, audit_retention_days=settings.audit_retention_days))
        say(f"topics: {report.lines()[-1]}")
        key_file = ensure_demo_key(settings)
        key = settings.model_copy(update={"pseudonym_key_file": key_file}).pseudonym_key
        sim = DistrictSimulation(agencies, options.seed, options.families, options.start)

        first = datetime.combine(options.start, datetime.min.time(), UTC) + timedelta(days=done)
        # the district's clock starts once the worker is up (it starts in a few seconds),
        # so that the first days are not published in one burst
        anchor = datetime.now(UTC) + timedelta(seconds=STARTUP_SECONDS)
        clock = {"HUB_CLOCK_START": first.isoformat(), "HUB_CLOCK_ANCHOR": anchor.isoformat(),
                 "HUB_CLOCK_SPEED": repr(options.speed)}
        log_start = 0
        log_path = settings.home / "logs" / "worker.log"
        if log_path.exists():
            log_start = log_path.stat().st_size
        worker, log_path = start_worker(settings, key_file, clock)
        say(f"worker started (pid {worker.pid}, log {log_path})")
        urls = []
        worker_url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        if settings.metrics_port:
            urls.append(f"worker {worker_url}")
        if options.metrics_port:
            from prometheus_client import start_http_server

            server, _ = start_http_server(options.metrics_port, addr=settings.metrics_addr)
            urls.append(f"connectors http://127.0.0.1:{options.metrics_port}/metrics")
        say("metrics: " + ("  ".join(urls) or "off"))
        say(f"simulating {options.families:,} families (seed {options.seed}) from day {done} "
            f"to day {options.days} ({sim.date_of(done)} to "
            f"{sim.date_of(options.days - 1)}), a day every {86400 / options.speed:.2g} s; "
            "Ctrl-C stops, and the next `hub demo` goes on from there")
        wait_until_ready(worker, log_path, log_start, stop)

        live = sys.stdout.isatty() if options.live is None else options.live
        screen = Screen(live, worker_url, bool(options.metrics_port))
        started = time.monotonic()
        recent: list[str] = []

        def head(day: int) -> Header:
            return Header(options.seed, options.families, options.speed, day, options.days,
                          sim.date_of(min(day, options.days - 1)),
                          time.monotonic() - started, tuple(urls))

        kp = producer(settings.kafka, client_id="demo-connectors")
        try:
            day = done
            while day < options.days and not stop.is_set():
                due = anchor + timedelta(seconds=(day + 1 - done) * 86400 / options.speed)
                while not stop.is_set() and datetime.now(UTC) < due:
                    screen.show(head(day))
                    stop.wait(min(1.0, max(0.05, (due - datetime.now(UTC)).total_seconds())))
                if stop.is_set():
                    break
                recent = (recent + publish_day(sim, day, folder, agencies, key, kp))[-3:]
                day += 1
                save_progress(folder, options, day)
                if day < options.days:  # a slow machine may have no time left to wait
                    screen.show(head(day))
                if worker.poll() is not None:
                    raise HubError(f"the worker stopped; see {log_path}")
        finally:
            kp.close()
        if stop.is_set():
            screen.show(head(day), final=True)
            say(f"stopped after day {day} of {options.days}; `hub demo` (same options) goes "
                "on from there, `hub demo --fresh` starts over")
            return 130
        settle(screen, stop, settings.analytics_publish_seconds)
        final = screen.show(head(day), final=True)
        if recent:
            say("latest rejected rows (dead-lettered to hub.dlq):\n  " + "\n  ".join(recent))
        say(f"{int(final.total('hub_deliveries_total')):,} events delivered, "
            f"{int(final.total('hub_refusals_total')):,} refused, "
            f"{int(final.total('hub_handovers_stalled_total')):,} stall notices; "
            f"the exports are in {folder / 'exports'}")
        write_demo_report(settings, options, folder, sim.date_of(options.days - 1))
        if options.keep:
            say("the hub keeps running (Ctrl-C stops it); look around with `hub tail`, "
                f"`hub audit` or the metrics, with HUB_BOOTSTRAP_SERVERS={settings.bootstrap}")
            while not stop.is_set():
                screen.show(head(day))
                stop.wait(1.0)
        return 0
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.shutdown()
        if worker is not None:
            stop_process(worker, timeout=STOP_WITHIN - 3)  # it stops itself within 25 s
            say("worker stopped")
        if started_broker:
            broker.stop()
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
                      if topic != "hub.ticks")  # ticks keep coming, one a second
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
