"""Taking over partitions of ``hub.facts``: the aggregators brought up to date from the
topic, and told what the analytics topics hold (Kafka reads; the Faust agent is in
:mod:`hub.analytics.agent`).

A partition whose store survived on disk (:class:`hub.analytics.rocks.RocksStore`) is read
only from the offset the store has every fact up to, like a RocksDB table of Faust reads
its changelog; the store is trusted when it was written by this version of the aggregator
with the same ``k``, its offset lies within the partition, and it caught up less than the
topic's ``delete.retention.ms`` ago (an older one may have missed a tombstone that
compaction has removed since). Any other partition is rebuilt from the beginning of the
topic. Then the analytics topics are read once for all partitions taken over: a rebuilt
partition learns what is published, one read on from its store compares it with what the
store says it published and recomputes only the slices where they differ
(:meth:`~hub.analytics.aggregate.Aggregator.reconcile_published`), besides those changed
since their last publish.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub.analytics.aggregate import Aggregator, Reconcile
from hub.analytics.counted import ENCODING
from hub.analytics.facts import ERASURE, FACTS_TOPIC, decode_fact
from hub.analytics.placement import fact_partition, slice_partition
from hub.analytics.records import RECORD_OF_TOPIC, analytics_schemas
from hub.analytics.store import slice_of_cell
from hub.kafka_io import Kafka, consumer, read_partitions, read_to_end, topic_config

log = logging.getLogger(__name__)

CLIENT = "unna-hub-analytics"
DEFAULT_DELETE_RETENTION_S = 86_400.0
"""Kafka's default ``delete.retention.ms`` (one day), when the broker does not tell."""
CELLS_CODE = ("aggregate.py", "cells.py", "counted.py", "records.py", "suppression.py")
"""The modules whose code decides the cells: a store written by another version of them
has its slices recomputed."""

PendingMarker = tuple[bytes, int, bytes]
"""An erasure marker not yet carried out: (key, offset, value)."""


def replay(records: Iterable, aggregator: Aggregator, misplaced: list | None = None
           ) -> tuple[int, int, list[PendingMarker]]:
    """Apply the records of ``hub.facts`` (kafka-python ``ConsumerRecord``s or anything with
    ``offset``, ``key`` and ``value``) in topic order: facts, tombstones, and erasure
    markers, which are no facts (the aggregator's store keeps them until their tombstone).
    A fact of another partition's slices is not applied (appended to ``misplaced``).
    Returns (facts applied, the offset read up to, the markers without a later tombstone,
    in topic order)."""
    facts = end = 0
    store = aggregator.store
    for record in records:
        end = record.offset + 1
        key = record.key or b""
        kind, _, fact_id = key.decode(errors="replace").partition("|")
        if kind == ERASURE:
            store.keep_marker(key, None if record.value is None  # carried out
                              else (record.offset, record.value))
        elif record.value is None:
            aggregator.remove(kind, fact_id)
        else:
            fact = decode_fact(record.value)
            if fact is None:
                continue
            applied = aggregator.apply_owned(fact)
            if applied is None and misplaced is not None:
                misplaced.append(record.offset)
            facts += bool(applied)
    markers = sorted(((key, offset, value) for key, (offset, value)
                      in store.markers().items()), key=lambda marker: marker[1])
    return facts, end, markers


@dataclass
class Taken:
    """What taking one partition over found."""

    partition: int
    start: int  # the offset read from (0: rebuilt from the beginning)
    why: str  # why from there
    facts: int = 0  # facts applied
    end: int = 0  # the offset read up to
    cells: int = 0  # published cells of its slices (rebuilt), or slices that differ
    misplaced: int = 0  # facts of another partition's slices (not counted)
    seconds: float = 0.0
    markers: list[PendingMarker] | None = None

    def describe(self) -> str:
        how = (f"read on from offset {self.start} ({self.why})" if self.start else
               f"rebuilt from the beginning ({self.why})")
        cells = (f"{self.cells} slices differ from the analytics topics" if self.start else
                 f"{self.cells} published cells known")
        misplaced = (f", {self.misplaced} facts of other partitions' slices left out"
                     if self.misplaced else "")
        return (f"hub.facts[{self.partition}]: {how}, {self.facts} facts in {self.seconds:.1f}"
                f" s, {cells}, {len(self.markers or [])} erasures to carry out{misplaced}")


def cells_fingerprint(k: int) -> str:
    """What decides the cells besides the facts: ``k``, the code that computes them and
    the analytics schemas."""
    digest = hashlib.sha256(f"k={k}".encode())
    here = Path(__file__).parent
    for name in CELLS_CODE:
        digest.update((here / name).read_bytes())
    for schema in analytics_schemas().values():
        digest.update(schema.fingerprint)
    return digest.hexdigest()[:32]


def trusted_start(bootstrap: Kafka, aggregator: Aggregator, partition: int,
                  now: float | None = None) -> tuple[int, str]:
    """The offset ``partition`` can be read on from with the facts the aggregator's store
    holds, and why (0: rebuild it, and why)."""
    store = aggregator.store
    offset = store.read_up_to
    if not offset:
        return 0, "no facts of it on disk"
    if getattr(store, "meta", None) is None or store.meta("encoding") != ENCODING:
        return 0, "the facts on disk are in another encoding"
    begin, end = partition_bounds(bootstrap, partition)
    if not begin <= offset <= end:
        return 0, f"the offset on disk ({offset}) is not within the partition ({begin}-{end})"
    caught_up = float(store.meta("caught_up_at") or 0)
    retention = delete_retention_seconds(bootstrap)
    age = (time.time() if now is None else now) - caught_up
    if age > retention:
        return 0, (f"the facts on disk are {age / 3600:.1f} h old, compaction may have "
                   f"removed tombstones since (delete.retention.ms {retention / 3600:g} h)")
    return offset, f"the facts on disk are {age:.0f} s old"


def take_over(bootstrap: Kafka, aggregators: dict[int, Aggregator], partitions: int,
              starts: dict[int, tuple[int, str]]) -> dict[int, Taken]:
    """Bring the aggregators of ``aggregators`` (by partition) up to date: each partition
    read from its start in ``starts`` (:func:`trusted_start`; 0: rebuilt), then the
    analytics topics read once for all of them. ``partitions``: how many ``hub.facts``
    has."""
    taken = {}
    for partition, aggregator in aggregators.items():
        start, why = starts.get(partition, (0, "no store"))
        taken[partition] = _read_facts(bootstrap, aggregator, partition, start, why)
    fingerprint = cells_fingerprint(next(iter(aggregators.values())).k) if aggregators \
        else ""
    reconciles = {p: Reconcile(a) for p, a in aggregators.items() if taken[p].start}
    for topic in RECORD_OF_TOPIC:
        for record in read_to_end(bootstrap, topic, CLIENT):
            s = slice_of_cell(topic, record.key)
            partition = slice_partition(s, partitions) if s is not None else None
            if partition in reconciles:
                reconciles[partition].see(topic, record.key, record.value)
            elif partition in aggregators:
                taken[partition].cells += aggregators[partition].seed_encoded(
                    topic, record.key, record.value)
    for partition, aggregator in aggregators.items():
        store = aggregator.store
        if partition in reconciles:
            taken[partition].cells = reconciles[partition].finish()
        if partition not in reconciles or _meta(store, "cells") != fingerprint:
            aggregator.mark_all_dirty()
        _set_meta(store, "cells", fingerprint)
        _set_meta(store, "encoding", ENCODING)
        _set_meta(store, "caught_up_at", str(time.time()))
        store.read_up_to = taken[partition].end  # last: the store is complete up to here
    return taken


def _read_facts(bootstrap: Kafka, aggregator: Aggregator, partition: int, start: int,
                why: str) -> Taken:
    started = time.perf_counter()
    taken = Taken(partition, start, why)
    if not start:
        aggregator.reset()
    ends: dict = {}
    misplaced: list[int] = []
    records = read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=partition,
                              starts={FACTS_TOPIC: start}, ends=ends)
    bulk = getattr(aggregator.store, "bulk", None)
    if bulk is not None and not start:
        with bulk():
            taken.facts, end, taken.markers = replay(records, aggregator, misplaced)
    else:
        taken.facts, end, taken.markers = replay(records, aggregator, misplaced)
    taken.end = max([end, start, *ends.values()])
    taken.misplaced = len(misplaced)
    taken.seconds = time.perf_counter() - started
    return taken


def _meta(store, name: str) -> str | None:
    meta = getattr(store, "meta", None)
    return meta(name) if meta is not None else None


def _set_meta(store, name: str, value: str) -> None:
    if getattr(store, "set_meta", None) is not None:
        store.set_meta(name, value)


def misplaced_sample(bootstrap: Kafka, partitions: int, first: int = 500) -> dict[int, int]:
    """How many of the facts in the first ``first`` offsets of each partition are on another
    partition than their period's (partitions with none left out): none, unless
    ``hub.facts`` grew in place (the facts written before stayed where they were;
    ``hub topics repartition-facts`` moves them). Every partition through one consumer: this
    runs before the worker starts."""
    found: dict[int, int] = {}
    if partitions <= 1:
        return found
    for record in read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, first=first):
        fact = decode_fact(record.value) if record.value else None
        target = fact_partition(fact, partitions) if fact is not None else None
        if target is not None and target != record.partition:
            found[record.partition] = found.get(record.partition, 0) + 1
    return found


def read_erasure_records(bootstrap: Kafka, partition: int | None):
    """The records of ``hub.facts`` to its end (of ``partition`` only, when given) as
    ``(offset, key, value)``, for an erasure."""
    if partition is None:
        records = read_to_end(bootstrap, FACTS_TOPIC, CLIENT)
    else:
        records = read_partitions(bootstrap, [FACTS_TOPIC], CLIENT, partition=partition)
    return ((r.offset, r.key, r.value) for r in records)


def partition_bounds(bootstrap: Kafka, partition: int) -> tuple[int, int]:
    """The first and the end offset of ``partition`` of ``hub.facts``."""
    from kafka import TopicPartition

    tp = TopicPartition(FACTS_TOPIC, partition)
    reader = consumer(bootstrap, group_id=None, enable_auto_commit=False, client_id=CLIENT)
    try:
        return reader.beginning_offsets([tp])[tp], reader.end_offsets([tp])[tp]
    finally:
        reader.close()


def facts_partitions_of(bootstrap: Kafka) -> int | None:
    """How many partitions ``hub.facts`` has (None: it does not exist)."""
    reader = consumer(bootstrap, group_id=None, enable_auto_commit=False, client_id=CLIENT)
    try:
        found = reader.partitions_for_topic(FACTS_TOPIC)
    finally:
        reader.close()
    return len(found) if found else None


def delete_retention_seconds(bootstrap: Kafka) -> float:
    """``delete.retention.ms`` of ``hub.facts`` in seconds (how long compaction keeps a
    tombstone); Kafka's default when the broker does not tell."""
    from kafka.errors import KafkaError

    from hub.errors import BrokerError

    try:
        return int(topic_config(bootstrap, FACTS_TOPIC, "delete.retention.ms")) / 1000
    except (KafkaError, BrokerError, TypeError, ValueError) as exc:
        log.info("analytics: delete.retention.ms of %s not known (%s); assuming one day",
                 FACTS_TOPIC, exc)
        return DEFAULT_DELETE_RETENTION_S
