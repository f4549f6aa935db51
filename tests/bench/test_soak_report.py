"""The soak's report prints for any list of faults, none included."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.soak import Fault, parse_faults, report


def _report(capsys, faults) -> str:
    sender = SimpleNamespace(sent={"e1": 1.0, "e2": 2.0}, acked={"e1", "e2"}, failed={})
    arrivals = SimpleNamespace(arrived={"e1": [1.5], "e2": [2.5]}, times=[1.5, 2.5])
    worker = SimpleNamespace(name="worker-1", rss_start=100.0)
    args = SimpleNamespace(minutes=0.1, rate=20, nodes=1, workers=1)
    report(args, sender, arrivals, {"e1": 1, "e2": 1}, [worker], [120.0], faults, 0, 0.0, 3.0)
    return capsys.readouterr().out


def test_no_faults(capsys):
    out = _report(capsys, parse_faults("none", 60))
    assert "no faults (--faults none)" in out
    assert "delivered once 2, lost 0, doubled 0" in out


@pytest.mark.parametrize("count", [1, 2])
def test_each_fault_that_happened_is_reported(capsys, count):
    faults = [Fault("kill-worker", 1.0, happened=1.0, what="worker-1 killed"),
              Fault("restart-broker", 2.0, happened=2.0, what="broker restarted")][:count]
    out = _report(capsys, faults)
    assert out.count("fault at") == count
