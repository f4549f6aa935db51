"""The worker runs on uvloop's event loop (less CPU per routed event than asyncio's) and
with at most two malloc arenas (less memory)."""

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


def test_the_worker_limits_glibc_s_malloc_arenas():
    probe = "from hub.worker import limit_malloc_arenas; print(limit_malloc_arenas(2))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True"]  # glibc took the setting (the machines the hub runs on)
