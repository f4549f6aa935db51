"""The router's state seen through one batch: each changed key is written once, and the
changes of a message that failed can be taken back.

:class:`BatchedStore` wraps one table (a Faust table in the worker, any mapping in tests).
Reads see the batch's own writes; writes stay in the batch until :meth:`BatchedStore.flush`
writes every changed key once (a Faust table sends one changelog record per write, so a
key changed by 50 events of a batch costs one record, not 50). Each write remembers the
partition of the message that made it, because a Faust table writes a key to the changelog
partition of the event being processed.

:class:`Journal` is the undo log of one message: the runtime takes a mark before it hands a
message to its handler and, when the handler raised, undoes everything written since, in
the stores and in the :class:`~hub.routing.delivered.DeliveredSet` alike. So a message that
fails changes nothing: it is dead-lettered, and the router goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

_MISSING = object()
_UNREAD = object()
_DELETED = object()
DELETED = _DELETED
"""The value a table's ``write(key, value, partition)`` gets for a removed key."""


class Journal:
    """Undo steps since a mark (one message's changes)."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], None]] = []

    def record(self, undo: Callable[[], None]) -> None:
        self._steps.append(undo)

    def mark(self) -> int:
        return len(self._steps)

    def undo(self, mark: int) -> None:
        """Take back every change recorded since ``mark``, newest first."""
        while len(self._steps) > mark:
            self._steps.pop()()

    def clear(self) -> None:
        self._steps.clear()


class BatchedStore(MutableMapping):
    """One table with the writes of the current batch held back until :meth:`flush`."""

    def __init__(self, table: MutableMapping, journal: Journal | None = None):
        self.table = table
        self.journal = journal
        # a ChangelogTable (hub.routing.tables) reads and writes by partition
        self._read = getattr(table, "read", None)
        self._write = getattr(table, "write", None)
        self.partition = 0
        """The partition of the message being processed (set by the runtime)."""
        self._dirty: dict[Any, Any] = {}
        self._partition_of: dict[Any, int] = {}
        self._read_back: dict[tuple[Any, int], Any] = {}
        """(key, partition) -> the table's value as read in this batch (a message often
        reads a key several times: the delivered table's three times per event, each a
        RocksDB look-up and a decoding); forgotten at every flush and discard."""

    # ------------------------------------------------------------ mapping
    def __getitem__(self, key):
        value = self._dirty.get(key, _MISSING)
        if value is _MISSING:
            value = self.peek(key, _MISSING)
        if value is _MISSING or value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key, default=None):
        value = self._dirty.get(key, _MISSING)
        if value is _MISSING:
            return self.peek(key, default)
        return default if value is _DELETED else value

    def __contains__(self, key) -> bool:
        value = self._dirty.get(key, _MISSING)
        if value is _MISSING:
            return self.peek(key, _MISSING) is not _MISSING
        return value is not _DELETED

    def peek(self, key, default=None):
        """The table's value of ``key`` (in the current partition), without this batch's
        changes."""
        if self._read is not None:
            where = (key, self.partition)
            value = self._read_back.get(where, _UNREAD)
            if value is _UNREAD:
                value = self._read_back[where] = self._read(key, self.partition, _MISSING)
            return default if value is _MISSING else value
        return self.table.get(key, default)

    def write_now(self, key, value, partition: int) -> None:
        """Write ``key`` to the table at once, past the batch (not undone by the journal)."""
        self._read_back.pop((key, partition), None)
        if self._write is not None:
            self._write(key, value, partition)
        else:
            self.table[key] = value

    def __setitem__(self, key, value) -> None:
        self._change(key, value)

    def __delitem__(self, key) -> None:
        if key not in self:
            raise KeyError(key)
        self._change(key, _DELETED)

    def __iter__(self) -> Iterator:
        dirty = self._dirty
        for key in list(self.table):
            if key not in dirty:
                yield key
        for key, value in list(dirty.items()):
            if value is not _DELETED:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def items(self):
        """(key, value) of every key, read together from the table: a RocksDB table reads
        ``table[key]`` from the current message's partition only, but iterates them all."""
        dirty = self._dirty
        items = self.table.items()
        if isinstance(self.table, dict):
            items = list(items)  # a dict may change while the caller awaits between items
        for key, value in items:  # from RocksDB: lazily (no count, no list of millions)
            if key not in dirty:
                yield key, value
        for key, value in list(dirty.items()):
            if value is not _DELETED:
                yield key, value

    def values(self):
        for _, value in self.items():
            yield value

    def find(self, needle: str) -> Iterator[tuple[Any, Any]]:
        """(key, value) of the current partition's entries whose value contains ``needle``
        (a pseudonym), this batch's changes included; see ``ChangelogTable.find``."""
        dirty = self._dirty
        find = getattr(self.table, "find", None)
        found = find(self.partition, needle) if find is not None else (
            (k, v) for k, v in list(self.table.items()) if needle in json.dumps(v))
        for key, value in found:
            if key not in dirty:
                yield key, value
        for key, value in list(dirty.items()):
            if value is not _DELETED and self._partition_of.get(key) == self.partition \
                    and needle in json.dumps(value):
                yield key, value

    # ------------------------------------------------------------ batch
    @property
    def pending(self) -> int:
        """Keys changed in this batch and not yet written."""
        return len(self._dirty)

    def partitions(self) -> set[int]:
        return set(self._partition_of.values())

    def flush(self, partition: int | None = None) -> int:
        """Write every key changed in this batch once (only those written while processing
        ``partition``, if given); returns the number of keys written."""
        keys = [k for k, p in self._partition_of.items() if partition is None or p == partition]
        self._read_back.clear()
        write_many = getattr(self.table, "write_many", None)
        if write_many is not None:  # one write per partition (a ChangelogTable)
            by_partition: dict[int, list] = {}
            for key in keys:
                by_partition.setdefault(self._partition_of.pop(key), []).append(
                    (key, self._dirty.pop(key)))
            for written_in, changes in by_partition.items():
                write_many(changes, written_in)
            return len(keys)
        for key in keys:  # a plain mapping (tests)
            value = self._dirty.pop(key)
            del self._partition_of[key]
            if value is _DELETED:
                self.table.pop(key, None)
            else:
                self.table[key] = value
        return len(keys)

    def forget_reads(self) -> None:
        """Read every key from the table again (a batch starts: the table may have been
        recovered from its changelog since, on a takeover)."""
        self._read_back.clear()

    def discard(self) -> None:
        """Forget the batch's changes (the batch is processed again from Kafka)."""
        self._read_back.clear()
        self._dirty.clear()
        self._partition_of.clear()

    def _change(self, key, value) -> None:
        if self.journal is not None:
            before = self._dirty.get(key, _MISSING)
            partition = self._partition_of.get(key)
            self.journal.record(lambda: self._restore(key, before, partition))
        self._dirty[key] = value
        self._partition_of[key] = self.partition

    def _restore(self, key, before, partition) -> None:
        if before is _MISSING:
            self._dirty.pop(key, None)
            self._partition_of.pop(key, None)
        else:
            self._dirty[key] = before
            self._partition_of[key] = partition
