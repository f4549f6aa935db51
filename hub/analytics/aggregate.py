"""The analytics aggregator: facts in, anonymous cells out (pure, no Kafka).

The router's facts (see :mod:`hub.analytics.facts`, which decodes and checks them) are
upserts keyed by ``kind|id``. The aggregator keeps the latest fact of each key, as it counts
it (:mod:`hub.analytics.counted`), indexed by the *slice* it falls in:

* ``analytics.weekly_activity``: ISO week × municipality (a table of life phases × event
  types, with offer categories for offers);
* ``analytics.monthly_handovers``: month of the request × municipality (a table of the kinds
  of the requesting × the requested agency);
* ``analytics.weekly_refusals``: ISO week × sending agency (one cell).

A fact that changes moves its counts from its old slice to its new one and marks both dirty.
:meth:`Aggregator.publish` recomputes the dirty slices (suppression included, see
:mod:`hub.analytics.cells`) and returns only the cells whose published version changes, so
a late event re-publishes the cells of its window and nothing else. Cells that were
published before and are now empty are re-published as zeros, so the compacted topic never
keeps a stale count. Weeks and months follow the local date in Europe/Berlin.

The facts and the published cells are in a store (:mod:`hub.analytics.store`): in memory,
or on disk (:class:`hub.analytics.rocks.RocksStore`), where the aggregator reads a slice's
facts back only when it recomputes it, so that its memory does not grow with the facts. An
aggregator may publish only some slices (``owns``: those of its partitions of
``hub.facts``, :mod:`hub.analytics.placement`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from hub.analytics.cells import cells_of
from hub.analytics.counted import LOCAL_TIME, Counted, FactKey, Slice, counted
from hub.analytics.facts import Fact, decode_fact
from hub.analytics.records import (
    MONTHLY_HANDOVERS,
    WEEKLY_ACTIVITY,
    WEEKLY_REFUSALS,
    decode_record,
    encode_record,
)
from hub.analytics.store import FactStore, MemoryStore, slice_of_cell
from hub.analytics.suppression import check_k
from hub.errors import DecodeError

__all__ = ["Aggregator", "LOCAL_TIME"]

Cell = tuple[str, bytes, bytes | None]
"""A cell as an analytics topic holds it: (topic, key, encoded record; None: none)."""


class Aggregator:
    """Latest facts by key, and the analytics cells they give (see the module docs)."""

    def __init__(self, k: int = 5, store: FactStore | None = None,
                 owns: Callable[[Slice], bool] | None = None) -> None:
        self.k = check_k(k)
        self.store: FactStore = store if store is not None else MemoryStore()
        self.owns = owns or (lambda s: True)
        self._dirty: set[Slice] = self.store.dirty_marks()

    def reset(self) -> None:
        """Forget every fact and every published cell."""
        self.store.clear()
        self._dirty = set()

    # -- input -------------------------------------------------------------------------

    def apply(self, fact: Fact) -> bool:
        """Insert or replace a fact; False (and nothing changes) when it is none the
        aggregator counts (an erasure marker)."""
        parsed = counted(fact)
        if parsed is None:
            return False
        self._apply((fact.kind, fact.id), parsed)
        return True

    def apply_owned(self, fact: Fact) -> bool | None:
        """Like :meth:`apply`, but None (and nothing changes) when the fact counts in a
        slice of another aggregator (``owns``); one that counts in none is applied."""
        parsed = counted(fact)
        if parsed is None:
            return False
        slices = parsed.slices()
        if not all(self.owns(s) for s in slices):
            return None
        self._apply((fact.kind, fact.id), parsed, slices)
        return True

    def _apply(self, key: FactKey, parsed: Counted, slices: list[Slice] | None = None
               ) -> None:
        old = self.store.get(key)
        if old == parsed:
            return
        touched = set(parsed.slices() if slices is None else slices)
        if old is not None:
            touched.update(old.slices())
        self.store.write(key, parsed, old, touched)
        self._dirty |= touched

    def remove(self, kind: str, fact_id: str) -> None:
        """Forget a fact (a tombstone on the facts topic)."""
        key = (kind, fact_id)
        old = self.store.get(key)
        if old is not None:
            touched = set(old.slices())
            self.store.write(key, None, old, touched)
            self._dirty |= touched

    def apply_rewrite(self, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Carry out an erasure's records (see :func:`hub.analytics.erasure.erasure_records`)
        in one step, before they are sent: the rewritten facts in, the old keys out. The
        token stands for the child as its pseudonym did, so no cell changes; when the
        records come back through the topic they change nothing (the same facts, keys
        already gone, the marker's tombstone is no fact)."""
        for key, value in records:
            kind, _, fact_id = (key or b"").decode(errors="replace").partition("|")
            if value is None:
                self.remove(kind, fact_id)
            else:
                fact = decode_fact(value)
                if fact is not None:
                    self.apply(fact)

    def seed_published(self, topic: str, key: bytes, record: Mapping[str, Any]) -> None:
        """Tell the aggregator what the analytics topic already holds for ``key``."""
        self.seed_encoded(topic, key, encode_record(topic, dict(record)))

    def seed_encoded(self, topic: str, key: bytes, value: bytes | None) -> bool:
        """Like :meth:`seed_published`, with the record as the topic holds it; False when
        it is none of the aggregator's (another slice's, or not a record of ``topic``)."""
        s = self._slice_of(topic, key, value)
        if s is None:
            return False
        self.store.keep_published(s, {key: value})
        return True

    def reconcile_published(self, cells: Iterable[Cell]) -> int:
        """After a restart with the facts in the store: compare what the analytics topics
        hold (``cells``, in topic order) with what the store says was published, and mark
        the slices where they differ as changed (see :class:`Reconcile`). Returns how many
        slices."""
        reconcile = Reconcile(self)
        for topic, key, value in cells:
            reconcile.see(topic, key, value)
        return reconcile.finish()

    def mark_all_dirty(self) -> None:
        """Recompute every slice on the next :meth:`publish` (after a rebuild)."""
        every = {s for s in self.store.slices() if self.owns(s)}
        every.update(s for s, _ in self.store.published_keys())
        self.store.mark_dirty(every - self._dirty)
        self._dirty |= every

    def __len__(self) -> int:
        return len(self.store)

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    # -- output ------------------------------------------------------------------------

    def publish(self, now: datetime) -> list[tuple[str, bytes, dict[str, Any]]]:
        """The cells of the dirty slices whose published version changes, as
        ``(topic, key, record)``; they count as published from here on."""
        out: list[tuple[str, bytes, dict[str, Any]]] = []
        for s in sorted(self._dirty):
            if not self.owns(s):
                self.store.keep_published(s, {}, done=True)
                continue
            topic = s[0]
            previous = {key: _comparable(decode_record(topic, value))
                        for key, value in self.store.published_of(s).items()}
            changed: dict[bytes, bytes | None] = {}
            for key, record in cells_of(s, self.store.facts_of(s), list(previous.values()),
                                        self.k):
                if previous.get(key) == _comparable(record):
                    continue
                stamped = {**record, "updated_at": now}
                changed[key] = encode_record(topic, stamped)
                out.append((topic, key, stamped))
            self.store.keep_published(s, changed, done=True)
        self._dirty.clear()
        return out

    def _slice_of(self, topic: str, key: bytes, value: bytes | None) -> Slice | None:
        """The slice of a cell as the analytics topic holds it, if it is one of ours and
        its record decodes."""
        if topic not in (WEEKLY_ACTIVITY, MONTHLY_HANDOVERS, WEEKLY_REFUSALS) or not value:
            return None
        try:
            s = _slice_of_record(topic, decode_record(topic, value))
        except DecodeError:
            return None  # not ours: it will be overwritten by the cell's next version
        return s if s is not None and self.owns(s) else None


class Reconcile:
    """What the analytics topics hold, compared cell by cell with what an aggregator's
    store says it published (after a restart that kept the store): :meth:`see` each record
    of the topics in order, then :meth:`finish` marks as changed every slice with a cell
    whose latest record differs (a publish the broker never acknowledged, a cell another
    worker wrote meanwhile) or that the store has and the topic has not, and takes the
    topic's version as what is published."""

    def __init__(self, aggregator: Aggregator) -> None:
        self.aggregator = aggregator
        self.seen: set[tuple[str, bytes]] = set()
        self.differ: dict[tuple[str, bytes], tuple[Slice, bytes | None]] = {}

    def see(self, topic: str, key: bytes, value: bytes | None) -> None:
        s = slice_of_cell(topic, key)
        if s is None or not self.aggregator.owns(s):
            return
        self.seen.add((topic, key))
        if value is not None and self.aggregator.store.published_cell(s, key) == value:
            self.differ.pop((topic, key), None)
        else:
            self.differ[(topic, key)] = (s, value)

    def finish(self) -> int:
        """Mark the slices that differ; returns how many."""
        aggregator, store = self.aggregator, self.aggregator.store
        changed: set[Slice] = set()
        for s, key in store.published_keys():
            if (s[0], key) not in self.seen:  # not on the topic after all
                store.keep_published(s, {key: None})
                changed.add(s)
        for (topic, key), (s, value) in self.differ.items():
            if aggregator._slice_of(topic, key, value) is None:
                value = None  # not a record of ours: the cell counts as not published
            store.keep_published(s, {key: value})
            changed.add(s)
        store.mark_dirty(changed)
        aggregator._dirty |= changed
        return len(changed)


def _comparable(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its timestamp, for "did this cell change"."""
    return {name: value for name, value in record.items() if name != "updated_at"}


def _slice_of_record(topic: str, record: Mapping[str, Any]) -> Slice | None:
    try:
        if topic == WEEKLY_ACTIVITY:
            return topic, record["week"], record["municipality"]
        if topic == MONTHLY_HANDOVERS:
            return topic, record["month"], record["municipality"]
        if topic == WEEKLY_REFUSALS:
            return topic, record["week"], record["agency"]
    except (KeyError, TypeError):
        return None
    return None
