"""`hub demo`, the README's run command, as a new user runs it: its own broker, a
simulated district, a live view, Ctrl-C, and a second run that goes on."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from hub.agencies import load_agencies
from hub.broker.local import free_port, port_in_use
from hub.simulation.district import DistrictSimulation
from tests.support.paths import REPO
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

FAST = ["--speed", "300000", "--families", "120", "--seed", "5", "--view", "lines"]


def demo(env, *args, timeout=300) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "hub", "demo", *args, "--metrics-port",
                             str(free_port())], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def figure(output: str, pattern: str) -> int:
    found = re.findall(pattern, output)
    assert found, f"{pattern!r} not in:\n{output}"
    return int(found[-1].replace(",", ""))


def progress(env) -> dict:
    return json.loads((Path(env["HUB_HOME"]) / "demo" / "progress.json").read_text())


def names_of_the_district(seed: int, families: int) -> list[str]:
    sim = DistrictSimulation(load_agencies(), seed, families, date(2026, 9, 7))
    return [f"{f.child.given} {f.child.family}" for f in sim.families] + \
        [f.child.family for f in sim.families]


def test_the_district_runs_and_a_second_run_goes_on_where_the_first_ended(demo_env):
    env, port = demo_env
    code, output = demo(env, "--weeks", "3", *FAST)
    assert code == 0, output
    assert re.search(r"metrics: worker http://127\.0\.0\.1:\d+/metrics  connectors "
                     r"http://127\.0\.0\.1:\d+/metrics", output)
    assert "from day 0 to day 21 (2026-09-07 to 2026-09-27)" in output
    # a line a simulated week, the first one within its first week (the line is written when
    # the view first looks, which may be a day or two into the run)
    assert re.search(r"^day +[0-6] \(2026-09-(0[7-9]|1[0-3])\)", output, re.M)
    # the final view: the connectors published, the hub delivered, refused and reported
    published = figure(output, r"exports +[\d,]+ rows: ([\d,]+) events published")
    assert published > 100
    assert figure(output, r"deliveries +([\d,]+):") > 20
    assert figure(output, r"refusals +([\d,]+): .*no_consent") > 0
    assert figure(output, r"([\d,]+) stall notices?") > 0  # three weeks: deadlines pass
    assert "events by agency" in output and "jobcenter-kreis-unna" in output
    report = Path(env["HUB_HOME"]) / "demo" / "report.html"
    assert f"district report: {report}" in output and "<svg" in report.read_text()
    assert "worker stopped" in output and "broker stopped" in output
    assert not port_in_use(port)
    assert progress(env)["days_done"] == 21
    exports = sorted((Path(env["HUB_HOME"]) / "demo" / "exports").iterdir())
    assert exports[0].name == "2026-09-07" and exports[-1].name == "2026-09-27"
    # the invented families' names are in the agencies' exports, never in what the hub shows
    for name in names_of_the_district(5, 120):
        assert name not in output and name not in report.read_text()

    code, output = demo(env, "--weeks", "4", *FAST)
    assert code == 0, output
    assert "from day 21 to day 28 (2026-09-28 to 2026-10-04)" in output
    assert progress(env)["days_done"] == 28

    # another district in the same broker only from scratch
    code, output = demo(env, "--weeks", "1", *FAST[:-4], "--seed", "6", "--view", "lines")
    assert code != 0 and "--fresh" in output and "seed 5" in output, output
    code, output = demo(env, "--weeks", "1", "--fresh", *FAST[:-4], "--seed", "6",
                        "--view", "lines")
    assert code == 0, output
    assert "removed" in output and "from day 0 to day 7" in output
    assert progress(env) == {"seed": 6, "families": 120, "start": "2026-09-07",
                             "days_done": 7}


def test_ctrl_c_stops_everything_and_the_next_run_goes_on_from_there(demo_env):
    env, port = demo_env
    metrics = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "hub", "demo", "--weeks", "12",
                             "--speed", "43200", "--families", "60", "--view", "lines",
                             "--metrics-port", str(metrics)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        def a_week_passed():  # the first line may come a day or two into the first week
            line = proc.stdout.readline()
            lines.append(line)
            day = re.match(r"day +(\d+) \(", line)
            return not line or (day and int(day.group(1)) >= 7)
        wait_for(a_week_passed, 240, "the first simulated week")
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    stopped = figure(output, r"stopped after day (\d+) of 84")
    assert 7 <= stopped < 84
    assert "worker stopped" in output and "broker stopped" in output
    assert not port_in_use(port) and not port_in_use(metrics)
    assert not port_in_use(int(env["HUB_METRICS_PORT"]))
    assert progress(env)["days_done"] == stopped

    code, output = demo(env, "--weeks", "12", "--speed", "43200", "--families", "60",
                        "--view", "lines", "--seed", "2")
    assert code != 0 and "seed 1" in output  # the first run's district is kept
