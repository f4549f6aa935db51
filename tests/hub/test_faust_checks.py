"""The start-up check refuses a Faust that lacks any internal the hub uses (the patches, the
flow guard, the worker's overridden hooks, the tables' reads of the stores, the lag gauge),
and says which one and which Faust the hub was written for."""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import faust
import mode
import pytest
from faust.stores.memory import Store as MemoryStore
from faust.stores.rocksdb import Store as RocksDBStore
from faust.transport.consumer import Consumer

from hub.faust import patches
from hub.faust.checks import (
    CLASS_INTERNALS,
    CONSUMER_INTERNALS,
    FAUST_VERSION,
    STORE_INTERNALS,
    IncompatibleFaust,
    check_faust,
    store_kind,
)
from hub.faust.tables import TableStore
from hub.faust.worker import HubWorker
from tests.support.faust_patches import faust_restored


def take_away(monkeypatch, obj: object, name: str) -> None:
    """Remove ``name`` from ``obj`` wherever it is defined: the object itself and every
    class it inherits it from."""
    owners = [obj] if isinstance(obj, type) else [obj, type(obj)]
    for owner in owners:
        for cls in (owner.__mro__ if isinstance(owner, type) else (owner,)):
            if name in vars(cls):
                monkeypatch.delattr(cls, name)
    assert not hasattr(obj, name)


def refusal(**kwargs) -> str:
    with pytest.raises(IncompatibleFaust) as refused:
        check_faust(**kwargs)
    message = str(refused.value)
    assert f"faust-streaming {FAUST_VERSION}" in message  # the pinned version
    assert f"faust-streaming=={FAUST_VERSION}" in message  # and how to get it
    return message


def new_table(store: str, folder) -> TableStore:
    app = faust.App(f"test-checks-{store}", broker="kafka://127.0.0.1:1",
                    store=f"{store}://", datadir=str(folder), web_enabled=False)
    return TableStore(app.Table("families", default=None))


def test_the_installed_faust_passes(tmp_path):
    for store in ("rocksdb", "memory"):
        table = new_table(store, tmp_path / store)
        table.check()
        app = table.table.app  # as the worker checks it, once its agents are registered
        check_faust(app.consumer, [t.data for t in app.tables.values()])


@pytest.mark.parametrize("internal", CLASS_INTERNALS, ids=lambda i: i.label)
def test_a_missing_class_internal_is_named(internal, monkeypatch):
    take_away(monkeypatch, internal.owner, internal.name)
    message = refusal()
    assert f"{internal.label} is missing [{internal.use}]" in message


@pytest.mark.parametrize("internal", CONSUMER_INTERNALS, ids=lambda i: i.name)
def test_a_consumer_without_its_bookkeeping_is_refused(internal):
    consumer = SimpleNamespace(**{i.name: {} for i in CONSUMER_INTERNALS
                                  if i.name != internal.name})
    assert f"the consumer has no {internal.name}" in refusal(consumer=consumer)


@pytest.mark.parametrize("kind, internal", [
    *(("rocksdb", internal) for internal in STORE_INTERNALS[RocksDBStore]),
    *(("memory", internal) for internal in STORE_INTERNALS[MemoryStore])],
    ids=lambda v: v if isinstance(v, str) else v.name)
def test_a_table_store_without_what_the_tables_read_is_refused(kind, internal, tmp_path,
                                                                 monkeypatch):
    table = new_table(kind, tmp_path)
    take_away(monkeypatch, table.store, internal.name)
    assert f"has no {internal.name} [{internal.use}]" in refusal(stores=[table.store])
    with pytest.raises(IncompatibleFaust, match=f"has no {internal.name}"):
        table.check()  # the router's own check at registration says the same


def test_the_tables_read_of_a_rocksdb_partition_is_checked(tmp_path, monkeypatch):
    table = new_table("rocksdb", tmp_path)
    monkeypatch.delattr(RocksDBStore, "_db_for_partition")
    with pytest.raises(IncompatibleFaust, match=r"faust.stores.rocksdb.Store has no "
                                                r"_db_for_partition \[read and written by "
                                                r"the router's tables"):
        table.check()


def test_a_store_of_another_kind_is_refused():
    with pytest.raises(IncompatibleFaust, match="rocksdb or memory store, not in "):
        store_kind(object())


def test_the_workers_signal_hooks_are_checked(monkeypatch):
    monkeypatch.delattr(mode.Worker, "_on_sigterm")
    assert "mode.Worker._on_sigterm is missing [overridden by the worker's bounded stop" \
        in refusal()


def test_every_hook_the_worker_overrides_is_checked():
    checked = {(i.owner, i.name) for i in CLASS_INTERNALS}
    overridden = [name for name, value in vars(HubWorker).items()
                  if inspect.isfunction(value) and not name.startswith("__")
                  and hasattr(faust.Worker, name)]
    assert overridden  # the signal handlers and the logger set-up
    for name in overridden:
        defined_in = next(cls for cls in faust.Worker.__mro__[::-1] if name in vars(cls))
        assert (defined_in, name) in checked or (faust.Worker, name) in checked, name


def test_every_attribute_the_patches_replace_is_checked():
    owners = {i.owner for i in CLASS_INTERNALS}
    checked = {(i.owner, i.name) for i in CLASS_INTERNALS}
    with faust_restored():
        before = {cls: dict(vars(cls)) for cls in owners}
        patches.apply(lambda topic: topic.endswith(".outbox"))
        patches.share_rocksdb_memory(1024**2)
        replaced = {(cls, name) for cls in owners for name, value in vars(cls).items()
                    if before[cls].get(name) is not value}
    assert len(replaced) == 11  # eight patches, on eleven attributes of six classes
    assert replaced <= checked, replaced - checked


def test_the_lag_gauges_read_is_checked():
    from hub.faust.io import committed_offsets

    assert "_committed_offset" in {i.name for i in CONSUMER_INTERNALS}
    consumer = SimpleNamespace(_committed_offset={"tp": 5})
    assert committed_offsets(consumer) == {"tp": 5}


def test_a_faust_without_a_patched_method_is_refused_when_the_patches_load(monkeypatch):
    monkeypatch.delattr(Consumer, "_add_gap")
    with pytest.raises(IncompatibleFaust, match="Consumer._add_gap is missing"):
        patches._faust_own(Consumer, "_add_gap")
