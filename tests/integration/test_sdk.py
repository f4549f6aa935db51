"""The SDK example of the README, run as written against the real broker."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hub.tail import Tail
from tests.support.paths import REPO

pytestmark = pytest.mark.kafka


def readme_sdk_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### Sending: from agency software", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_publishes_an_event(topics):
    code = readme_sdk_example()
    assert len(code.strip().splitlines()) <= 12
    outbox = Tail(topics.bootstrap, ["agency.jugendamt-kamen.outbox"], timeout=10)
    result = subprocess.run([sys.executable, "-c", code], env=topics.env(), cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    event_id = re.fullmatch(r"published ([0-9a-f-]{36})\n", result.stdout).group(1)
    published = [r.value for r in outbox if r.value and r.value["id"] == event_id]
    assert len(published) == 1
    event = published[0]
    assert (event["type"], event["recipient"], event["municipality"], event["purpose"]) == (
        "handover.requested", "gesundheitsamt-kreis-unna", "kamen", "fruehe_hilfen")
    assert "Schröder" not in str(event) and "Mia" not in str(event)
