"""The table-backed seen-set: entries written only after the outputs were acknowledged,
checkpoints one batch behind the entries they cover, undo, and the retention sweep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hub.routing.delivered import DeliveredTable, checkpoint_key
from hub.routing.runtime import RouterRuntime
from hub.routing.store import BatchedStore, Journal
from tests.hub.test_runtime import App, CountingTable, Engine, Producer, events

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
INBOX = "agency.school.inbox"


class LoggedTable(dict):
    """A table that keeps the order of its writes (the order of the changelog records)."""

    def __init__(self):
        super().__init__()
        self.log: list[str] = []

    def __setitem__(self, key, value):
        self.log.append(key)
        super().__setitem__(key, value)


def table_set(table=None, journal=None) -> DeliveredTable:
    return DeliveredTable(timedelta(days=90), BatchedStore(
        LoggedTable() if table is None else table, journal))


def test_an_entry_is_seen_at_once_but_written_only_at_the_flush():
    delivered = table_set()
    delivered.store.partition = 1
    delivered.add("school", "e1", NOW)
    assert delivered.has("school", "e1", NOW) and not delivered.has("kita", "e1", NOW)
    assert delivered.store.table == {}
    delivered.flush(1)
    assert delivered.store.table == {"school|e1": [NOW.timestamp(), 1]}
    assert delivered.has("school", "e1", NOW + timedelta(days=90))
    assert not delivered.has("school", "e1", NOW + timedelta(days=91))


def test_a_failed_messages_delivery_is_taken_back():
    journal = Journal()
    delivered = table_set(journal=journal)
    mark = journal.mark()
    delivered.add("school", "e1", NOW)
    journal.undo(mark)
    assert not delivered.has("school", "e1", NOW)
    delivered.flush(0)
    assert delivered.store.table == {}


def test_a_checkpoint_is_written_one_batch_after_the_entries_it_covers():
    delivered = table_set()
    table = delivered.store.table
    # batch 1: two deliveries to inbox partition 0, acknowledged at offsets 10 and 11
    delivered.add("school", "e1", NOW)
    delivered.add("school", "e2", NOW)
    delivered.acknowledged(INBOX, 0, 11)
    delivered.acknowledged(INBOX, 0, 12)
    assert delivered.flush(0) == 0
    assert delivered.checkpoint(INBOX, 0) is None  # not yet: one batch later
    # batch 2 (a tick, say): no deliveries, the checkpoint of batch 1 is written
    assert delivered.flush(0) == 1
    assert delivered.checkpoint(INBOX, 0) == 12
    # the checkpoint record comes after the entries it covers
    assert table.log == ["school|e1", "school|e2", checkpoint_key(INBOX, 0)]


def test_checkpoints_never_go_back_and_are_kept_per_partition():
    delivered = table_set()
    delivered.acknowledged(INBOX, 0, 50)
    delivered.acknowledged(INBOX, 1, 7)
    delivered.flush(0), delivered.flush(1)
    delivered.flush(0), delivered.flush(1)
    delivered.acknowledged(INBOX, 0, 20)  # e.g. a scan's end seen before a later delivery
    delivered.flush(0), delivered.flush(0)
    assert delivered.checkpoint(INBOX, 0) == 50 and delivered.checkpoint(INBOX, 1) == 7


def test_a_revoked_partition_writes_no_checkpoint_it_did_not_finish():
    delivered = table_set()
    delivered.acknowledged(INBOX, 2, 5)
    delivered.flush(2)
    delivered.forget(2)
    delivered.flush(2)
    assert delivered.checkpoint(INBOX, 2) is None


def test_the_sweep_removes_old_entries_of_its_partition_in_chunks():
    table = {f"school|old{n}": [(NOW - timedelta(days=100)).timestamp(), n % 2]
             for n in range(10)}
    table["school|new"] = [NOW.timestamp(), 0]
    table[checkpoint_key(INBOX, 0)] = 99
    delivered = DeliveredTable(timedelta(days=90), BatchedStore(table), sweep_chunk=4)
    delivered.store.partition = 0
    for _ in range(3):  # 12 keys, 4 a call
        delivered.prune(NOW)
        delivered.flush(0)
    assert sorted(table) == sorted([checkpoint_key(INBOX, 0), "school|new"]
                                   + [f"school|old{n}" for n in range(1, 10, 2)])
    delivered.prune(NOW + timedelta(minutes=5))  # the pass is over, the next in an hour
    delivered.store.partition = 1
    for _ in range(3):
        delivered.prune(NOW)
        delivered.flush(1)
    assert sorted(table) == [checkpoint_key(INBOX, 0), "school|new"]


class Meta:
    def __init__(self, topic, partition, offset):
        self.topic, self.partition, self.offset = topic, partition, offset


class OffsetProducer(Producer):
    """Acknowledges with record metadata: each topic's records at 0, 1, 2, ..."""

    async def send(self, topic, key, value, partition, timestamp, headers):
        future = await super().send(topic, key, value, partition, timestamp, headers)
        offset = sum(1 for t, _ in self.sent if t == topic) - 1
        future = asyncio.get_running_loop().create_future()
        future.set_result(Meta(topic, 0, offset))
        return future


def test_the_runtime_writes_deliveries_after_the_acks_and_the_checkpoint_a_batch_later():
    journal = Journal()
    state = BatchedStore(CountingTable(), journal)
    delivered = DeliveredTable(timedelta(days=90), BatchedStore(LoggedTable(), journal))
    engine = Engine(state, delivered)
    runtime = RouterRuntime(App(OffsetProducer()), engine, [state], journal, bootstrap=None,
                            inboxes={INBOX: "school"})
    runtime.scanned = {0}
    asyncio.run(runtime.process_batch(events((0, "child-a", "e1"), (0, "child-a", "e2"))))
    assert set(delivered.store.table) == {"school|e1", "school|e2"}
    assert delivered.checkpoint(INBOX, 0) is None
    asyncio.run(runtime.process_batch(events((0, "child-a", "e3"))))
    assert delivered.checkpoint(INBOX, 0) == 2  # offsets 0 and 1 of batch 1
    assert delivered.store.table.log[-1] == checkpoint_key(INBOX, 0)
    assert "school|e3" in delivered.store.table
