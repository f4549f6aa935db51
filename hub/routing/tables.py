"""The router's tables, read and written past Faust's per-key machinery.

:class:`ChangelogTable` keeps a table's data where Faust keeps it (its store, read and
written by partition through :class:`hub.faust.tables.TableStore`) and its changelog topic
as Faust writes it (same keys and values, same partitions), so Faust still creates the
topic, recovers the table from it at start-up and on a takeover, and keeps standbys; but:

- a **read** of a key is one look-up in the partition's database (the partition is the
  message's, given by the caller), and a missing key costs one look-up too;
- a **write** goes into the store at once and queues its changelog record; the runtime
  sends the queued records with the batch's outputs (:meth:`take_changelog`) and, once
  the broker acknowledged them, records the persisted offset once per partition and batch
  (:meth:`persisted`), where Faust wrote it once per record.

:meth:`~hub.faust.tables.TableStore.check` makes sure at start-up that the store has what
is used and encodes keys and values byte for byte as Faust does.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from hub.faust.tables import TableStore
from hub.routing.store import DELETED


class ChangelogTable(TableStore, MutableMapping):
    """One Faust table (``app.Table``, JSON keys and values) read and written directly.

    The mapping interface (iteration, ``len``, item access without a partition) is the
    Faust table's own and is for the timers and tests, not the hot path.
    """

    def __init__(self, table):
        super().__init__(table)
        self._queued: list[tuple[bytes, bytes | None, int]] = []

    def write(self, key, value, partition: int) -> None:
        """Store ``value`` (or :data:`DELETED`) under ``key`` in ``partition`` and queue its
        changelog record."""
        if value is DELETED:
            self._queued.append((self.remove(key, partition), None, partition))
        else:
            self._queued.append((*self.put(key, value, partition), partition))

    def write_many(self, changes: list[tuple[object, object]], partition: int) -> None:
        """:meth:`write` for each ``(key, value)`` of ``changes``, in one write to the
        partition's database."""
        written = self.put_many(changes, partition, DELETED)
        self._queued.extend((key, value, partition) for key, value in written)

    def take_changelog(self) -> list[tuple[bytes, bytes | None, int]]:
        """The changelog records written since the last call: (key, value, partition)."""
        queued, self._queued = self._queued, []
        return queued

    # ------------------------------------------------------------ mapping (not hot)
    def __getitem__(self, key):
        return self.table[key]

    def __setitem__(self, key, value) -> None:
        raise TypeError("write router tables with ChangelogTable.write(key, value, partition)")

    def __delitem__(self, key) -> None:
        raise TypeError("write router tables with ChangelogTable.write(key, DELETED, "
                        "partition)")

    def __iter__(self) -> Iterator:
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)
