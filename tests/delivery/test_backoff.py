"""The webhook's verdict on an answer and its retry schedule (pure)."""

import random
from datetime import UTC, datetime

import pytest

from connectors.delivery.backoff import Verdict, judge, parse_retry_after, retry_delay


@pytest.mark.parametrize(("status", "verdict"), [
    (200, Verdict.DELIVERED), (201, Verdict.DELIVERED), (204, Verdict.DELIVERED),
    (None, Verdict.RETRY), (408, Verdict.RETRY), (429, Verdict.RETRY),
    (500, Verdict.RETRY), (503, Verdict.RETRY),
    (301, Verdict.MISCONFIGURED), (400, Verdict.MISCONFIGURED),
    (401, Verdict.MISCONFIGURED), (404, Verdict.MISCONFIGURED), (422, Verdict.MISCONFIGURED),
    (100, Verdict.MISCONFIGURED),
])
def test_judge(status, verdict):
    assert judge(status) is verdict


def test_delays_double_within_jitter_up_to_the_cap():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 60.0), (50, 60.0)]:
        for _ in range(200):
            delay = retry_delay(attempt, initial=0.5, cap=60.0, rng=rng)
            assert ceiling / 2 <= delay <= ceiling


def test_jitter_spreads_the_delays():
    rng = random.Random(1)
    delays = {round(retry_delay(5, 0.5, 60.0, rng=rng), 6) for _ in range(50)}
    assert len(delays) > 40


def test_the_same_random_source_gives_the_same_schedule():
    first = [retry_delay(a, 0.5, 60.0, rng=random.Random(3)) for a in range(1, 10)]
    again = [retry_delay(a, 0.5, 60.0, rng=random.Random(3)) for a in range(1, 10)]
    assert first == again


def test_a_very_long_outage_stays_at_the_cap():
    assert 30.0 <= retry_delay(100_000, 0.5, 60.0) <= 60.0


def test_retry_after_is_honoured_up_to_the_cap():
    assert retry_delay(1, 0.5, 60.0, retry_after=20.0) == 20.0
    assert retry_delay(1, 0.5, 60.0, retry_after=3600.0) == 60.0
    assert retry_delay(1, 0.5, 60.0, retry_after=0.0) <= 0.5


def test_attempts_count_from_one():
    with pytest.raises(ValueError, match="start at 1"):
        retry_delay(0, 0.5, 60.0)


def test_parse_retry_after():
    now = datetime(2026, 9, 16, 7, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 16 Sep 2026 07:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 16 Sep 2026 06:00:00 GMT", now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
