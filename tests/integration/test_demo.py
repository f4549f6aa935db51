"""`hub demo`, the README's run command, as a new user runs it (its own broker)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hub.broker.local import free_port, port_in_use
from tests.conftest import CLOCK_START, REPO, wait_for
from tests.district_samples import EXPECTED_INBOXES
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row

pytestmark = pytest.mark.kafka

INBOXES = sorted(inbox for inbox, events in EXPECTED_INBOXES.items() for _ in events)
# the invented people of connectors/examples: none may show up anywhere in the output
IDENTIFYING = ("Mia", "Schröder", "Schroeder", "Leon", "Yılmaz", "Yilmaz", "Sofia",
               "Al-Hassan", "Noah", "Krüger", "Emma", "Nowak", "14.02.2025", "2025-02-14",
               "02.09.2020", "23.06.2009")


@pytest.fixture
def demo_env(tmp_path):
    port, controller = free_port(), free_port()
    env = dict(os.environ, HUB_HOME=str(tmp_path / "home"), HUB_BROKER_PORT=str(port),
               HUB_CONTROLLER_PORT=str(controller), HUB_BROKER_HEAP="384m",
               HUB_CLOCK_START=CLOCK_START)
    for name in ("HUB_BOOTSTRAP_SERVERS", "HUB_PSEUDONYM_KEY_FILE"):
        env.pop(name, None)
    yield env, port
    subprocess.run([sys.executable, "-m", "hub", "broker", "stop"], env=env, cwd=REPO,
                   capture_output=True, timeout=120)


def test_demo_shows_events_arriving_and_cleans_up(demo_env):
    env, port = demo_env
    result = subprocess.run([sys.executable, "-m", "hub", "demo"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"all {len(INBOXES)} deliveries arrived" in output
    arrivals = [line for line in output.splitlines() if line.strip().startswith("->")]
    assert sorted(line.split()[1] for line in arrivals) == INBOXES
    assert "1 duplicate row skipped" in output  # JA-KAM-2026-0104 is exported twice
    # the analytics cells are published before the worker stops, and the demo says how to
    # turn them into the report
    assert re.search(r"analytics: [1-9]\d* cells", output), output
    assert "hub report --from 2026-" in output
    for text in IDENTIFYING:
        assert text not in output
    assert "worker stopped" in output and "broker stopped" in output
    assert not port_in_use(port)


def test_demo_keep_shows_further_deliveries_until_ctrl_c(demo_env):
    env, port = demo_env
    proc = subprocess.Popen([sys.executable, "-m", "hub", "demo", "--keep"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        def seen(text):
            while text not in "".join(lines):
                line = proc.stdout.readline()
                if not line:
                    return False
                lines.append(line)
            return True

        assert wait_for(lambda: seen("Ctrl-C stops what the demo started"), 300,
                        "the demo to keep running"), "".join(lines)
        # another agency system sends a new family's consent and handover request
        tmp = Path(env["HUB_HOME"]).parent
        person = {"Vorname": "Ida", "Nachname": "Neu", "Geburtsdatum": "02.09.2020"}
        files = [write_export(tmp / "einwilligungen_jugendamt-kamen.csv",
                              [consent_row(**{"Einwilligungs-ID": "EW-NEU"}, **person)],
                              columns=CONSENT_COLUMNS),
                 write_export(tmp / "jugendamt-kamen_export.csv", [youth_office_row(
                     Vorgangsnummer="JA-NEU", **person, **{"Uebergabe-ID": "UE-NEU"})])]
        for path in files:
            ingest = subprocess.run(
                [sys.executable, "-m", "hub", "ingest", str(path)],
                env={**env, "HUB_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
                     "HUB_PSEUDONYM_KEY_FILE": os.path.join(env["HUB_HOME"],
                                                            "demo-pseudonym.key")},
                cwd=REPO, capture_output=True, text=True, timeout=120)
            assert "1 event published" in ingest.stdout, ingest.stderr
        before = sum(1 for line in lines if line.strip().startswith("->"))
        while sum(1 for line in lines if line.strip().startswith("->")) < before + 1:
            lines.append(proc.stdout.readline())
        assert "agency.grundschule-kamen-mitte.inbox" in lines[-1]
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    output = "".join(lines) + rest
    assert proc.returncode == 130, output
    assert "worker stopped" in output and "broker stopped" in output
    assert not port_in_use(port)
