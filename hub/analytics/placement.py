"""Where a fact goes in ``hub.facts``: every fact of one slice in one partition (pure).

A cell depends on every fact of its slice (:mod:`hub.analytics.counted`), so all facts of a
slice must meet in one partition, where one aggregator counts them. An event counts in two
slices of its ISO week (the weekly activity of its town and the weekly refusals of its
sending agency), a handover in one slice of the month it was requested; so the partition of
an event is chosen by its week, that of a handover by its month of request:
:func:`period_partition` numbers the weeks (and the months) one after the other and takes
them round the partitions, so that the past spreads evenly over them. The aggregator of a
partition publishes the cells of the slices whose period falls on it
(:func:`slice_partition`).

A handover whose request is not known yet counts in no slice; it goes where the producer's
partitioner puts its key (None), and the fact with its month replaces it once the request
arrives (on another partition the first one stays, counting nowhere, until the child is
erased). An erasure marker goes to every partition (:func:`marker_partitions`): each
aggregator carries it out on the facts of its own partition.

The number of partitions is the topic's: the worker reads it at start-up and sets it with
:func:`set_partitions` before anything is routed (:func:`hub.analytics.agent.register_analytics`);
until then (and in tests) it is 1 and every fact goes where the producer's partitioner puts
it, as before ``hub.facts`` had more than one partition.
"""

from __future__ import annotations

import functools
from datetime import date

from hub.analytics.counted import LOCAL_TIME, Slice
from hub.analytics.facts import EventFact, Fact, HandoverFact
from hub.analytics.records import iso_week, month_of

__all__ = ["fact_partition", "facts_partitions", "marker_partitions", "period_of",
           "period_partition", "set_partitions", "slice_partition"]

_partitions = [1]


def set_partitions(partitions: int) -> None:
    """How many partitions ``hub.facts`` has (the worker, once at start-up)."""
    if partitions < 1:
        raise ValueError(f"hub.facts needs a partition at least, not {partitions}")
    _partitions[0] = partitions


def facts_partitions() -> int:
    return _partitions[0]


def period_of(fact: Fact) -> str | None:
    """The period whose slices ``fact`` counts in: the ISO week of an event, the month of
    a handover's request (None before it is known, and for an erasure marker)."""
    if isinstance(fact, EventFact):
        return iso_week(fact.time.astimezone(LOCAL_TIME).date())[0]
    if isinstance(fact, HandoverFact) and fact.requested_at is not None:
        return month_of(fact.requested_at.astimezone(LOCAL_TIME).date())
    return None


@functools.lru_cache(maxsize=1024)
def period_partition(period: str, partitions: int) -> int:
    """The partition of a week (``2026-W47``) or a month (``2026-11``): consecutive weeks
    (months) on consecutive partitions."""
    if partitions == 1:
        return 0
    year, _, number = period.partition("-")
    if number.startswith("W"):
        ordinal = date.fromisocalendar(int(year), int(number[1:]), 1).toordinal() // 7
    else:
        ordinal = int(year) * 12 + int(number) - 1
    return ordinal % partitions


def slice_partition(s: Slice, partitions: int) -> int:
    """The partition whose aggregator publishes the cells of slice ``s``."""
    return period_partition(s[1], partitions)


def fact_partition(fact: Fact, partitions: int | None = None) -> int | None:
    """The partition ``fact`` is written to (of ``partitions``, default the topic's); None:
    where the producer's partitioner puts its key (a single partition, or a fact that
    counts in no slice)."""
    partitions = partitions or _partitions[0]
    period = period_of(fact) if partitions > 1 else None
    return None if period is None else period_partition(period, partitions)


def marker_partitions(partitions: int | None = None) -> list[int | None]:
    """The partitions an erasure marker is written to: every one (None: the only one)."""
    partitions = partitions or _partitions[0]
    return [None] if partitions == 1 else list(range(partitions))
