"""The eight patches to faust-streaming 0.15.3 (see :mod:`hub.faust` for what each works
around and when it can go), installed by :func:`apply` and :func:`share_rocksdb_memory`:

1. :func:`_add_gap`: a gap on a gapless topic is read again, not counted as done;
2. :func:`_new_offset`: no commit past a missing record right at the committed offset;
3. :func:`_seek_before_resume` (with :func:`_perform_seek`): stream partitions are sought
   while still paused after a restore;
4. :func:`_getmany`: the Kafka client gets a copy of the active partitions, never an
   empty set;
5. :func:`_store_stop`: a table's databases are let go without a garbage collection each;
6. :func:`_as_options_sharing_memory` (with :func:`_open_keeping_table_options`): every
   RocksDB database shares one memory budget, also when it is opened again;
7. :func:`_idempotent_settings`: the producer is idempotent;
8. :mod:`hub.faust.hand_over`: a record reaches its stream without four tasks per record.

Patches 1 and 2 make the commit stop at a record that never reached the stream; the flow
guard (:class:`hub.faust.flow_guard.FlowGuard`) sees such a commit stand still and reads
the partition again. Patches 3 and 4 remove the two causes of such records at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar

import faust
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from hub.faust import hand_over
from hub.faust.checks import check_faust

log = logging.getLogger(__name__)


def _faust_own(cls: type, name: str):
    """Faust's own ``cls.name``, kept before it is patched; a Faust without it is refused
    with :func:`check_faust`'s list of what is missing."""
    try:
        return getattr(cls, name)
    except AttributeError:
        check_faust()
        raise


_original_add_gap = _faust_own(Consumer, "_add_gap")
_original_new_offset = _faust_own(Consumer, "_new_offset")
_original_perform_seek = _faust_own(Consumer, "perform_seek")
_original_recovery_completed = _faust_own(Recovery, "on_recovery_completed")
_original_resume_streams = _faust_own(Recovery, "_resume_streams")
_original_thread_getmany = _faust_own(AIOKafkaConsumerThread, "getmany")
_original_as_options = _faust_own(RocksDBOptions, "as_options")
_original_open = _faust_own(RocksDBOptions, "open")
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
    """Patch 1: records missing on a gapless topic are noted in :data:`GAPS` to be read
    again, not counted as acknowledged."""
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
    """Patch 2: on a gapless topic, nothing is committed while the record at the committed
    offset is not acknowledged."""
    if _gapless(tp.topic) and first_uncommitted_missing(self._acked[tp],
                                                        self._committed_offset[tp]):
        return None
    return _original_new_offset(self, tp)


_sought_already: ContextVar[bool] = ContextVar("sought_already", default=False)
"""Set while Faust's recovery resumes stream partitions the hub has sought already (seen
only by the recovery's own task and the tasks it starts, not by the fetcher's)."""


async def _perform_seek(self) -> None:
    """Patch 3: Faust's seek, left out while its recovery resumes partitions that
    :func:`_seek_before_resume` has sought already."""
    if _sought_already.get():
        return
    await _original_perform_seek(self)


def _seek_before_resume(original):
    """Patch 3: ``original`` (Faust's step that resumes the stream partitions and then
    seeks them), with the seek done first, while the partitions are paused and nothing of
    them can be on its way to a stream."""
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
    """Patch 4: fetch only for the partitions active now, a copy, never an empty set,
    which the Kafka client would take for every partition."""
    if active_partitions is not None:
        active_partitions = frozenset(active_partitions)
        if not active_partitions:
            return {}
    return await _original_thread_getmany(self, active_partitions, timeout)


async def _store_stop(self) -> None:
    """Patch 5: a table's databases are let go when the worker stops, without Faust's full garbage
    collection after each table: with a worker's heap after a backlog, each took 1.5-2 s,
    12 s of the 30 s a stop may take with six tables. The process exits right after, which
    releases the databases (what they hold is in their write-ahead logs)."""
    self.logger.info("Closing rocksdb on stop")
    self._dbs.clear()


def share_rocksdb_memory(limit_bytes: int) -> None:
    """Patch 6: give every RocksDB database the worker opens one block cache of ``limit_bytes``, to
    which their write buffers are charged as well: one bound for the memory of all tables.
    Faust gives each database (a table partition) a cache and write buffers of its own, so
    a worker's memory grew with tables x partitions (36 databases of up to 32 MiB here)."""
    import rocksdict

    cache = rocksdict.Cache(limit_bytes)
    _shared_memory.update(cache=cache, writes=rocksdict.WriteBufferManager
                          .new_write_buffer_manager_with_cache(limit_bytes // 2, False, cache))
    RocksDBOptions.as_options = _as_options_sharing_memory
    RocksDBOptions.open = _open_keeping_table_options


def shared_rocksdb_memory() -> tuple | None:
    """The block cache and the write buffer manager of patch 6, for other RocksDB databases
    of the worker to share (the analytics aggregator's stores); None before it is
    installed."""
    if "cache" not in _shared_memory:
        return None
    return _shared_memory["cache"], _shared_memory["writes"]


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


def _open_keeping_table_options(self, path, *, read_only: bool = False):
    """Patch 6 too: Faust's ``open``, with the options given for the database's column
    family as well. rocksdict (0.3) opens the column family of a database that exists with
    RocksDB's default table options: after every restart each table's databases had a
    block cache of 8 MiB of their own (36 of them) instead of the shared one, and no
    bloom filter."""
    if not self.use_rocksdict:
        return _original_open(self, path, read_only=read_only)
    import rocksdict
    from faust.stores.rocksdb import DB

    access = rocksdict.AccessType.read_write() if self.ttl is None \
        else rocksdict.AccessType.with_ttl(self.ttl)
    db = DB(str(path), options=self.as_options(),
            column_families={"default": self.as_options()}, access_type=access)
    db.set_read_options(rocksdict.ReadOptions())
    return db


def apply(is_gapless: Callable[[str], bool]) -> None:
    """Install patches 1-5, 7 and 8 (6 is :func:`share_rocksdb_memory`, for RocksDB tables
    only); ``is_gapless(topic)``: the topic's offsets have no holes (not
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
    hand_over.install()


def _idempotent_settings(self):
    """Patch 7: the worker's producer is idempotent: when a broker fails over, the Kafka client
    sends again what it could not confirm, and without idempotence the new leader can get
    a record twice (an inbox would get an event twice). Faust makes it idempotent only with
    transactions."""
    return {"acks": "all", "enable_idempotence": True}
