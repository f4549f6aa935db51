"""The worker runs on uvloop's event loop (less CPU per routed event than asyncio's)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import asyncio
from hub.worker import use_uvloop
print(use_uvloop(), type(asyncio.get_event_loop()).__module__)
"""


def test_the_worker_takes_uvloop_s_event_loop():
    # in a process of its own: the policy is process-wide
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "True"
    assert out[1].startswith("uvloop")
