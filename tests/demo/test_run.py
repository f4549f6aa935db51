"""``hub demo`` without a broker: what it does before it starts anything, and how it stops."""

import signal

import pytest

from hub.demo import run
from hub.demo.options import DemoOptions
from hub.demo.progress import save_progress
from hub.demo.run import run_demo
from hub.errors import ConfigError
from hub.settings import Settings


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, metrics_port=0)


def test_a_demo_that_ran_its_days_says_how_to_go_on(settings, capsys):
    options = DemoOptions(weeks=1)
    save_progress(settings.home / "demo", options, 7)
    assert run_demo(settings, options) == 0
    assert "already ran its 7 days" in capsys.readouterr().out


def test_a_port_in_use_is_refused_before_anything_starts(settings, monkeypatch):
    monkeypatch.setattr("hub.broker.local.port_in_use", lambda port: port == 9311)
    started = []
    monkeypatch.setattr(run.DemoRun, "run", lambda self, done: started.append(done))
    with pytest.raises(ConfigError, match="port 9311 for the demo's metrics"):
        run_demo(settings, DemoOptions())
    assert started == []


def test_an_interrupt_stops_what_the_demo_started(settings, monkeypatch, capsys):
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    monkeypatch.setattr("hub.broker.local.port_in_use", lambda port: False)
    during = {}
    shut = []

    def interrupted(self, done):
        during.update({sig: signal.getsignal(sig) for sig in before})
        raise KeyboardInterrupt

    monkeypatch.setattr(run.DemoRun, "run", interrupted)
    monkeypatch.setattr(run.DemoRun, "shut_down", lambda self: shut.append(
        {sig: signal.getsignal(sig) for sig in before}))
    assert run_demo(settings, DemoOptions()) == 130
    assert "interrupted" in capsys.readouterr().out
    assert during != before  # the demo's own handlers while it ran
    assert shut == [before]  # shut down with the handlers of before again
    assert {sig: signal.getsignal(sig) for sig in before} == before
