"""What every handler of the router uses besides the stores (pure, no Kafka): the agency
directory, the routing rules, the clock, the codec, and the counts of what was decided.

The handlers import no metrics: they count what they decided (deliveries, refusals by
reason kind, duplicates, anomalies, bounces, stalls, dead letters) in :class:`Counts`, and
the runtime hands those counts to Prometheus once per batch
(:func:`hub.metrics.record_counts`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from hub.agencies import AgencyDirectory
from hub.clock import Clock
from hub.contract.codec import get_codec
from hub.routing.rules import Router


class Counts:
    """(metric, ((label, value), ...)) -> how often, since :meth:`take`."""

    def __init__(self):
        self.counter: Counter = Counter()

    def add(self, metric: str, **labels: str) -> None:
        self.counter[(metric, tuple(labels.items()))] += 1

    def take(self) -> Counter:
        """What was counted since the last call (and start counting afresh)."""
        counts, self.counter = self.counter, Counter()
        return counts


@dataclass
class Services:
    agencies: AgencyDirectory
    router: Router
    clock: Clock
    hold_window: timedelta
    codec: object = field(default_factory=get_codec)
    review_window: timedelta = timedelta(days=14)
    """How long a possible match's held events wait for the trust office."""
    counts: Counts = field(default_factory=Counts)
