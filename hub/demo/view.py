"""The demo's live view: what the hub's metrics say, as a screen for people.

:class:`Snapshot` sums the Prometheus samples of the worker (scraped from its ``/metrics``)
and of the demo's own connectors (its registry) by the labels the view shows; ``render``
turns one into text (pure). On a terminal the screen is redrawn every second; otherwise a
line per simulated week is printed, so that logs stay readable.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from prometheus_client.parser import text_string_to_metric_families

from hub.core.topics import is_outbox, outbox_owner
from hub.wording import counted


@dataclass
class Snapshot:
    """Metric samples summed by the label the view shows."""

    samples: dict[str, Counter] = field(default_factory=dict)
    worker_up: bool = False

    @classmethod
    def of(cls, families: Iterable, worker_up: bool = True) -> Snapshot:
        snapshot = cls(worker_up=worker_up)
        snapshot.add(families)
        return snapshot

    def add(self, families: Iterable) -> None:
        for family in families:
            for sample in family.samples:
                counter = self.samples.setdefault(sample.name, Counter())
                counter[tuple(sorted(sample.labels.items()))] += sample.value

    def total(self, name: str, **where: str) -> float:
        return sum(v for labels, v in self.samples.get(name, {}).items()
                   if all(dict(labels).get(k) == want for k, want in where.items()))

    def by(self, name: str, label: str, **where: str) -> Counter:
        """``name`` summed per value of ``label`` (samples matching ``where`` only)."""
        out: Counter = Counter()
        for labels, value in self.samples.get(name, {}).items():
            labels = dict(labels)
            if label in labels and all(labels.get(k) == w for k, w in where.items()):
                out[labels[label]] += value
        return out


def scrape(url: str, timeout: float = 2.0) -> list:
    """The metric families served at ``url``; [] when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as page:
            return list(text_string_to_metric_families(page.read().decode()))
    except OSError:
        return []


@dataclass(frozen=True)
class Header:
    seed: int
    families: int
    speed: float
    day: int  # simulated days done
    days: int  # simulated days in all
    today: date
    elapsed: float  # real seconds
    metrics: tuple[str, ...]  # where the metrics are


def _row(counts: Counter, limit: int = 6, short=lambda k: k) -> str:
    if not counts:
        return "-"
    top = [f"{short(k)} {int(v):,}" for k, v in counts.most_common() if v][:limit]
    rest = len([v for v in counts.values() if v]) - len(top)
    return "  ".join(top) + (f"  (+{rest} more)" if rest > 0 else "") if top else "-"


def _agency(topic: str) -> str:
    return outbox_owner(topic) or topic


def render(head: Header, s: Snapshot, width: int = 100) -> str:
    """The whole screen."""
    minutes, seconds = divmod(int(head.elapsed), 60)
    consumed = Counter({k: v for k, v in s.by("hub_events_consumed_total", "topic").items()
                        if is_outbox(k)})
    types = s.by("hub_events_consumed_total", "type")
    rows = s.by("hub_connector_rows_total", "result")
    lines = [
        f"Unna prevention-chain hub: simulated district (seed {head.seed}, "
        f"{head.families:,} families, {head.speed:,.0f}x)",
        f"district date {head.today:%a %Y-%m-%d}, day {head.day} of {head.days}, "
        f"running {minutes}:{seconds:02d}"
        + ("" if s.worker_up else "   [worker not answering]"),
        "metrics: " + "  ".join(head.metrics),
        "counted since this run started:",
        f"exports          {int(sum(rows.values())):,} rows: "
        f"{int(rows['published']):,} events published, {int(rows['rejected']):,} rejected, "
        f"{int(rows['duplicate']):,} repeated in a file, "
        f"{int(rows['superseded']):,} older consent states",
        f"events by type   {_row(types, 8)}",
        f"events by agency {_row(consumed, 6, _agency)}",
        f"deliveries       {int(s.total('hub_deliveries_total')):,}: "
        f"{_row(s.by('hub_deliveries_total', 'recipient'), 5)}",
        f"refusals         {int(s.total('hub_refusals_total')):,}: "
        f"{_row(s.by('hub_refusals_total', 'reason'))}",
        f"duplicates       {int(s.total('hub_duplicates_total')):,} not delivered again, "
        f"{int(s.total('hub_held_events')):,} events waiting for a consent",
        f"handovers        {int(s.total('hub_handovers_open')):,} open, "
        f"{int(s.total('hub_handovers_overdue')):,} overdue, "
        f"{counted(int(s.total('hub_handovers_stalled_total')), 'stall notice')}, "
        f"{counted(int(s.total('hub_handover_bounces_total')), 'bounce')}, "
        f"{int(s.total('hub_handover_ping_pong_total')):,} ping-pong",
        f"dead letters     {int(s.total('hub_dead_letters_total')):,}: "
        f"{_row(s.by('hub_dead_letters_total', 'reason'))}",
        f"consumer lag     {int(s.total('hub_consumer_lag')):,} records",
    ]
    return "\n".join(line[:width] for line in lines)


def summary_line(head: Header, s: Snapshot) -> str:
    """One line for logs."""
    return (f"day {head.day:>3} ({head.today:%Y-%m-%d}): "
            f"{int(s.total('hub_connector_rows_total', result='published')):,} events "
            f"published, {int(s.total('hub_deliveries_total')):,} delivered, "
            f"{int(s.total('hub_refusals_total')):,} refused, "
            f"{int(s.total('hub_duplicates_total')):,} duplicates, "
            f"{int(s.total('hub_handovers_stalled_total')):,} stall notices, "
            f"{int(s.total('hub_dead_letters_total')):,} dead letters, "
            f"lag {int(s.total('hub_consumer_lag')):,}")
