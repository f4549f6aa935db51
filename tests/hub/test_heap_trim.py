"""The worker gives freed memory back to the system (glibc's malloc_trim, every 30 s)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from hub.worker import heap_trim
from tests.support.paths import REPO

FREED = """
from hub.worker import heap_trim

def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024

blocks = [bytearray(8192) for _ in range(20000)]  # 156 MiB
kept = blocks[::16]  # a block in every 128 KiB stays: the freed memory is full of holes
del blocks
before = rss_mib()
heap_trim()()
print(before, rss_mib())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_memory_freed_between_blocks_still_in_use_goes_back_to_the_system():
    assert heap_trim() is not None  # glibc has it: the worker must find it
    done = subprocess.run([sys.executable, "-c", FREED], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    before, after = map(int, done.stdout.split())
    assert before - after > 100, (before, after)  # of the 146 MiB freed
