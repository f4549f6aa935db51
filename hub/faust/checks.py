"""The start-up check: every internal of faust-streaming (and of mode, its service library)
that the hub patches, overrides, calls or reads, in one list, and :func:`check_faust`,
which refuses to run with a Faust that lacks any of them.

The package docstring (:mod:`hub.faust`) says why each patch and override exists. An
internal is listed here with what of the hub relies on it, so the error names both. Nothing
in :mod:`hub.faust` guards an internal with ``hasattr`` or falls back with ``getattr``:
what is listed here is checked once, at start-up, and then used directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import faust
import mode
from faust.stores.memory import Store as MemoryStore
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.tables.base import Collection
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducerDriver

from hub.errors import HubError

FAUST_VERSION = "0.15.3"
"""The faust-streaming release whose internals the hub reads and patches (pyproject pins
it)."""


class IncompatibleFaust(HubError):
    """The installed faust-streaming is not the one the hub's workarounds were written for."""


@dataclass(frozen=True)
class Internal:
    """An attribute ``name`` of Faust's ``owner`` (a class; for instance attributes, the
    class whose instances have it) and what of the hub relies on it."""

    owner: type
    name: str
    use: str

    @property
    def label(self) -> str:
        return f"{_LABELS.get(self.owner, self.owner.__name__)}.{self.name}"


_LABELS = {mode.Worker: "mode.Worker", faust.Worker: "faust.Worker",
           RocksDBStore: "faust.stores.rocksdb.Store", MemoryStore: "faust.stores.memory.Store",
           faust.App: "faust.App", faust.Stream: "faust.Stream"}

_GAP = "the gap fix (patches._add_gap)"
_COMMIT = "the commit fix (patches._new_offset)"
_SEEK = "the seek-before-resume fix (patches._seek_before_resume)"
_GUARD = "the flow guard (flow_guard.FlowGuard)"
_TABLES = "the router's tables (tables.TableStore)"

CLASS_INTERNALS: tuple[Internal, ...] = (
    Internal(Consumer, "_add_gap", f"patched by {_GAP}"),
    Internal(Consumer, "_new_offset", f"patched by {_COMMIT}"),
    Internal(Consumer, "_commit_offsets", f"Faust's commit, held back by {_COMMIT}"),
    Internal(Consumer, "perform_seek", f"patched by {_SEEK}, called by {_GUARD}"),
    Internal(Consumer, "on_buffer_full", f"called by {_GUARD} to pause a partition"),
    Internal(Consumer, "on_buffer_drop", f"called by {_GUARD} to resume a partition"),
    Internal(Consumer, "seek_wait", f"called by {_GUARD} to read a partition again"),
    Internal(Consumer, "highwaters", f"called by {_GUARD} and the lag gauge"),
    Internal(Consumer, "earliest_offsets", "called by the lag gauge (hub.worker)"),
    Internal(Consumer, "wait_first",
             "patched by the hand-over (hand_over.wait_first), mode's Service.wait_first"),
    Internal(Consumer, "_drain_messages",
             "hands records over with the call hand_over.wait_first takes over"),
    Internal(Recovery, "on_recovery_completed", f"patched by {_SEEK}"),
    Internal(Recovery, "_resume_streams", f"patched by {_SEEK}"),
    Internal(Recovery, "_wait", f"called by {_SEEK}"),
    Internal(faust.App, "consumer_generation_id", f"read by {_SEEK}"),
    Internal(AIOKafkaConsumerThread, "getmany",
             "patched by the fetch fix (patches._getmany)"),
    Internal(AIOKafkaConsumerThread, "_fetch_records",
             "hands the partitions of patches._getmany to the Kafka client"),
    Internal(RocksDBStore, "stop", "patched by the stop fix (patches._store_stop)"),
    Internal(RocksDBOptions, "as_options",
             "patched by the memory fix (patches.share_rocksdb_memory)"),
    Internal(RocksDBOptions, "bloom_filter_size",
             "read by the memory fix (patches.share_rocksdb_memory)"),
    Internal(RocksDBOptions, "open",
             "patched by the memory fix (patches._open_keeping_table_options)"),
    Internal(RocksDBOptions, "use_rocksdict",
             "read by the memory fix (patches._open_keeping_table_options)"),
    Internal(AIOKafkaProducerDriver, "_settings_extra",
             "patched by the idempotence fix (patches._idempotent_settings)"),
    Internal(AIOKafkaProducerDriver, "_new_producer",
             "creates the producer with patches._idempotent_settings"),
    Internal(faust.Stream, "take_events",
             "the batch loops of the router (RouterRuntime) and the linkage stage"),
    Internal(faust.Stream, "ack",
             "take_events acknowledges a batch with it once the loop asks for the next"),
    Internal(RocksDBStore, "_db_for_partition", f"read and written by {_TABLES}"),
    Internal(RocksDBStore, "set_persisted_offset", f"called by {_TABLES}"),
    Internal(RocksDBStore, "_encode_key", f"compared with the encoding of {_TABLES}"),
    Internal(RocksDBStore, "_encode_value", f"compared with the encoding of {_TABLES}"),
    Internal(MemoryStore, "_encode_key", f"compared with the encoding of {_TABLES}"),
    Internal(MemoryStore, "_encode_value", f"compared with the encoding of {_TABLES}"),
    Internal(Collection, "changelog_topic", f"read and set by {_TABLES}"),
    Internal(Collection, "_new_changelog_topic",
             f"builds the changelog topic read raw by {_TABLES}"),
    Internal(RocksDBStore, "apply_changelog_batch",
             f"writes the raw changelog records of {_TABLES}"),
    Internal(faust.Schema, "loads_key", f"checked to read the changelog of {_TABLES} raw"),
    Internal(faust.Schema, "loads_value", f"checked to read the changelog of {_TABLES} raw"),
    Internal(Collection, "data", f"read by {_TABLES}"),
    Internal(mode.Worker, "_on_sigint",
             "overridden by the worker's bounded stop (worker.HubWorker)"),
    Internal(mode.Worker, "_on_sigterm",
             "overridden by the worker's bounded stop (worker.HubWorker)"),
    Internal(faust.Worker, "on_setup_root_logger",
             "overridden by the worker's log filter (worker.HubWorker)"),
)
"""What must exist on Faust's classes, checked without an app."""

CONSUMER_INTERNALS: tuple[Internal, ...] = (
    Internal(Consumer, "callback", "recognised by the hand-over (hand_over.wait_first)"),
    Internal(Consumer, "suspend_flow", "read by the hand-over (hand_over.wait_first)"),
    Internal(Consumer, "_acked", f"read by {_COMMIT}"),
    Internal(Consumer, "_gap", f"Faust's own gap bookkeeping, bypassed by {_GAP}"),
    Internal(Consumer, "_committed_offset",
             f"read by {_COMMIT}, {_GUARD} and the lag gauge (io.committed_offsets)"),
    Internal(Consumer, "_read_offset", f"read by {_GUARD}"),
    Internal(Consumer, "_buffered_partitions", f"read by {_GUARD}"),
)
"""What the app's consumer must have (instance attributes)."""

STORE_INTERNALS: dict[type, tuple[Internal, ...]] = {
    RocksDBStore: (
        Internal(RocksDBStore, "_dbs", "emptied by the stop fix (patches._store_stop)"),
        Internal(RocksDBStore, "_db_for_partition", f"read and written by {_TABLES}"),
        Internal(RocksDBStore, "set_persisted_offset", f"called by {_TABLES}"),
        Internal(RocksDBStore, "_encode_key", f"compared by {_TABLES}"),
        Internal(RocksDBStore, "_encode_value", f"compared by {_TABLES}"),
    ),
    MemoryStore: (
        Internal(MemoryStore, "data", f"read and written by {_TABLES}"),
        Internal(MemoryStore, "_key_partition", f"read and written by {_TABLES}"),
        Internal(MemoryStore, "_encode_key", f"compared by {_TABLES}"),
        Internal(MemoryStore, "_encode_value", f"compared by {_TABLES}"),
    ),
}
"""What a table's store must have (instance attributes), by the kind of store."""


def check_faust(consumer: object | None = None, stores: Iterable[object] = ()) -> None:
    """Refuse to run with a Faust whose internals differ from what the hub relies on: the
    version, every attribute of :data:`CLASS_INTERNALS`, and (given them) the app's
    ``consumer`` (:data:`CONSUMER_INTERNALS`) and its tables' ``stores``
    (:data:`STORE_INTERNALS`). Raises :class:`IncompatibleFaust` naming each one missing."""
    problems = []
    if faust.__version__ != FAUST_VERSION:
        problems.append(f"faust-streaming {faust.__version__} is installed, the hub needs "
                        f"{FAUST_VERSION}")
    problems += [f"{i.label} is missing [{i.use}]" for i in CLASS_INTERNALS
                 if not hasattr(i.owner, i.name)]
    if consumer is not None:
        problems += [f"the consumer has no {i.name} [{i.use}]" for i in CONSUMER_INTERNALS
                     if not hasattr(consumer, i.name)]
    for store in stores:
        problems += store_problems(store)
    if problems:
        raise IncompatibleFaust(
            "the worker relies on internals of faust-streaming " + FAUST_VERSION + " (its "
            "offset bookkeeping, flow control, table stores and worker) and will not run "
            "with this one: " + "; ".join(problems) + f". Install faust-streaming=="
            f"{FAUST_VERSION} (pip install -e . does), or check the package hub/faust (its "
            "docstring lists each patch) against the new version before changing the pin.")


def store_kind(store: object) -> type:
    """Which of Faust's stores ``store`` is (a key of :data:`STORE_INTERNALS`)."""
    for kind in STORE_INTERNALS:
        if isinstance(store, kind):
            return kind
    raise IncompatibleFaust(
        f"the router's tables are kept in Faust's rocksdb or memory store, not in "
        f"{type(store).__module__}.{type(store).__name__}")


def store_problems(store: object) -> list[str]:
    """What ``store`` lacks of the internals the hub uses for its kind of store."""
    return [f"the {_LABELS[i.owner]} has no {i.name} [{i.use}]"
            for i in STORE_INTERNALS[store_kind(store)] if not hasattr(store, i.name)]
