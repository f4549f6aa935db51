"""The held events' index: a tick finds the families whose hold window is over without a
pass over every family that ever waited, and never misses one."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from hub.routing.messages import Incoming
from hub.routing.state import HeldEvents

T0 = datetime(2026, 11, 24, 12, tzinfo=UTC)


class Table(dict):
    """A dict that counts the passes over it."""

    passes = 0

    def items(self):
        self.passes += 1
        return super().items()


def hold(held: HeldEvents, subject: str, event_id: str, partition: int, at: datetime):
    envelope = SimpleNamespace(subject=subject, id=event_id)
    held.hold(envelope, Incoming("agency.x.outbox", partition, 1, b"{}"), at)


def test_a_subject_whose_events_are_all_decided_leaves_the_table():
    held = HeldEvents(Table())
    hold(held, "s-1", "e-1", 0, T0)
    hold(held, "s-1", "e-2", 0, T0)
    held.keep("s-1", held.waiting("s-1")[1:])
    assert [e["id"] for e in held.waiting("s-1")] == ["e-2"]
    held.keep("s-1", [])
    assert "s-1" not in held.table and held.count() == 0


def test_ticks_read_the_table_once_per_partition_and_find_what_was_held_since():
    table = Table()
    held = HeldEvents(table)
    for n in range(50):  # families that waited once, decided long ago: gone
        hold(held, f"old-{n}", f"e-{n}", 0, T0 - timedelta(days=30))
        held.keep(f"old-{n}", [])
    hold(held, "s-early", "e-a", 0, T0)
    hold(held, "s-other", "e-b", 1, T0)  # another partition
    assert held.due(0, T0 - timedelta(hours=1)) == []
    assert table.passes == 1  # the index is built on the partition's first tick
    hold(held, "s-late", "e-c", 0, T0 + timedelta(hours=2))
    assert held.due(0, T0 + timedelta(hours=1)) == ["s-early"]
    assert held.due(0, T0 + timedelta(hours=3)) == ["s-early", "s-late"]
    assert held.due(1, T0 + timedelta(hours=3)) == ["s-other"]
    assert table.passes == 2  # once for partition 1 as well, never again
    held.forget_partition(0)  # the partition moved away and came back: built again
    assert held.due(0, T0 + timedelta(hours=3)) == ["s-early", "s-late"]
    assert table.passes == 3


def test_events_put_back_into_the_table_are_still_found():
    """A message's changes undone (the router's error boundary) put held events back in the
    table behind the index's back: the index still names their subject."""
    held = HeldEvents(Table())
    hold(held, "s-1", "e-1", 0, T0)
    assert held.due(0, T0) == ["s-1"]
    entries = held.waiting("s-1")
    held.keep("s-1", [])  # decided ...
    held.table["s-1"] = entries  # ... and undone
    assert held.due(0, T0) == ["s-1"]
    held.keep("s-1", [])
    assert held.due(0, T0) == []
    held.table["s-1"] = entries  # once the index dropped it, only a hold brings it back
    hold(held, "s-1", "e-2", 0, T0 + timedelta(hours=1))
    assert held.due(0, T0) == ["s-1"]  # by its earliest event, e-1
