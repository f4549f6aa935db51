"""Two fixes to Faust's offset bookkeeping (faust-streaming 0.15.3), so that a record Faust
drops on its way to a stream can never be committed over.

Faust commits, per partition, the offsets its streams have acknowledged, up to the first
one missing. Two shortcuts let the commit pass a record that was never processed:

- a jump in the offsets Faust reads (a "gap") is taken for records that compaction or
  transaction markers removed, and counted as acknowledged. On a topic that is neither
  compacted nor written in transactions (the agency outboxes, the tick topic), a gap can
  only be records that Faust dropped during a rebalance: they must be read again, not
  skipped;
- the check whether the first acknowledged offset follows the committed one lets one
  offset pass (the committed offset is the next one to process; on a compacted topic
  that record may be gone), so on the gapless topics a single missing record right at
  the committed offset is skipped.

With these fixes the commit stops at a missing record; the worker's flow guard
(:class:`hub.routing.runtime.FlowGuard`) sees the partition's commit stand still
and reads it again from there. Nothing is lost, and the router's knowledge of each inbox
keeps anything from being delivered twice.

A third fix removes the cause of most such gaps at start-up. When a worker takes over
partitions whose tables must first be restored from their changelogs (every restart),
Faust starts fetching for the restore, and once it is done it resumes the stream
partitions *before* it seeks them to their committed offsets. A batch fetched in between
is still on its way to the stream when the seek sets Faust's read offsets back: its later
records look like a gap (records that did reach the stream are read again), and the
records fetched again after the seek are dropped as old. The stream partitions are now
sought while still paused, and Faust's own seek right after resuming them is left out.

A fourth fix removes the cause of the rest. Faust asks the Kafka client for the records of
its active partitions, passing its own live set of them; when that set becomes empty while
the client waits (Faust pauses the changelog partitions when a restore is done), the
client reads the empty set as "every partition" and returns the records of the paused
stream partitions too. Faust drops those records, and the client has moved past them. The
client is now given a copy of the set taken when the fetch starts, and no fetch starts for
an empty one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

import faust
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.base import Collection
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from hub.errors import HubError

log = logging.getLogger(__name__)

FAUST_VERSION = "0.15.3"
"""The faust-streaming release whose internals the hub reads and patches (pyproject pins
it): the consumer's offset bookkeeping here, its flow control in
:class:`hub.routing.runtime.FlowGuard`, ``take_events`` in
:class:`hub.routing.runtime.RouterRuntime`, and the table stores and changelog format that
:class:`hub.routing.tables.ChangelogTable` reads and writes directly."""
_CLASS_ATTRIBUTES = {
    Consumer: ("_add_gap", "_new_offset", "on_buffer_full", "on_buffer_drop", "perform_seek",
               "highwaters",
               "seek_wait", "_commit_offsets"),
    faust.Stream: ("take_events", "ack"),
    RocksDBStore: ("_db_for_partition", "set_persisted_offset", "_encode_key",
                   "_encode_value", "stop"),
    Collection: ("changelog_topic", "data"),
    AIOKafkaProducerDriver: ("_settings_extra", "_new_producer"),
    Recovery: ("on_recovery_completed", "_resume_streams", "_wait"),
    AIOKafkaConsumerThread: ("getmany", "_fetch_records"),
    RocksDBOptions: ("as_options", "bloom_filter_size"),
}
_CONSUMER_ATTRIBUTES = ("_acked", "_committed_offset", "_read_offset",
                        "_buffered_partitions", "_gap")


class IncompatibleFaust(HubError):
    """The installed faust-streaming is not the one the hub's workarounds were written for."""


def check_faust(consumer: object | None = None) -> None:
    """Refuse to run with a Faust whose internals differ from what the hub relies on:
    the version, the methods it patches or calls, and (given the app's ``consumer``) the
    bookkeeping attributes it reads. Never falls back silently."""
    problems = []
    if faust.__version__ != FAUST_VERSION:
        problems.append(f"faust-streaming {faust.__version__} is installed, the hub needs "
                        f"{FAUST_VERSION}")
    for cls, names in _CLASS_ATTRIBUTES.items():
        problems += [f"{cls.__name__}.{name} is missing" for name in names
                     if not hasattr(cls, name)]
    if consumer is not None:
        problems += [f"the consumer has no {name}" for name in _CONSUMER_ATTRIBUTES
                     if not hasattr(consumer, name)]
    if problems:
        raise IncompatibleFaust(
            "the worker relies on internals of faust-streaming " + FAUST_VERSION + " (its "
            "offset bookkeeping, flow control and table stores) and will not run with this "
            "one: "
            + "; ".join(problems) + f". Install faust-streaming=={FAUST_VERSION} (pip "
            "install -e . does), or check hub/faust_fixes.py and hub/routing/runtime.py "
            "against the new version before changing the pin.")

_original_add_gap = Consumer._add_gap
_original_new_offset = Consumer._new_offset
_original_perform_seek = Consumer.perform_seek
_original_recovery_completed = Recovery.on_recovery_completed
_original_resume_streams = Recovery._resume_streams
_original_thread_getmany = AIOKafkaConsumerThread.getmany
_original_store_stop = RocksDBStore.stop
_original_as_options = RocksDBOptions.as_options
_shared_memory: dict = {}
_gapless: Callable[[str], bool] = lambda topic: False  # noqa: E731 (set by apply)


def first_uncommitted_missing(acked: list[int], committed: int | None) -> bool:
    """The record at ``committed`` (the next offset to process) is not acknowledged, so
    nothing may be committed yet."""
    return bool(acked) and committed is not None and min(acked) > committed


GAPS: dict = {}
"""TP -> (first, end) offsets of records that did not reach the stream on a gapless topic;
the flow guard reads the partition again from its commit at its next check (and removes
it)."""


async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
    if _gapless(tp.topic):
        from hub.metrics import READ_AGAIN

        READ_AGAIN.labels(topic=tp.topic, cause="gap").inc()
        log.warning("%s[%s]: records %s to %s did not reach the stream; they are read again",
                    tp.topic, tp.partition, offset_from, offset_to - 1)
        key = faust.types.TP(tp.topic, tp.partition)  # may come as the client's own tuple
        first, end = GAPS.get(key, (offset_from, offset_to))
        GAPS[key] = (min(first, offset_from), max(end, offset_to))
        return
    await _original_add_gap(self, tp, offset_from, offset_to)


def _new_offset(self, tp):
    if _gapless(tp.topic) and first_uncommitted_missing(self._acked[tp],
                                                        self._committed_offset[tp]):
        return None
    return _original_new_offset(self, tp)


_sought_already: ContextVar[bool] = ContextVar("sought_already", default=False)
"""Set while Faust's recovery resumes stream partitions the hub has sought already (seen
only by the recovery's own task and the tasks it starts, not by the fetcher's)."""


async def _perform_seek(self) -> None:
    if _sought_already.get():
        return
    await _original_perform_seek(self)


def _seek_before_resume(original):
    """``original`` (Faust's step that resumes the stream partitions and then seeks them),
    with the seek done first, while the partitions are paused and nothing of them can be
    on its way to a stream."""
    async def resume(self, generation_id: int = 0) -> None:
        consumer = self.app.consumer
        if not consumer.assignment() or self.app.consumer_generation_id != generation_id:
            return await original(self, generation_id)  # nothing to seek, or rebalancing
        await self._wait(consumer.perform_seek(),
                         timeout=self.app.conf.broker_request_timeout)
        token = _sought_already.set(True)
        try:
            await original(self, generation_id)
        finally:
            _sought_already.reset(token)
    resume.__doc__ = original.__doc__
    return resume


async def _getmany(self, active_partitions, timeout):
    """Fetch only for the partitions active now (see the module doc): a copy, never an
    empty set, which the Kafka client would take for every partition."""
    if active_partitions is not None:
        active_partitions = frozenset(active_partitions)
        if not active_partitions:
            return {}
    return await _original_thread_getmany(self, active_partitions, timeout)


async def _store_stop(self) -> None:
    """A table's databases are let go when the worker stops, without Faust's full garbage
    collection after each table: with a worker's heap after a backlog, each took 1.5-2 s,
    12 s of the 30 s a stop may take with six tables. The process exits right after, which
    releases the databases (what they hold is in their write-ahead logs)."""
    self.logger.info("Closing rocksdb on stop")
    self._dbs.clear()


def share_rocksdb_memory(limit_bytes: int) -> None:
    """Give every RocksDB database the worker opens one block cache of ``limit_bytes``, to
    which their write buffers are charged as well: one bound for the memory of all tables.
    Faust gives each database (a table partition) a cache and write buffers of its own, so
    a worker's memory grew with tables x partitions (36 databases of up to 32 MiB here)."""
    import rocksdict

    cache = rocksdict.Cache(limit_bytes)
    _shared_memory.update(cache=cache, writes=rocksdict.WriteBufferManager
                          .new_write_buffer_manager_with_cache(limit_bytes // 2, False, cache))
    RocksDBOptions.as_options = _as_options_sharing_memory


def _as_options_sharing_memory(self):
    import rocksdict

    options = _original_as_options(self)
    table = rocksdict.BlockBasedOptions()  # Faust's table settings, with the shared cache
    table.set_bloom_filter(self.bloom_filter_size, block_based=True)
    table.set_block_cache(_shared_memory["cache"])
    table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
    options.set_block_based_table_factory(table)
    options.set_write_buffer_manager(_shared_memory["writes"])
    return options


def apply(is_gapless: Callable[[str], bool]) -> None:
    """Install the fixes; ``is_gapless(topic)``: the topic's offsets have no holes (not
    compacted, no transactions), so a gap in what Faust reads is dropped records. Calling
    it again replaces the predicate."""
    global _gapless
    check_faust()
    _gapless = is_gapless
    Consumer._add_gap = _add_gap
    Consumer._new_offset = _new_offset
    Consumer.perform_seek = _perform_seek
    Recovery.on_recovery_completed = _seek_before_resume(_original_recovery_completed)
    Recovery._resume_streams = _seek_before_resume(_original_resume_streams)
    AIOKafkaConsumerThread.getmany = _getmany
    RocksDBStore.stop = _store_stop
    AIOKafkaProducerDriver._settings_extra = _idempotent_settings


def _idempotent_settings(self):
    """The worker's producer is idempotent: when a broker fails over, the Kafka client
    sends again what it could not confirm, and without idempotence the new leader can get
    a record twice (an inbox would get an event twice). Faust makes it idempotent only with
    transactions."""
    return {"acks": "all", "enable_idempotence": True}
