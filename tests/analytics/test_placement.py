"""Where facts go in a ``hub.facts`` of several partitions, and a worker taking partitions
over (Kafka replaced by lists; no broker)."""

from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from kafka import TopicPartition

from hub.analytics import placement, takeover
from hub.analytics.aggregate import Aggregator
from hub.analytics.counted import counted
from hub.analytics.facts import Outcome, encode_fact, erasure_marker, fact_key
from hub.analytics.placement import (
    fact_partition,
    marker_partitions,
    period_partition,
    slice_partition,
)
from hub.analytics.records import WEEKLY_ACTIVITY, encode_record, iso_week
from hub.analytics.rocks import RocksStore
from hub.topic_admin import ApplyReport, _align
from hub.topics import TopicSpec
from tests.analytics.test_aggregate import MONDAY, NOW, event, handover_fact

Record = namedtuple("Record", "offset key value partition")


def test_consecutive_weeks_and_months_go_round_the_partitions():
    weeks = [iso_week(date(2026, 12, 14) + timedelta(weeks=n))[0] for n in range(8)]
    assert weeks[2:4] == ["2026-W53", "2027-W01"]  # 2026 has 53 ISO weeks
    assert [period_partition(w, 6) for w in weeks] == \
        [(period_partition(weeks[0], 6) + n) % 6 for n in range(8)]
    months = ["2026-11", "2026-12", "2027-01", "2027-02"]
    assert [period_partition(m, 3) for m in months] == \
        [(period_partition(months[0], 3) + n) % 3 for n in range(4)]
    assert {period_partition(w, 1) for w in weeks} == {0}


def test_a_fact_goes_to_the_partition_of_its_slices():
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # Monday in Berlin: W49
    late = event(1, time=sunday_night)
    assert fact_partition(late, 6) == period_partition("2026-W49", 6)
    assert {slice_partition(s, 6) for s in counted(late).slices()} == \
        {fact_partition(late, 6)}
    handover = handover_fact(2, requested=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    assert fact_partition(handover, 4) == period_partition("2026-11", 4)
    assert fact_partition(replace(handover, requested_at=None), 4) is None  # counts nowhere
    assert fact_partition(late, 1) is None  # one partition: the producer's partitioner
    assert marker_partitions(1) == [None] and marker_partitions(3) == [0, 1, 2]


def test_the_router_places_facts_after_the_partitions_the_worker_found(monkeypatch):
    monkeypatch.setattr(placement, "_partitions", [1])
    assert fact_partition(event(1)) is None and marker_partitions() == [None]
    placement.set_partitions(6)
    assert fact_partition(event(1)) == period_partition("2026-W47", 6)
    assert marker_partitions() == list(range(6))
    with pytest.raises(ValueError):
        placement.set_partitions(0)


# --- taking partitions over ---------------------------------------------------------------


class Kafka:
    """``hub.facts`` (partitions of records) and the analytics topics, read as the
    takeover reads them."""

    def __init__(self, partitions: int):
        self.facts: list[list[Record]] = [[] for _ in range(partitions)]
        self.next: list[int] = [0] * partitions  # the end offset of each partition
        self.cells: dict[str, list[Record]] = {}

    def grow(self, partitions: int) -> None:
        more = partitions - len(self.facts)
        self.facts += [[] for _ in range(more)]
        self.next += [0] * more

    def write_fact(self, fact) -> None:
        key, value = fact_key(fact), encode_fact(fact)
        self.write(fact_partition(fact, len(self.facts)) or 0, key, value)

    def write(self, partition: int, key: bytes, value: bytes | None) -> None:
        self.facts[partition].append(Record(self.next[partition], key, value, partition))
        self.next[partition] += 1

    def delete_records(self, before: dict) -> None:
        for tp, offset in before.items():
            self.facts[tp.partition] = [r for r in self.facts[tp.partition]
                                        if r.offset >= offset]

    def publish(self, cells) -> None:
        for topic, key, record in cells:
            records = self.cells.setdefault(topic, [])
            records.append(Record(len(records), key, encode_record(topic, record), 0))

    def read_partitions(self, bootstrap, topics, client, *, partition=None, starts=None,
                        ends=None, first=None):
        if partition is None:  # every partition, one after the other
            return iter([r for p in range(len(self.facts))
                         for r in self.read_partitions(bootstrap, topics, client, partition=p,
                                                       starts=starts, ends=ends, first=first)])
        records = list(self.facts[partition])  # to the end it has now
        if ends is not None:
            ends[TopicPartition(topics[0], partition)] = self.next[partition]
        start = (starts or {}).get(topics[0], 0)
        records = [r for r in records if r.offset >= start]
        if first is not None and records:
            records = [r for r in records if r.offset < records[0].offset + first]
        return iter(records)

    def bounds(self, bootstrap, partition):
        records = self.facts[partition]
        return (records[0].offset if records else self.next[partition]), self.next[partition]

    def install(self, monkeypatch) -> None:
        monkeypatch.setattr(takeover, "read_partitions", self.read_partitions)
        monkeypatch.setattr(takeover, "read_to_end",
                            lambda bootstrap, topic, client: iter(self.cells.get(topic, [])))
        monkeypatch.setattr(takeover, "partition_bounds", self.bounds)
        monkeypatch.setattr(takeover, "delete_retention_seconds", lambda bootstrap: 86400.0)


def aggregators(partitions: int, held, store=None) -> dict[int, Aggregator]:
    return {p: Aggregator(5, store(p) if store else None,
                          owns=lambda s, p=p: slice_partition(s, partitions) == p)
            for p in held}


def test_each_worker_counts_its_partitions_and_publishes_their_slices(monkeypatch):
    kafka = Kafka(3)
    for week in range(6):
        for n in range(5):
            kafka.write_fact(event(f"{week}-{n}", time=MONDAY + timedelta(weeks=week)))
    kafka.install(monkeypatch)
    mine, theirs = aggregators(3, [0, 2]), aggregators(3, [1])
    taken = takeover.take_over(None, mine, 3, {})
    assert {p: (t.facts, t.start) for p, t in taken.items()} == {0: (10, 0), 2: (10, 0)}
    takeover.take_over(None, theirs, 3, {})
    weeks = {p: {r["week"] for t, _, r in a.publish(NOW) if t == WEEKLY_ACTIVITY}
             for p, a in {**mine, **theirs}.items()}
    assert sorted(w for found in weeks.values() for w in found) == \
        [f"2026-W{47 + n}" for n in range(6)]
    assert all(len(found) == 2 for found in weeks.values())


def test_a_fact_on_the_wrong_partition_is_left_out_and_reported(monkeypatch):
    kafka = Kafka(2)
    fact = event(1)
    wrong = 1 - fact_partition(fact, 2)
    kafka.write(wrong, fact_key(fact), encode_fact(fact))
    kafka.install(monkeypatch)
    taken = takeover.take_over(None, aggregators(2, [wrong]), 2, {})
    assert (taken[wrong].facts, taken[wrong].misplaced) == (0, 1)
    assert "1 facts of other partitions' slices left out" in taken[wrong].describe()


def test_a_restarted_worker_reads_on_from_its_store_and_publishes_what_changed(
        monkeypatch, tmp_path):
    kafka = Kafka(2)
    for n in range(12):
        kafka.write_fact(event(n, time=MONDAY + timedelta(weeks=n % 2)))
    kafka.install(monkeypatch)

    def store(p):
        return RocksStore(tmp_path / f"hub.facts-{p}")
    first = aggregators(2, [0, 1], store)
    taken = takeover.take_over(None, first, 2, {p: takeover.trusted_start(None, a, p)
                                                for p, a in first.items()})
    assert all(t.start == 0 and "no facts of it on disk" in t.why for t in taken.values())
    for a in first.values():
        kafka.publish(a.publish(NOW))
        a.store.close()
    kafka.write_fact(event(99, time=MONDAY))  # while the worker was away

    again = aggregators(2, [0, 1], store)
    starts = {p: takeover.trusted_start(None, a, p) for p, a in again.items()}
    assert {p: start for p, (start, _) in starts.items()} == {0: 6, 1: 6}
    taken = takeover.take_over(None, again, 2, starts)
    assert sorted(t.facts for t in taken.values()) == [0, 1]
    assert all(t.cells == 0 for t in taken.values())  # the topics hold what was published
    changed = [r for a in again.values() for _, _, r in a.publish(NOW)]
    assert changed and {r["week"] for r in changed} == {"2026-W47"}
    for a in again.values():
        a.store.close()


def test_a_store_is_not_trusted_when_it_may_have_missed_something(monkeypatch, tmp_path):
    kafka = Kafka(1)
    kafka.write_fact(event(1))
    kafka.install(monkeypatch)
    agg = Aggregator(5, RocksStore(tmp_path / "hub.facts-0"))
    takeover.take_over(None, {0: agg}, 1, {})
    start, why = takeover.trusted_start(None, agg, 0)
    assert start == 1
    kafka.facts[0], kafka.next[0] = [], 0  # the topic made anew
    assert takeover.trusted_start(None, agg, 0) == (
        0, "the offset on disk (1) is not within the partition (0-0)")
    kafka.write_fact(event(1))
    start, why = takeover.trusted_start(None, agg, 0, now=10**10)
    assert start == 0 and "compaction may have removed tombstones" in why
    agg.store.set_meta("encoding", "counted-0")
    assert takeover.trusted_start(None, agg, 0)[0] == 0
    assert takeover.trusted_start(None, Aggregator(5), 0) == (0, "no facts of it on disk")
    agg.store.close()


def test_a_store_of_another_k_or_version_recomputes_every_slice(monkeypatch, tmp_path):
    kafka = Kafka(1)
    for n in range(6):
        kafka.write_fact(event(n))
    kafka.install(monkeypatch)
    agg = Aggregator(5, RocksStore(tmp_path / "hub.facts-0"))
    takeover.take_over(None, {0: agg}, 1, {})
    kafka.publish(agg.publish(NOW))
    agg.store.close()
    stricter = Aggregator(7, RocksStore(tmp_path / "hub.facts-0"))
    takeover.take_over(None, {0: stricter}, 1, {0: takeover.trusted_start(None, stricter, 0)})
    assert all(r["k"] == 7 for _, _, r in stricter.publish(NOW))
    stricter.store.close()


def test_a_marker_on_every_partition_and_one_not_carried_out_survives_a_restart(
        monkeypatch, tmp_path):
    kafka = Kafka(2)
    key, value = erasure_marker("er-1", "child-1", "0" * 32)
    for p in range(2):
        kafka.write(p, key, value)
    kafka.install(monkeypatch)
    agg = Aggregator(5, RocksStore(tmp_path / "hub.facts-0"))
    taken = takeover.take_over(None, {0: agg}, 2, {})
    assert taken[0].markers == [(key, 0, value)]
    agg.store.close()
    again = Aggregator(5, RocksStore(tmp_path / "hub.facts-0"))
    taken = takeover.take_over(None, {0: again}, 2, {0: takeover.trusted_start(None, again, 0)})
    assert taken[0].start == 1 and taken[0].markers == [(key, 0, value)]
    again.store.close()


# --- `hub topics apply` -------------------------------------------------------------------


class Admin:
    def __init__(self, partitions: dict[str, int]):
        self.partitions, self.grown = partitions, {}

    def describe_configs(self, resources):
        return {"topic": {r.name: {} for r in resources}}

    def describe_topics(self, names):
        return [{"name": n, "partitions": [{"replica_nodes": [1]}] * self.partitions[n]}
                for n in names]

    def alter_configs(self, resources):
        return {"topic": {r.name: "OK" for r in resources}}

    def create_partitions(self, grow):
        self.grown.update(grow)


def test_topics_apply_does_not_grow_the_facts_topic():
    admin = Admin({"hub.facts": 1, "hub.dlq": 1})
    report = ApplyReport()
    _align(admin, [TopicSpec("hub.facts", 6, 1), TopicSpec("hub.dlq", 2, 1)], report)
    assert admin.grown == {"hub.dlq": 2}
    (warning,) = [w for w in report.warnings if w.startswith("hub.facts")]
    assert "1 partition, 6 declared: not grown" in warning


# --- `hub topics repartition-facts` -------------------------------------------------------


def test_a_topic_grown_in_place_is_noticed_and_repartitioned(monkeypatch):
    from hub.analytics import repartition

    kafka = Kafka(1)  # the facts of ten weeks, written while hub.facts had one partition
    facts = [event(f"{week}-{n}", time=MONDAY + timedelta(weeks=week))
             for week in range(10) for n in range(3)]
    for fact in facts:
        kafka.write_fact(fact)
    marker_key, marker = erasure_marker("er-1", "child-1", "0" * 32)
    kafka.write(0, marker_key, marker)  # not carried out yet
    kafka.grow(3)  # in place: the facts stay on partition 0
    elsewhere = [fact for fact in facts if fact_partition(fact, 3) != 0]
    newer = replace(elsewhere[0], outcome=Outcome.HELD)  # written anew since, where it belongs
    kafka.write_fact(newer)
    kafka.install(monkeypatch)
    assert takeover.misplaced_sample(None, 3) == {0: len(elsewhere)}

    class Producer:
        def send(self, topic, key, value, partition):
            kafka.write(partition, key, value)

        def flush(self):
            pass

        def close(self):
            pass

    class Admin:
        configs = {"cleanup.policy": "compact"}

        def describe_configs(self, resources):
            return {"topic": {"hub.facts": {name: {"value": value,
                                                    "config_source": "DYNAMIC_TOPIC_CONFIG"}
                                             for name, value in self.configs.items()}}}

        def alter_configs(self, resources):
            for name, value in resources[0].configs.items():
                if isinstance(value, tuple):
                    self.configs.pop(name, None)
                else:
                    self.configs[name] = value

        def delete_records(self, before):
            assert self.configs == {"cleanup.policy": "compact,delete", "retention.ms": "-1"}
            kafka.delete_records(before)

    @contextmanager
    def admin_client(bootstrap):
        yield Admin()

    monkeypatch.setattr(repartition, "read_partitions", kafka.read_partitions)
    monkeypatch.setattr(repartition, "facts_partitions_of", lambda bootstrap: 3)
    monkeypatch.setattr(repartition, "producer", lambda bootstrap, client: Producer())
    monkeypatch.setattr(repartition, "admin_client", admin_client)
    moved = repartition.repartition_facts(None, 3)
    assert (moved.moved, moved.superseded, moved.markers) == (len(elsewhere) - 1, 1, 2)
    assert moved.rewritten == {0: len(facts) - len(elsewhere) + 1}  # and the marker
    assert takeover.misplaced_sample(None, 3) == {}
    assert Admin.configs == {"cleanup.policy": "compact"}  # as it was
    everything = aggregators(3, [0, 1, 2])
    taken = takeover.take_over(None, everything, 3, {})
    assert sum(t.facts for t in taken.values()) == 30
    assert all([(k, v) for k, _, v in t.markers] == [(marker_key, marker)]
               for t in taken.values())
    assert everything[fact_partition(newer, 3)].store.get(("event", newer.id)).outcome == \
        "held"
    again = repartition.repartition_facts(None, 3)
    assert (again.moved, again.superseded, again.markers, again.rewritten) == (0, 0, 0, {})
