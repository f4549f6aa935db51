"""The aggregator's stores: in memory and in RocksDB they answer alike, the one on disk
keeps everything across a restart, and a restarted aggregator publishes what the topics
lack (no broker)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from hub.analytics.aggregate import Aggregator
from hub.analytics.counted import counted, decode_counted, encode_counted
from hub.analytics.records import WEEKLY_ACTIVITY, encode_record
from hub.analytics.rocks import RocksStore
from hub.analytics.store import MemoryStore, slice_of_cell
from tests.analytics.test_aggregate import MONDAY, NOW, WEEK, event, handover_fact

KAMEN = (WEEKLY_ACTIVITY, WEEK, "kamen")


@pytest.fixture(params=["memory", "rocksdb"])
def store(request, tmp_path):
    if request.param == "memory":
        yield MemoryStore()
        return
    store = RocksStore(tmp_path / "hub.facts-0")
    yield store
    store.close()


def test_a_fact_reads_back_as_it_was_counted():
    for fact in (event(1), event(2, outcome="refused_no_consent", type_="consent.granted"),
                 handover_fact(3, answer="accepted", answered_after=2.25,
                               completed_after=40, stalled=["answer"], bounce=True),
                 handover_fact(4)):
        as_counted = counted(fact)
        assert decode_counted(encode_counted(as_counted)) == as_counted


def test_facts_by_key_and_by_slice_in_key_order(store):
    facts = [counted(event(n)) for n in (3, 1, 12, 2)]
    for fact in facts:
        store.write(("event", fact.id), fact, None, fact.slices())
    assert [f.id for f in store.facts_of(KAMEN)] == ["ev-1", "ev-12", "ev-2", "ev-3"]
    moved = counted(event(12, time=MONDAY + timedelta(days=7)))
    store.write(("event", "ev-12"), moved, store.get(("event", "ev-12")), [])
    store.write(("event", "ev-2"), None, store.get(("event", "ev-2")), [])
    assert [f.id for f in store.facts_of(KAMEN)] == ["ev-1", "ev-3"]
    assert store.get(("event", "ev-12")) == moved and store.get(("event", "ev-2")) is None
    assert set(store.slices()) == {KAMEN, (WEEKLY_ACTIVITY, "2026-W48", "kamen"),
                                   ("analytics.weekly_refusals", WEEK, "jugendamt-kamen"),
                                   ("analytics.weekly_refusals", "2026-W48",
                                    "jugendamt-kamen")}
    assert len(store) == 3


def test_published_cells_by_slice(store):
    other = (WEEKLY_ACTIVITY, WEEK, "unna")
    store.keep_published(KAMEN, {b"b": b"2", b"a": b"1"})
    store.keep_published(other, {b"c": b"3"})
    store.keep_published(KAMEN, {b"b": None, b"d": b"4"})
    assert store.published_of(KAMEN) == {b"a": b"1", b"d": b"4"}
    assert list(store.published_of(KAMEN)) == [b"a", b"d"]
    assert store.published_cell(other, b"c") == b"3" and store.published_cell(KAMEN, b"b") \
        is None
    assert sorted(store.published_keys()) == [(KAMEN, b"a"), (KAMEN, b"d"), (other, b"c")]


def test_the_cell_key_names_its_slice():
    assert slice_of_cell(WEEKLY_ACTIVITY, b"2026-W47|kamen|kita|all|all") == KAMEN
    assert slice_of_cell("analytics.weekly_refusals", b"2026-W47|jugendamt-kamen") == (
        "analytics.weekly_refusals", WEEK, "jugendamt-kamen")
    assert slice_of_cell(WEEKLY_ACTIVITY, b"junk") is None


def test_the_store_on_disk_keeps_everything_across_a_restart(tmp_path):
    path = tmp_path / "hub.facts-0"
    store = RocksStore(path)
    fact = counted(event(1))
    store.write(("event", "ev-1"), fact, None, fact.slices())
    store.keep_published(KAMEN, {b"cell": b"record"})
    store.keep_marker(b"erasure|er-1", (41, b"marker"))
    store.read_up_to = 42
    store.set_meta("encoding", "x")
    store.close()

    again = RocksStore(path)
    assert again.get(("event", "ev-1")) == fact and len(again) == 1
    assert again.facts_of(KAMEN) == [fact]
    assert again.published_of(KAMEN) == {b"cell": b"record"}
    assert again.dirty_marks() == set(fact.slices())
    assert again.markers() == {b"erasure|er-1": (41, b"marker")}
    assert again.read_up_to == 42 and again.meta("encoding") == "x"
    again.keep_published(KAMEN, {}, done=True)
    again.keep_marker(b"erasure|er-1", None)
    assert KAMEN not in again.dirty_marks() and again.markers() == {}
    again.clear()
    assert len(again) == 0 and again.read_up_to == 0 and again.dirty_marks() == set()
    assert list(again.slices()) == [] and again.get(("event", "ev-1")) is None
    again.close()


def test_a_rebuild_writes_in_bulk_and_flushes(tmp_path):
    store = RocksStore(tmp_path / "hub.facts-0")
    with store.bulk():
        for n in range(50):
            fact = counted(event(n))
            store.write(("event", fact.id), fact, None, fact.slices())
    store.close()
    again = RocksStore(tmp_path / "hub.facts-0")
    assert len(again.facts_of(KAMEN)) == 50 and len(again) == 50
    again.close()


def test_the_live_facts_are_gathered_and_read_back_before_they_are_written(tmp_path):
    store = RocksStore(tmp_path / "hub.facts-0")
    facts = [counted(event(n)) for n in range(3)]
    for fact in facts:
        store.write(("event", fact.id), fact, None, fact.slices())
    assert store.db.get(b"f" + b"event|ev-0") is None  # gathered, not written yet
    assert store.get(("event", "ev-1")) == facts[1]
    store.write(("event", "ev-1"), None, facts[1], facts[1].slices())
    assert store.get(("event", "ev-1")) is None
    assert store.facts_of(KAMEN) == [facts[0], facts[2]]  # written before it is read
    assert store.db.get(b"f" + b"event|ev-0") is not None
    store.close()


def test_live_facts_not_written_yet_are_forgotten_by_a_clear(tmp_path):
    store = RocksStore(tmp_path / "hub.facts-0")
    fact = counted(event(1))
    store.write(("event", fact.id), fact, None, fact.slices())
    store.clear()
    store.close()
    again = RocksStore(tmp_path / "hub.facts-0")
    assert again.get(("event", fact.id)) is None and len(again) == 0
    assert again.dirty_marks() == set() and list(again.slices()) == []
    again.close()


def test_a_full_batch_of_live_facts_is_written(tmp_path):
    from hub.analytics.rocks import LIVE_FACTS

    store = RocksStore(tmp_path / "hub.facts-0")
    for n in range(LIVE_FACTS + 1):
        fact = counted(event(n))
        store.write(("event", fact.id), fact, None, fact.slices())
    assert store.db.get(b"f" + b"event|ev-0") is not None
    assert store.db.get(b"f" + f"event|ev-{LIVE_FACTS}".encode()) is None
    store.close()


KILLED = """
import os, sys
from hub.analytics.counted import counted
from hub.analytics.rocks import RocksStore
from tests.analytics.test_aggregate import event
store = RocksStore(sys.argv[1])
for n in range(10):
    fact = counted(event(n))
    store.write(("event", fact.id), fact, None, fact.slices())
store.read_up_to = 10  # the offset after the ten facts
for n in range(10, 15):
    fact = counted(event(n))
    store.write(("event", fact.id), fact, None, fact.slices())
os._exit(0)  # killed: the last five never written
"""


def test_a_worker_killed_with_facts_gathered_loses_none_its_offset_covers(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "hub.facts-0"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", KILLED, str(path)], cwd=root, check=True)
    again = RocksStore(path)
    assert again.read_up_to == 10 and len(again) == 10
    assert [f.id for f in again.facts_of(KAMEN)] == sorted(f"ev-{n}" for n in range(10))
    assert again.dirty_marks() == set(counted(event(0)).slices())
    again.close()


def test_a_store_opened_again_keeps_its_bloom_filter_and_the_shared_cache(tmp_path):
    """Every new fact is looked up first and is not there: without a bloom filter each
    miss searches the files. rocksdict drops the table options of a database that
    exists unless they are given for its column family too."""
    import re

    import rocksdict

    cache = rocksdict.Cache(16 * 1024**2)  # RocksDB's default cache has 8 MiB
    memory = (cache, rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
        8 * 1024**2, False, cache))
    path = tmp_path / "hub.facts-0"
    for _ in range(2):  # created, then opened again (a restart)
        store = RocksStore(path, memory)
        store.close()
        log = (path / "LOG").read_text()
        assert re.findall(r"filter_policy: (\S+)", log)[-1] == "bloomfilter"
        assert re.findall(r"capacity : (\d+)", log)[-1] == str(16 * 1024**2)


# --- a restart that keeps the store --------------------------------------------------------


def restarted(path, aggregator: Aggregator) -> Aggregator:
    aggregator.store.close()
    return Aggregator(aggregator.k, RocksStore(path))


def topic_after(*rounds) -> list[tuple[str, bytes, bytes]]:
    return [(topic, key, encode_record(topic, record))
            for published in rounds for topic, key, record in published]


def test_changes_not_published_before_a_restart_are_published_after_it(tmp_path):
    path = tmp_path / "hub.facts-0"
    agg = Aggregator(5, RocksStore(path))
    for n in range(6):
        agg.apply(event(n))
    first = agg.publish(NOW)
    agg.apply(event(6))  # the worker stops before the next publish
    agg = restarted(path, agg)
    assert agg.dirty == 2  # its week and town, and its agency's refusals
    assert agg.reconcile_published(topic_after(first)) == 0
    changed = {key: r for _, key, r in agg.publish(NOW + timedelta(hours=1))}
    assert changed[b"2026-W47|kamen|kita|offer.accepted|Familienhebamme"]["subjects"] == 7


def test_cells_the_broker_never_got_are_published_again_after_a_restart(tmp_path):
    path = tmp_path / "hub.facts-0"
    agg = Aggregator(5, RocksStore(path))
    for n in range(6):
        agg.apply(event(n))
    first = agg.publish(NOW)
    agg.apply(event(6))
    lost = agg.publish(NOW + timedelta(minutes=1))  # sent, never acknowledged: not there
    agg = restarted(path, agg)
    assert agg.dirty == 0
    assert agg.reconcile_published(topic_after(first)) == 2
    again = agg.publish(NOW + timedelta(hours=1))
    assert [(t, k, {**r, "updated_at": None}) for t, k, r in again] == \
        [(t, k, {**r, "updated_at": None}) for t, k, r in lost]


def test_a_cell_another_worker_changed_is_computed_again_and_one_never_published_is_sent(
        tmp_path):
    path = tmp_path / "hub.facts-0"
    agg = Aggregator(5, RocksStore(path))
    for n in range(6):
        agg.apply(event(n))
    first = agg.publish(NOW)
    (topic, key, record), *rest = first
    older = [(topic, key, {**record, "subjects": 99})]
    agg = restarted(path, agg)
    assert agg.reconcile_published(topic_after(older, rest)) == 1
    again = agg.publish(NOW + timedelta(hours=1))
    assert [(t, k) for t, k, _ in again] == [(topic, key)]
    # and a restart that finds everything as published has nothing to do
    agg = restarted(path, agg)
    assert agg.reconcile_published(topic_after(older, rest, again)) == 0
    assert agg.publish(NOW + timedelta(hours=2)) == []


def test_an_aggregator_publishes_only_the_slices_it_owns():
    agg = Aggregator(5, owns=lambda s: s[2] != "unna")
    for n in range(6):
        agg.apply(event(n))
        agg.apply(event(10 + n, municipality="unna"))
    assert {r["municipality"] for t, _, r in agg.publish(NOW) if t == WEEKLY_ACTIVITY} == \
        {"kamen"}
    assert agg.apply_owned(event(1)) and agg.apply_owned(event(99, municipality="unna")) \
        is None
    unknown_month = replace(handover_fact(1, municipality="unna"), requested_at=None)
    assert agg.apply_owned(unknown_month)  # counts in no slice: anywhere
    assert len(agg) == 13  # the twelve, and the handover; not event 99
