"""When the worker reads a partition again: only when its commit stands still with records
left, not while records are on their way or the partition is done; and Faust never
commits over a record that did not reach the stream."""

import asyncio
from collections import defaultdict

import faust
import pytest
from faust.transport.consumer import Consumer
from intervaltree import IntervalTree

from hub.faust import patches
from hub.faust.checks import IncompatibleFaust, check_faust
from hub.faust.flow_guard import FlowGuard, stalled_partition
from hub.metrics import READ_AGAIN

# the tests here install hub.faust.patches or patch Faust; Faust is put back after each
pytestmark = pytest.mark.usefixtures("restore_faust")


def test_a_commit_standing_still_with_records_left_is_recognised():
    # (committed, read, end): a record Faust read was never acknowledged, so the commit
    # stays at 1535 although more were read and more keep coming
    assert stalled_partition((1535, 1680, 1681), (1535, 1700, 1720))
    # records the stream never got: everything read is committed, more are there
    assert stalled_partition((719, 718, 924), (719, 718, 924))
    # a partition taken over that never delivered a record to the stream
    assert stalled_partition((None, None, 600), (None, None, 600))


def test_moving_or_finished_partitions_are_left_alone():
    # the commit moved on since the last look
    assert not stalled_partition((700, 718, 924), (719, 800, 924))
    # first look: nothing to compare with
    assert not stalled_partition(None, (719, 718, 924))
    # caught up, however long it stays so
    assert not stalled_partition((924, 923, 924), (924, 923, 924))
    # records being read, nothing committed yet
    assert not stalled_partition((None, 3, 10), (None, 3, 10))
    # empty partition, or its end unknown
    assert not stalled_partition((None, None, 0), (None, None, 0))
    assert not stalled_partition((5, 4, None), (5, 4, None))


def test_the_commit_stops_at_a_record_that_never_reached_the_stream():
    assert patches.first_uncommitted_missing([720, 721], committed=719)
    assert not patches.first_uncommitted_missing([719, 720], committed=719)
    assert not patches.first_uncommitted_missing([], committed=719)
    assert not patches.first_uncommitted_missing([5], committed=None)


class Bookkeeping:
    """The part of Faust's consumer that its offset arithmetic uses."""

    def __init__(self):
        self._acked = defaultdict(list)
        self._acked_index = defaultdict(set)
        self._gap = defaultdict(IntervalTree)
        self._committed_offset = defaultdict(lambda: None)


def test_faust_commits_up_to_a_dropped_record_on_outboxes_only():
    patches.apply(lambda topic: topic.endswith(".outbox"))
    outbox = faust.types.TP("agency.x.outbox", 0)
    facts = faust.types.TP("hub.facts", 0)
    book = Bookkeeping()
    for tp in (outbox, facts):
        book._committed_offset[tp] = 10
        # 10 and 11 never reached the stream; 12..14 were processed
        asyncio.run(Consumer._add_gap(book, tp, 10, 12))
        book._acked[tp].extend([12, 13, 14])
        book._acked_index[tp].update([12, 13, 14])
    # outbox: nothing may be committed past 10, the guard reads from 10 again
    assert Consumer._new_offset(book, outbox) is None
    # a compacted topic keeps Faust's reading: the gap is records compaction removed,
    # and the commit moves past it
    assert Consumer._new_offset(book, facts) > 10


def test_a_gap_is_noted_for_the_guard_as_faust_names_partitions():
    """The drain loop passes the Kafka client's own TopicPartition; Faust's consumer
    asserts that it is given its own TP type, so the guard must only ever see TPs."""
    from aiokafka.structs import TopicPartition

    patches.apply(lambda topic: topic.endswith(".outbox"))
    patches.GAPS.clear()
    book = Bookkeeping()
    asyncio.run(Consumer._add_gap(book, TopicPartition("agency.z.outbox", 2), 10, 12))
    asyncio.run(Consumer._add_gap(book, TopicPartition("agency.z.outbox", 2), 20, 25))
    ((tp, span),) = patches.GAPS.items()
    assert type(tp) is faust.types.TP and span == (10, 25)
    patches.GAPS.clear()


def test_a_gap_on_an_outbox_is_counted_and_not_taken_as_done():
    patches.apply(lambda topic: topic.endswith(".outbox"))
    counter = READ_AGAIN.labels(topic="agency.y.outbox", cause="gap")
    before = counter._value.get()
    book = Bookkeeping()
    asyncio.run(Consumer._add_gap(book, faust.types.TP("agency.y.outbox", 1), 3, 9))
    assert counter._value.get() == before + 1
    assert not book._gap  # nothing counted as done


def test_the_worker_refuses_a_faust_whose_internals_it_was_not_written_for(monkeypatch):
    check_faust()  # the pinned version passes
    monkeypatch.setattr(faust, "__version__", "0.16.0")
    with pytest.raises(IncompatibleFaust, match="0.16.0 is installed"):
        check_faust()
    monkeypatch.undo()
    monkeypatch.delattr(Consumer, "_add_gap")
    with pytest.raises(IncompatibleFaust, match="Consumer._add_gap is missing"):
        check_faust()
    monkeypatch.undo()
    with pytest.raises(IncompatibleFaust,
                       match="the consumer has no _read_offset"):
        check_faust(Bookkeeping())


def test_a_partition_that_is_only_slow_is_not_read_again():
    from types import SimpleNamespace


    tp = faust.types.TP("agency.x.outbox", 2)
    runtime = SimpleNamespace(in_batch=False, last_batch=100.0, seen={})
    guard = FlowGuard(app=None, every=5.0, runtime=runtime)
    # records handed to the router wait behind other partitions' while it is busy
    runtime.seen = {("agency.x.outbox", 2): 718}
    assert not guard._stuck(tp, committed=719, read=900, read_moved=False, now=102.0)
    # the read position moves: progress, even while the commit waits
    assert not guard._stuck(tp, committed=719, read=950, read_moved=True, now=120.0)
    # the router finished a record past the standing commit: one before it never arrived
    runtime.seen = {("agency.x.outbox", 2): 730}
    assert guard._stuck(tp, committed=719, read=950, read_moved=True, now=102.0)
    # records handed over, the router has had nothing to do for a while
    runtime.seen = {}
    assert guard._stuck(tp, committed=719, read=900, read_moved=False, now=106.0)
    # ... but not while it works on one long batch (after a restart, on a loaded machine)
    runtime.in_batch = True
    assert not guard._stuck(tp, committed=719, read=900, read_moved=False, now=130.0)
    runtime.in_batch = False
    # nothing handed over while records wait at the broker: the fetcher skips it
    assert guard._stuck(tp, committed=719, read=718, read_moved=False, now=102.0)
    assert guard._stuck(tp, committed=None, read=None, read_moved=False, now=102.0)


def test_another_agents_slow_partition_is_left_alone():
    from types import SimpleNamespace


    facts = faust.types.TP("hub.facts", 0)
    runtime = SimpleNamespace(in_batch=False, last_batch=0.0, seen={})
    guard = FlowGuard(app=None, every=5.0, runtime=runtime)
    # the analytics agent works through facts it was handed; the router is idle
    assert not guard._stuck(facts, committed=40636, read=41000, read_moved=False, now=100.0)
    assert guard._stuck(facts, committed=40636, read=40635, read_moved=False, now=100.0)


class GuardedConsumer:
    """What the guard reads of Faust's consumer, and the seeks it asks for."""

    def __init__(self, offsets: dict):
        self.offsets = offsets  # tp -> (committed, read, end)
        self._buffered_partitions = set()
        self.seeks: list = []
        self.pauses: list = []
        self.fail_highwaters = False

    @property
    def _committed_offset(self):
        return {tp: o[0] for tp, o in self.offsets.items()}

    @property
    def _read_offset(self):
        return {tp: o[1] for tp, o in self.offsets.items()}

    def assignment(self):
        return set(self.offsets)

    async def highwaters(self, *tps):
        if self.fail_highwaters:
            raise KeyError(tps[0])
        return {tp: self.offsets[tp][2] for tp in tps}

    async def seek_wait(self, partitions):
        self.seeks.append(dict(partitions))
        for tp, offset in partitions.items():  # Faust's read offset moves back with it
            committed, _read, end = self.offsets[tp]
            self.offsets[tp] = (committed, offset, end)

    def on_buffer_full(self, tp):  # Faust fetches nothing more for tp
        self._buffered_partitions.add(tp)
        self.pauses.append(tp)

    def on_buffer_drop(self, tp):
        self._buffered_partitions.discard(tp)

    async def perform_seek(self):
        self.seeks.append("committed")

    def seek(self, tp, offset):  # the Kafka client's position, from the event loop
        raise AssertionError("the guard must seek through the consumer's thread")


def run_checks(guard, clock, monkeypatch, times):
    for t in times:
        monkeypatch.setattr("hub.faust.flow_guard.time.monotonic", lambda t=t: t)
        clock.append(t)
        asyncio.run(guard.check())


def test_the_guard_reads_a_stuck_partition_again_through_the_consumers_thread(monkeypatch):
    from types import SimpleNamespace


    tp = faust.types.TP("agency.x.outbox", 1)
    consumer = GuardedConsumer({tp: (719, 718, 924)})
    guard = FlowGuard(SimpleNamespace(consumer=consumer), every=5.0, stalled_after=15.0,
                      runtime=SimpleNamespace(in_batch=False, last_batch=0.0, seen={}))
    run_checks(guard, [], monkeypatch, [100, 105, 110])
    assert consumer.seeks == [] and consumer.pauses == []  # not yet 15 s
    run_checks(guard, [], monkeypatch, [116])
    # paused first: records fetched before may still be on their way to the stream
    assert consumer.seeks == [] and consumer.pauses == [tp]
    assert tp in consumer._buffered_partitions
    run_checks(guard, [], monkeypatch, [121])
    assert consumer.seeks == [{tp: 719}]
    assert tp not in consumer._buffered_partitions  # fetched from again


def test_the_guard_seeks_only_once_the_records_on_their_way_arrived(monkeypatch):
    """A fetched batch still reaching the stream after the pause would move Faust's read
    offset past the records read again (and Faust would drop them as old): the seek waits
    until the read offset stood still."""
    from types import SimpleNamespace


    tp = faust.types.TP("agency.x.outbox", 1)
    consumer = GuardedConsumer({tp: (13589, 14079, 20934)})
    runtime = SimpleNamespace(in_batch=False, last_batch=0.0, seen={("agency.x.outbox", 1): 14079})
    guard = FlowGuard(SimpleNamespace(consumer=consumer), every=5.0, stalled_after=15.0,
                      runtime=runtime)
    run_checks(guard, [], monkeypatch, [100, 105, 110, 116])
    assert consumer.pauses == [tp] and consumer.seeks == []
    for t, read in ((121, 14200), (126, 14350)):  # the rest of a fetched batch arrives
        consumer.offsets[tp] = (13589, read, 20934)
        run_checks(guard, [], monkeypatch, [t])
        assert consumer.seeks == []
    run_checks(guard, [], monkeypatch, [129])
    assert consumer.seeks == []  # stood still for less than 5 s
    run_checks(guard, [], monkeypatch, [132])
    assert consumer.seeks == [{tp: 13589}]
    assert consumer._read_offset[tp] == 13589 and not consumer._buffered_partitions


def test_a_slow_backlog_is_never_read_again_and_a_failing_check_does_not_stop_the_guard(
        monkeypatch):
    from types import SimpleNamespace


    tp = faust.types.TP("agency.x.outbox", 1)
    consumer = GuardedConsumer({tp: (100, 500, 20000)})
    runtime = SimpleNamespace(in_batch=False, last_batch=0.0, seen={})
    guard = FlowGuard(SimpleNamespace(consumer=consumer), every=5.0, stalled_after=15.0,
                      runtime=runtime)
    times = []
    for step in range(40):  # 200 s of a busy router whose commit of this partition waits
        t = 100.0 + 5 * step
        runtime.last_batch = t - 0.1
        runtime.seen = {("agency.x.outbox", 1): 99}
        if step % 3 == 0:
            consumer.offsets[tp] = (100, 500 + step, 20000)  # reading on, now and then
        run_checks(guard, times, monkeypatch, [t])
    assert consumer.seeks == []
    consumer.fail_highwaters = True  # e.g. the client's metadata changes under it
    run_checks(guard, times, monkeypatch, [400.0])
    consumer.fail_highwaters = False
    consumer.offsets[tp] = (20000, 19999, 20000)
    run_checks(guard, times, monkeypatch, [405.0])  # still checking, nothing to do
    assert consumer.seeks == []


def test_records_that_did_not_reach_the_stream_are_read_again_at_once(monkeypatch):
    """A gap Faust skipped on an outbox is read again from the commit at the next check,
    without waiting for the commit to stand still; a gap already read again is left."""
    from types import SimpleNamespace


    tp = faust.types.TP("agency.x.outbox", 3)
    other = faust.types.TP("agency.x.outbox", 4)
    consumer = GuardedConsumer({tp: (2145, 2183, 3400), other: (2300, 2400, 3400)})
    guard = FlowGuard(SimpleNamespace(consumer=consumer), every=5.0, stalled_after=15.0,
                      runtime=SimpleNamespace(in_batch=False, last_batch=0.0, seen={}))
    patches.GAPS.clear()
    patches.GAPS[tp] = (2146, 2183)
    patches.GAPS[other] = (2200, 2250)  # committed past it since: nothing to do
    run_checks(guard, [], monkeypatch, [100])
    assert consumer.pauses == [tp] and consumer.seeks == []
    run_checks(guard, [], monkeypatch, [105])
    assert consumer.seeks == [{tp: 2145}] and not patches.GAPS


class Restart:
    """What Faust's recovery step after a restart touches: the consumer (the real
    ``perform_seek`` arithmetic over a fake committed-offset look-up) and the wait."""

    def __init__(self, calls: list):
        outbox = faust.types.TP("agency.x.outbox", 0)

        class TheConsumer:
            _read_offset: dict = {}
            _committed_offset: dict = {}

            def assignment(self):
                return {outbox}

            def resume_partitions(self, tps):
                calls.append("resume")

            async def seek_to_committed(self):
                calls.append("seek")
                return {outbox: 1690}

        TheConsumer.perform_seek = patches._perform_seek
        self.app = type("App", (), {"consumer": TheConsumer(), "consumer_generation_id": 3,
                                    "conf": type("Conf", (), {"broker_request_timeout": 5})})

    async def _wait(self, coro, timeout=None):
        await coro


def test_stream_partitions_are_sought_while_paused_not_after_they_are_resumed():
    """Faust resumes the stream partitions and then seeks them; a batch fetched in between
    reaches the stream after the seek set the read offsets back, so records that arrived
    look like a gap and are read again. The hub seeks first and leaves Faust's seek out."""
    patches.apply(lambda topic: topic.endswith(".outbox"))
    calls: list = []

    async def fausts_order(self, generation_id=0):  # as faust/tables/recovery.py does it
        self.app.consumer.resume_partitions(self.app.consumer.assignment())
        await self.app.consumer.perform_seek()
        calls.append("streams run")

    restart = Restart(calls)
    asyncio.run(patches._seek_before_resume(fausts_order)(restart, 3))
    assert calls == ["seek", "resume", "streams run"]
    assert restart.app.consumer._read_offset == {faust.types.TP("agency.x.outbox", 0): 1690}
    # any other seek (the guard's, Faust's own when its flow stops) still seeks
    asyncio.run(restart.app.consumer.perform_seek())
    assert calls[-1] == "seek"
    # after a new rebalance began, Faust's step is left to itself (it returns early)
    calls.clear()
    asyncio.run(patches._seek_before_resume(fausts_order)(restart, 2))
    assert calls == ["resume", "seek", "streams run"]
    # both of Faust's steps that resume streams are the hub's
    from faust.tables.recovery import Recovery

    assert Recovery.on_recovery_completed is not patches._original_recovery_completed
    assert Recovery._resume_streams is not patches._original_resume_streams


def test_the_kafka_client_is_never_handed_an_empty_or_a_live_set_of_partitions(monkeypatch):
    """To the Kafka client an empty set of partitions means every partition: when Faust's
    live set of active partitions emptied while the client waited, it returned the records
    of paused partitions, which Faust then dropped."""
    handed = []

    async def kafka_client(thread, partitions, timeout):
        handed.append(partitions)
        return {"records": "of these partitions"}

    monkeypatch.setattr(patches, "_original_thread_getmany", kafka_client)
    outbox = faust.types.TP("agency.x.outbox", 0)
    active = {outbox}
    assert asyncio.run(patches._getmany(None, active, 1.0))
    active.clear()  # Faust pauses it while the client waits
    assert handed == [frozenset({outbox})]
    assert asyncio.run(patches._getmany(None, set(), 1.0)) == {}  # nothing asked
    assert len(handed) == 1
    asyncio.run(patches._getmany(None, None, 1.0))  # Faust's "every partition"
    assert handed[-1] is None
