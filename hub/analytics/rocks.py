"""The aggregator's store on disk: one RocksDB database per partition of ``hub.facts``
(:class:`RocksStore`, a :class:`~hub.analytics.store.FactStore`).

The worker keeps it under its state folder (``HUB_HOME/worker/<id>/analytics/``), beside the
router's tables, with the same RocksDB library (rocksdict). Its keys (bytes; a slice is
written ``topic 0x01 period 0x01 town-or-agency``, then a 0x00):

* ``f`` + ``kind|id``: the fact as counted (:func:`~hub.analytics.counted.encode_counted`);
* ``s`` + slice + ``kind|id``: the same fact again, under each slice it counts in, so that
  the facts of a slice are one range read in key order;
* ``p`` + slice + cell key: the published cell, as it was sent;
* ``d`` + slice: the slice changed since its cells were last published;
* ``e`` + marker key: an erasure marker not carried out yet (offset, value);
* ``m`` + name: how many facts, the offset of ``hub.facts`` read up to, when, and what the
  worker checks before it trusts the store after a restart (:mod:`hub.analytics.agent`).

A fact and the marks of the slices it changes are written in one batch, so the store is
consistent after a crash. The facts of the live stream are gathered in one batch of up to
:data:`LIVE_FACTS` (a write of its own cost a fact 18 us of RocksDB's write-ahead log, about
a third of applying it); the batch is written before anything else is read from the
database or written to it, and before the store is closed. The offset read up to is
written after the facts it covers, so a crash that loses a batch leaves the offset before
it, and the takeover reads those facts again (a fact read again is an upsert and changes
nothing). While a partition is rebuilt from the topic (:meth:`RocksStore.bulk`) the same
batch takes :data:`BULK_FACTS` facts and goes past RocksDB's write-ahead log, and the
offset is written once everything is flushed: a rebuild that stops halfway leaves a store
without an offset, which the next takeover rebuilds.
"""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import rocksdict

from hub.analytics.counted import Counted, FactKey, Slice, decode_counted, encode_counted

__all__ = ["RocksStore"]

FACT, INDEX, PUBLISHED, DIRTY, MARKER, META = b"f", b"s", b"p", b"d", b"e", b"m"
COUNT, READ_UP_TO = b"count", b"read_up_to"
OPTIONS = {"write_buffer_size": 4 * 1024**2, "max_write_buffer_number": 2,
           "target_file_size_base": 32 * 1024**2}
"""Per database; with several partitions on one worker their buffers add up (bounded by
the worker's shared RocksDB memory when the router's tables use RocksDB too)."""
BLOOM_BITS_PER_KEY = 10
"""Bloom filter bits per key: about 1 % of the look-ups of a missing key search the files
(a miss 0.95 us against 4.8 us without a filter, in a database of 400,000 keys)."""
BULK_FACTS = 2000
"""Facts written in one batch while a partition is rebuilt."""
LIVE_FACTS = 200
"""Facts of the live stream gathered in one batch at most (written sooner when the store is
read past :meth:`RocksStore.get`, or written otherwise)."""


@lru_cache(maxsize=8192)
def _slice_key(s: Slice) -> bytes:
    return "\x01".join(s).encode() + b"\x00"


def _slice_of(data: bytes) -> Slice:
    topic, period, where = data.rstrip(b"\x00").decode().split("\x01")
    return topic, period, where


def _fact_key(key: FactKey) -> bytes:
    return f"{key[0]}|{key[1]}".encode()


class RocksStore:
    """A :class:`~hub.analytics.store.FactStore` in a RocksDB database at ``path``;
    ``memory``: the worker's shared block cache and write buffer manager, if any."""

    def __init__(self, path: Path, memory: tuple | None = None) -> None:
        self.path = Path(path)
        self._memory = memory
        self._bulk_size: int | None = None  # facts a batch while rebuilt (None: live)
        self._batch: rocksdict.WriteBatch | None = None
        self._pending: dict[bytes, bytes | None] = {}
        """The facts in ``_batch``, not written yet (key -> value; None: removed)."""
        self._pending_dirty: set[Slice] = set()  # the slices they change, marked when written
        self._open()

    # -- the database ------------------------------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the options for the column family too: rocksdict opens that of a database that
        # exists with RocksDB's default table options (no shared cache, no bloom filter)
        self.db = rocksdict.Rdict(str(self.path), self._options(),
                                  column_families={"default": self._options()})
        self._write_options = rocksdict.WriteOptions()
        count = self.db.get(META + COUNT)
        self._count = int(count) if count else 0

    def _options(self) -> rocksdict.Options:
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_write_buffer_size(OPTIONS["write_buffer_size"])
        options.set_max_write_buffer_number(OPTIONS["max_write_buffer_number"])
        options.set_target_file_size_base(OPTIONS["target_file_size_base"])
        table = rocksdict.BlockBasedOptions()
        # every new fact is first looked up, and is not there: without a bloom filter
        # each such miss searched the files, dearer the more facts the store held
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)
        if self._memory is not None:
            cache, writes = self._memory
            table.set_block_cache(cache)
            options.set_write_buffer_manager(writes)
        options.set_block_based_table_factory(table)
        return options

    def close(self) -> None:
        self._flush()
        self.db.close()

    def clear(self) -> None:
        """Forget everything: the database is deleted and made anew."""
        self._batch, self._pending, self._pending_dirty = None, {}, set()
        self.db.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self._open()

    @contextmanager
    def bulk(self, facts_per_batch: int = BULK_FACTS):
        """Writes without the write-ahead log (a rebuild from the topic), ``facts_per_batch``
        facts in one batch: written and flushed at the end; the caller writes the offset
        read up to afterwards."""
        self._flush()
        self._write_options = rocksdict.WriteOptions()
        self._write_options.disable_wal = True
        self._bulk_size = facts_per_batch
        try:
            yield self
        finally:
            self._flush()
            self._bulk_size = None
            self._write_options = rocksdict.WriteOptions()
            self.db.flush()

    def _flush(self) -> None:
        """Write the facts gathered so far (see the module docs), with the marks of the
        slices they change (none while rebuilt: every slice is marked changed after it,
        ``Aggregator.mark_all_dirty``) and the count."""
        batch = self._batch
        if batch is None:
            return
        for s in self._pending_dirty:
            batch.put(DIRTY + _slice_key(s), b"")
        batch.put(META + COUNT, str(self._count).encode())
        self._batch, self._pending, self._pending_dirty = None, {}, set()
        self.db.write(batch, self._write_options)

    def _write(self, batch: rocksdict.WriteBatch) -> None:
        self._flush()
        self.db.write(batch, self._write_options)

    def _range(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """(key without ``prefix``, value) of every key that starts with ``prefix``."""
        self._flush()
        it = self.db.iter()
        it.seek(prefix)
        size = len(prefix)
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                return
            yield key[size:], it.value()
            it.next()

    # -- facts -------------------------------------------------------------------------

    def get(self, key: FactKey) -> Counted | None:
        name = FACT + _fact_key(key)
        pending = self._pending
        data = pending[name] if name in pending else self.db.get(name)
        return None if data is None else decode_counted(data)

    def write(self, key: FactKey, fact: Counted | None, old: Counted | None,
              dirty: Iterable[Slice]) -> None:
        name = _fact_key(key)
        if self._batch is None:
            self._batch = rocksdict.WriteBatch(raw_mode=True)
        batch = self._batch
        if old is not None:
            for s in old.slices():
                batch.delete(INDEX + _slice_key(s) + name)
        if fact is None:
            batch.delete(FACT + name)
        else:
            data = encode_counted(fact)
            batch.put(FACT + name, data)
            for s in fact.slices():
                batch.put(INDEX + _slice_key(s) + name, data)
        self._count += (fact is not None) - (old is not None)
        self._pending[FACT + name] = None if fact is None else data
        if self._bulk_size is None:
            self._pending_dirty.update(dirty)
        if len(self._pending) >= (self._bulk_size or LIVE_FACTS):
            self._flush()

    def facts_of(self, s: Slice) -> list[Counted]:
        return [decode_counted(data) for _, data in self._range(INDEX + _slice_key(s))]

    def slices(self) -> Iterator[Slice]:
        self._flush()
        it = self.db.iter()
        it.seek(INDEX)
        while it.valid() and it.key().startswith(INDEX):
            end = it.key().index(b"\x00") + 1
            yield _slice_of(it.key()[1:end])
            it.seek(it.key()[:end - 1] + b"\x01")  # past every key of this slice

    def __len__(self) -> int:
        return self._count

    # -- published cells -----------------------------------------------------------------

    def published_of(self, s: Slice) -> dict[bytes, bytes]:
        return dict(self._range(PUBLISHED + _slice_key(s)))

    def published_cell(self, s: Slice, key: bytes) -> bytes | None:
        self._flush()
        return self.db.get(PUBLISHED + _slice_key(s) + key)

    def published_keys(self) -> Iterator[tuple[Slice, bytes]]:
        found = []
        for rest, _ in self._range(PUBLISHED):
            end = rest.index(b"\x00") + 1
            found.append((_slice_of(rest[:end]), rest[end:]))
        return iter(found)

    def keep_published(self, s: Slice, cells: Mapping[bytes, bytes | None],
                       done: bool = False) -> None:
        prefix = PUBLISHED + _slice_key(s)
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in cells.items():
            if value is None:
                batch.delete(prefix + key)
            else:
                batch.put(prefix + key, value)
        if done:
            batch.delete(DIRTY + _slice_key(s))
        self._write(batch)

    def mark_dirty(self, slices: Iterable[Slice]) -> None:
        batch = rocksdict.WriteBatch(raw_mode=True)
        for s in slices:
            batch.put(DIRTY + _slice_key(s), b"")
        self._write(batch)

    def dirty_marks(self) -> set[Slice]:
        return {_slice_of(rest) for rest, _ in self._range(DIRTY)}

    # -- what a restart needs ----------------------------------------------------------

    def markers(self) -> dict[bytes, tuple[int, bytes]]:
        return {key: (struct.unpack(">q", value[:8])[0], value[8:])
                for key, value in self._range(MARKER)}

    def keep_marker(self, key: bytes, marker: tuple[int, bytes] | None) -> None:
        self._flush()
        if marker is None:
            self.db.delete(MARKER + key, self._write_options)
        else:
            offset, value = marker
            self.db.put(MARKER + key, struct.pack(">q", offset) + value, self._write_options)

    @property
    def read_up_to(self) -> int:
        return int(self.meta(READ_UP_TO.decode()) or 0)

    @read_up_to.setter
    def read_up_to(self, offset: int) -> None:
        self.set_meta(READ_UP_TO.decode(), str(offset))

    def meta(self, name: str) -> str | None:
        self._flush()
        value = self.db.get(META + name.encode())
        return None if value is None else value.decode()

    def set_meta(self, name: str, value: str | None) -> None:
        self._flush()  # the facts first: the offset read up to covers them
        if value is None:
            self.db.delete(META + name.encode())
        else:
            self.db.put(META + name.encode(), value.encode())
