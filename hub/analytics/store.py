"""Where the aggregator keeps the facts it counts and the cells it published (pure).

One interface, two stores: :class:`MemoryStore` here (the unit tests, and the worker with
``HUB_STATE_STORE=memory``) and :class:`hub.analytics.rocks.RocksStore` (RocksDB on disk
under the worker's state folder, the default), so that a worker's memory does not grow with
the facts it counts. What a store holds:

* the latest fact of each key as counted (:mod:`hub.analytics.counted`), and by slice the
  keys of the facts that count in it: the aggregator reads a slice's facts back only when it
  recomputes that slice;
* the published cells, by slice: each cell's record as it was sent (Avro single-object
  encoding, :func:`hub.analytics.records.encode_record`);
* what a restarted worker needs to go on where it stopped (a store on disk only): the
  offset of ``hub.facts`` read up to, the slices changed since their last publish, and the
  erasure markers not carried out yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from hub.analytics.counted import Counted, FactKey, Slice

__all__ = ["FactStore", "MemoryStore", "slice_of_cell"]

Marker = tuple[int, bytes]
"""An erasure marker not carried out yet: (offset, value)."""


def slice_of_cell(topic: str, key: bytes) -> Slice | None:
    """The slice of the cell ``key`` of ``topic``: its first two parts (the week or month,
    and the town or agency; :func:`hub.analytics.records.cell_key`)."""
    parts = key.split(b"|", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    try:
        return topic, parts[0].decode(), parts[1].decode()
    except UnicodeDecodeError:
        return None


class FactStore(Protocol):
    """What :class:`~hub.analytics.aggregate.Aggregator` needs of a store."""

    def get(self, key: FactKey) -> Counted | None:
        """The fact of ``key``."""

    def write(self, key: FactKey, fact: Counted | None, old: Counted | None,
              dirty: Iterable[Slice]) -> None:
        """In one step: ``fact`` replaces ``old`` under ``key`` (None: removed), and the
        slices ``dirty`` are marked changed."""

    def facts_of(self, s: Slice) -> list[Counted]:
        """The facts that count in slice ``s``, in key order."""

    def slices(self) -> Iterator[Slice]:
        """Every slice some fact counts in."""

    def __len__(self) -> int:
        """How many facts."""

    def published_of(self, s: Slice) -> dict[bytes, bytes]:
        """The published cells of ``s`` (key -> encoded record), in key order."""

    def published_cell(self, s: Slice, key: bytes) -> bytes | None:
        """The published cell ``key`` of slice ``s``."""

    def published_keys(self) -> Iterator[tuple[Slice, bytes]]:
        """(slice, key) of every published cell."""

    def keep_published(self, s: Slice, cells: Mapping[bytes, bytes | None],
                       done: bool = False) -> None:
        """In one step: the cells ``cells`` of ``s`` published (None: not published), and
        with ``done`` the mark of ``s`` as changed taken away."""

    def mark_dirty(self, slices: Iterable[Slice]) -> None:
        """Mark ``slices`` as changed (kept across a restart)."""

    def dirty_marks(self) -> set[Slice]:
        """The slices marked as changed."""

    def markers(self) -> dict[bytes, Marker]:
        """The erasure markers not carried out yet, by key."""

    def keep_marker(self, key: bytes, marker: Marker | None) -> None:
        """Remember the marker ``key`` (None: carried out, forget it)."""

    read_up_to: int
    """The offset of ``hub.facts`` up to which the store has every fact (0: none)."""

    def clear(self) -> None:
        """Forget everything."""


class MemoryStore:
    """A :class:`FactStore` in memory: nothing survives the process, so it keeps neither
    the offset nor the marks of changed slices."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self._facts: dict[FactKey, Counted] = {}
        self._slices: dict[Slice, set[FactKey]] = {}
        self._published: dict[Slice, dict[bytes, bytes]] = {}
        self._markers: dict[bytes, Marker] = {}
        self.read_up_to = 0

    def get(self, key: FactKey) -> Counted | None:
        return self._facts.get(key)

    def write(self, key: FactKey, fact: Counted | None, old: Counted | None,
              dirty: Iterable[Slice]) -> None:
        if old is not None:
            for s in old.slices():
                members = self._slices.get(s)
                if members is not None:
                    members.discard(key)
                    if not members:
                        del self._slices[s]
        if fact is None:
            self._facts.pop(key, None)
            return
        self._facts[key] = fact
        for s in fact.slices():
            self._slices.setdefault(s, set()).add(key)

    def facts_of(self, s: Slice) -> list[Counted]:
        return [self._facts[key] for key in sorted(self._slices.get(s, ()))]

    def slices(self) -> Iterator[Slice]:
        return iter(list(self._slices))

    def facts(self) -> list[Counted]:
        """Every fact (for tests)."""
        return list(self._facts.values())

    def __len__(self) -> int:
        return len(self._facts)

    def published_of(self, s: Slice) -> dict[bytes, bytes]:
        cells = self._published.get(s, {})
        return {key: cells[key] for key in sorted(cells)}

    def published_cell(self, s: Slice, key: bytes) -> bytes | None:
        return self._published.get(s, {}).get(key)

    def published_keys(self) -> Iterator[tuple[Slice, bytes]]:
        return iter([(s, key) for s, cells in self._published.items() for key in cells])

    def keep_published(self, s: Slice, cells: Mapping[bytes, bytes | None],
                       done: bool = False) -> None:
        published = self._published.setdefault(s, {})
        for key, value in cells.items():
            if value is None:
                published.pop(key, None)
            else:
                published[key] = value
        if not published:
            del self._published[s]

    def mark_dirty(self, slices: Iterable[Slice]) -> None:
        pass  # nothing survives the process: the aggregator's own set is all there is

    def dirty_marks(self) -> set[Slice]:
        return set()

    def markers(self) -> dict[bytes, Marker]:
        return dict(self._markers)

    def keep_marker(self, key: bytes, marker: Marker | None) -> None:
        if marker is None:
            self._markers.pop(key, None)
        else:
            self._markers[key] = marker
