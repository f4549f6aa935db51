"""A periodic pass over the worker's state keeps to its share of the time."""

from __future__ import annotations

import pytest

from hub.clock import Pacing


class Ticks:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_pass_that_took_long_waits_in_proportion_before_the_next():
    ticks = Ticks()
    pacing = Pacing(share=0.1, monotonic=ticks)
    assert pacing.due()
    started = ticks.now
    ticks.now += 2.0  # the pass took 2 s: 10 % of the time means 18 s of rest
    pacing.ran(started)
    ticks.now += 17.9
    assert not pacing.due()
    ticks.now += 0.2
    assert pacing.due()
    assert pacing.skipped == 1


def test_a_quick_pass_is_due_again_at_once():
    ticks = Ticks()
    pacing = Pacing(share=0.05, monotonic=ticks)
    pacing.ran(ticks.now)
    assert pacing.due()


def test_the_share_must_be_a_fraction():
    with pytest.raises(ValueError, match="share"):
        Pacing(share=0)
