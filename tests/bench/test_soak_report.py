"""The soak's report prints for any list of faults, none included."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.soak import Fault, kept_name, parse_faults, recovery, report


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


def test_recovery_is_measured_from_the_fault_and_names_the_quiet_stretch():
    # events at 1 and 2 s, the fault at 2.5 s, arrivals stop from 3 s to 9 s
    sent = {"a": 1.0, "b": 2.0, "c": 4.0}
    arrived = {"a": [3.0], "b": [9.0], "c": [9.5]}
    r = recovery(2.5, 12.5, [3.0, 9.0, 9.5], sent, {"a", "b", "c"}, arrived)
    assert r.quiet == pytest.approx(6.0)
    assert r.quiet_from == pytest.approx(0.5)
    assert r.caught_up == pytest.approx(6.5)
    assert r.missing == 0


def test_events_that_had_all_arrived_before_the_fault_are_not_a_negative_time():
    r = recovery(5.0, 10.0, [1.5, 6.0], {"a": 1.0}, {"a"}, {"a": [1.5]})
    assert r.caught_up == 0.0


def test_an_event_acknowledged_before_the_fault_that_never_arrived_is_counted(capsys):
    r = recovery(5.0, 10.0, [1.5], {"a": 1.0, "b": 2.0}, {"a", "b"}, {"a": [1.5]})
    assert r.missing == 1
    sender = SimpleNamespace(sent={"a": 1.0, "b": 2.0}, acked={"a", "b"}, failed={})
    arrivals = SimpleNamespace(arrived={"a": [1.5]}, times=[1.5])
    args = SimpleNamespace(minutes=0.1, rate=20, nodes=1, workers=1)
    fault = Fault("restart-broker", 5.0, happened=5.0, what="broker restarted")
    report(args, sender, arrivals, {"a": 1}, [], [], [fault], 0, 0.0, 10.0)
    assert "1 events acknowledged before it never arrived" in capsys.readouterr().out


def test_each_node_of_the_cluster_keeps_its_own_broker_log():
    home = Path("/tmp/home")
    names = {kept_name(home / "kafka-cluster" / f"node-{n}" / "logs" / "server.log")
             for n in (1, 2, 3)}
    assert names == {"node-1-server.log", "node-2-server.log", "node-3-server.log"}
    assert kept_name(home / "kafka" / "logs" / "server.log") == "kafka-server.log"
    assert kept_name(Path("/tmp/worker-0.log")) == "worker-0.log"
