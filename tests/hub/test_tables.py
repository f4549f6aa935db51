"""The router's tables read and written past Faust's per-key path: what is written is what
Faust itself would write (store and changelog), and a Faust whose format differs is refused."""

from __future__ import annotations

import asyncio
import re

import faust
import pytest

from hub.faust.checks import IncompatibleFaust
from hub.routing.store import DELETED, BatchedStore
from hub.routing.tables import ChangelogTable


def new_table(store: str, folder) -> ChangelogTable:
    app = faust.App(f"test-tables-{store}", broker="kafka://127.0.0.1:1",
                    store=f"{store}://", datadir=str(folder), web_enabled=False)
    return ChangelogTable(app.Table("families", default=None))


@pytest.fixture(params=["rocksdb", "memory"])
def table(request, tmp_path):
    return new_table(request.param, tmp_path)


def faust_reads(table: ChangelogTable, key, partition: int):
    """The value as Faust's own store returns it for a message of ``partition``."""
    store = table.store
    if not table.on_disk:
        return store.data.get(key)
    raw = store._db_for_partition(partition).get(store._encode_key(key))
    return None if raw is None else store._decode_value(raw)


def test_a_write_is_in_the_store_and_queued_for_the_changelog_as_faust_writes_it(table):
    table.check()
    value = {"pseudonym-ä": ["EW-1", 2.5, None, {"open": True}]}
    table.write("subject-1", value, 2)
    assert table.read("subject-1", 2) == value
    assert faust_reads(table, "subject-1", 2) == value
    [(key, raw, partition)] = table.take_changelog()
    assert (key, partition) == (b'"subject-1"', 2)
    assert faust.serializers.codecs.loads("json", raw) == value
    assert table.take_changelog() == []  # taken once


def test_on_disk_a_key_is_read_from_its_partition_only(table):
    table.write("subject-1", 1, 0)
    if table.on_disk:
        assert table.read("subject-1", 3) is None
        assert table.read("subject-1", 3, "absent") == "absent"
    assert table.read("subject-1", 0) == 1


def test_a_removed_key_is_gone_and_its_changelog_record_is_a_tombstone(table):
    table.write("subject-1", [1], 4)
    table.write("subject-1", DELETED, 4)
    assert table.read("subject-1", 4) is None
    assert faust_reads(table, "subject-1", 4) is None
    assert [value for _, value, _ in table.take_changelog()] == [b"[1]", None]


def test_iteration_sees_every_partition_the_worker_has(table, monkeypatch):
    from faust.types import TP

    for partition in range(3):
        table.write(f"subject-{partition}", partition, partition)
    mine = {TP(table.topic, 0), TP(table.topic, 2)}
    monkeypatch.setattr(table.table.app.assignor, "assigned_actives", lambda: mine)
    expected = {"subject-0": 0, "subject-2": 2}
    if not table.on_disk:  # memory holds only what the worker has
        expected["subject-1"] = 1
    assert dict(table.items()) == expected
    assert sorted(table.keys()) == sorted(expected)


def test_a_batched_store_writes_through_the_table_by_the_partition_of_each_change(table):
    store = BatchedStore(table)
    store.partition = 1
    store["a"] = {"n": 1}
    store.partition = 2
    store["b"] = {"n": 2}
    assert table.take_changelog() == []  # nothing before the flush
    assert store.flush() == 2
    assert table.read("a", 1) == {"n": 1} and table.read("b", 2) == {"n": 2}
    assert sorted(p for _, _, p in table.take_changelog()) == [1, 2]
    store.partition = 2
    assert store.get("b") == {"n": 2}


def test_a_flush_writes_each_partition_at_once_as_single_writes_would(table):
    table.write("gone", [1], 3)
    table.take_changelog()
    store = BatchedStore(table)
    store.partition = 3
    store["a"] = {"n": 1}
    store["nothing"] = None  # a value of null stays a value, not a removal
    del store["gone"]
    store.partition = 5
    store["b"] = "ä"
    assert store.flush() == 4
    assert table.read("a", 3) == {"n": 1} and table.read("b", 5) == "ä"
    assert table.read("nothing", 3, "absent") is None
    assert table.read("gone", 3, "absent") == "absent"
    assert faust_reads(table, "a", 3) == {"n": 1} and faust_reads(table, "b", 5) == "ä"
    assert sorted(table.take_changelog(), key=repr) == sorted([
        (b'"a"', b'{"n":1}', 3), (b'"nothing"', b"null", 3), (b'"gone"', None, 3),
        (b'"b"', faust.serializers.codecs.dumps("json", "ä"), 5)], key=repr)


def test_a_batch_reads_a_key_from_the_table_once_and_anew_after_its_flush(table,
                                                                        monkeypatch):
    table.write("a", 1, 2)
    table.write("b", 7, 2)
    reads = []
    read = table.read
    monkeypatch.setattr(table, "read", lambda *args: reads.append(args[:2]) or read(*args))
    store = BatchedStore(table)
    store.partition = 2
    assert [store.get("a"), store.get("a"), "a" in store, store.get("none", "x"),
            "none" in store] == [1, 1, True, "x", False]
    assert reads == [("a", 2), ("none", 2)]
    store.partition = 3  # another partition's key is another key
    assert store.get("a", "x") == ("x" if table.on_disk else 1)
    store.write_now("b", 8, 2)  # past the batch: read again
    store.partition = 2
    assert store.get("b") == 8
    store["a"] = 2
    assert store.get("a") == 2
    store.flush()
    store.partition = 2
    assert store.get("a") == 2 and reads.count(("a", 2)) == 2
    table.write("a", 3, 2)  # e.g. recovered from the changelog between two batches
    store.forget_reads()
    assert store.get("a") == 3


def test_a_faust_that_encodes_otherwise_is_refused(tmp_path, monkeypatch):
    table = new_table("rocksdb", tmp_path)
    monkeypatch.setattr(table.store, "_encode_value", lambda value: b"\x00" + b"other")
    with pytest.raises(IncompatibleFaust, match="encodes the value"):
        table.check()



@pytest.mark.usefixtures("restore_faust")
def test_a_stopping_worker_lets_its_databases_go_without_a_full_collection_per_table(
        monkeypatch):
    """Faust runs gc.collect() after stopping each table's store: with a large heap that is
    1.5-2 s per table, most of a 30 s stop."""
    import gc
    import logging

    from faust.stores.rocksdb import Store

    from hub.faust import patches

    patches.apply(lambda topic: topic.endswith(".outbox"))
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args))
    store = type("Stopping", (), {"logger": logging.getLogger("test"),
                                  "_dbs": {0: object(), 1: object()}})()
    asyncio.run(Store.stop(store))
    assert store._dbs == {} and collections == []


@pytest.mark.usefixtures("restore_faust")
def test_every_table_database_shares_one_memory_budget(tmp_path):
    """Faust gives each database (a table partition) its own block cache and write
    buffers; the worker gives them one cache, to which the write buffers are charged."""
    from faust.stores.rocksdb import RocksDBOptions

    from hub.faust import patches
    from hub.routing.agent import ROCKSDB_OPTIONS

    patches.share_rocksdb_memory(8 * 1024**2)
    shared = patches._shared_memory
    dbs = [RocksDBOptions(**ROCKSDB_OPTIONS).open(tmp_path / f"table-{n}.db") for n in (0, 1)]
    before = shared["cache"].get_usage()
    for n, db in enumerate(dbs):
        for i in range(2000):
            db[f"family-{n}-{i}".encode()] = b"x" * 200
    assert shared["writes"].get_usage() > 0  # both databases' write buffers, counted
    assert shared["cache"].get_usage() > before  # ... against the one cache
    for db in dbs:
        db.close()


def _table_options(folder) -> str:
    """The table options RocksDB reports for the latest open of the database in
    ``folder`` (its LOG): the block cache's capacity and the filter policy."""
    log = (folder / "LOG").read_text()
    capacity = re.findall(r"capacity : (\d+)", log)[-1]
    policy = re.findall(r"filter_policy: (\S+)", log)[-1]
    return f"{capacity} {policy}"


@pytest.mark.usefixtures("restore_faust")
def test_a_table_database_opened_again_keeps_the_shared_cache_and_its_bloom_filter(
        tmp_path):
    """rocksdict opens an existing database's column family with default table options
    unless they are given for it too: after a restart each table had a cache of its own."""
    from faust.stores.rocksdb import RocksDBOptions

    from hub.faust import patches
    from hub.routing.agent import ROCKSDB_OPTIONS

    patches.share_rocksdb_memory(16 * 1024**2)  # RocksDB's default cache has 8 MiB
    folder = tmp_path / "table-0.db"
    for _ in range(2):  # created, then opened again (a restart)
        db = RocksDBOptions(**ROCKSDB_OPTIONS).open(folder)
        db[b"family-1"] = b"x"
        db.close()
        assert _table_options(folder) == f"{16 * 1024**2} bloomfilter"


def test_a_changelog_record_reaches_the_table_as_faust_recovers_it(table):
    """What a recovery or a standby copy reads of the changelog: on disk the record's bytes
    go into the table without being decoded first; in memory Faust decodes them (its store
    keeps keys and values decoded). Either way the router reads the value back."""
    from faust.types.tuples import Message

    table.check()
    assert table.topic == f"test-tables-{'rocksdb' if table.on_disk else 'memory'}-" \
        "families-changelog"
    topic = table.table.changelog_topic
    value = {"pseudonym-ä": ["EW-1", 2.5, None]}
    message = Message(table.topic, 3, 17, 0.0, 0, [], b'"subject-1"',
                      faust.serializers.codecs.dumps("json", value), None)
    event = asyncio.run(topic.schema.decode(table.table.app, message))
    assert isinstance(event.key, bytes) == table.on_disk
    table.store.apply_changelog_batch([event], to_key=table.table._to_key,
                                      to_value=table.table._to_value)
    assert table.read("subject-1", 3) == value
    assert faust_reads(table, "subject-1", 3) == value


def test_a_faust_that_decodes_the_changelog_on_disk_is_refused(tmp_path):
    table = new_table("rocksdb", tmp_path)
    table.table.changelog_topic = table.table._new_changelog_topic()  # Faust's JSON
    with pytest.raises(IncompatibleFaust, match="changelog records are decoded"):
        table.check()
