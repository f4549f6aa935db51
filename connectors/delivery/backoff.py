"""When a webhook delivery counts as done, and how long to wait before trying again (pure).

The receiver's answer decides: 2xx is delivered; no answer, 408, 429 and 5xx are passing
troubles; any other status (3xx, other 4xx) means the receiver or its address is
misconfigured. The hub retries in every case, so no event is lost, but reports the last kind
loudly, because it will not heal by waiting.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

TRANSIENT_STATUSES = frozenset({408, 429})
MAX_DOUBLINGS = 60
"""Past this many doublings every delay is at the cap anyway (and floats stay finite)."""


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    """No answer, or a status that usually passes (408, 429, 5xx)."""
    MISCONFIGURED = "misconfigured"
    """A status that will not pass by waiting (3xx, other 4xx): retried, reported loudly."""


def judge(status: int | None) -> Verdict:
    """The verdict on one attempt; ``status`` is None when no HTTP answer came."""
    if status is None or status in TRANSIENT_STATUSES or status >= 500:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.DELIVERED
    return Verdict.MISCONFIGURED


def retry_delay(attempt: int, initial: float, cap: float, retry_after: float | None = None,
                rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...).

    Exponential (``initial``, doubled per attempt) up to ``cap``, with "equal jitter": half
    of that delay plus a random part of up to the other half, so many deliverers that failed
    together do not retry together. A receiver's ``Retry-After`` is honoured up to ``cap``.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1, not {attempt}")
    ceiling = min(cap, initial * 2.0 ** min(attempt - 1, MAX_DOUBLINGS))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay seconds or an HTTP date); None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
