"""The router's tables, read and written past Faust's per-key machinery.

A Faust table reads a key through several layers (mapping, serializer registry, store,
``current_event()``, a ``contains`` lookup before the ``get``) and writes one through
more (``send_soon`` through the producer buffer, a callback per record that writes the
persisted offset into RocksDB). On the router's hot path that was a good part of the cost
of an event. :class:`ChangelogTable` keeps the table's data where Faust keeps it (its
store: a RocksDB database per partition, or memory) and its changelog topic as Faust
writes it (same keys and values, same partitions), so Faust still creates the topic,
recovers the table from it at start-up and on a takeover, and keeps standbys; but:

- a **read** of a key is one look-up in the partition's database (the partition is the
  message's, given by the caller), and a missing key costs one look-up too;
- a **write** goes into the store at once and queues its changelog record; the runtime
  sends the queued records with the batch's outputs (:meth:`take_changelog`) and, once
  the broker acknowledged them, records the persisted offset once per partition and batch
  (:meth:`persisted`), where Faust wrote it once per record.

Keys and values are encoded by Faust's own serializer (JSON); :meth:`ChangelogTable.check`
makes sure at start-up that the store has every internal used here
(:func:`hub.faust.checks.check_faust`) and that this module's encoding is byte for byte
Faust's, so a table written here reads back through Faust and the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP
from faust.utils import json as faust_json

from hub.faust.checks import IncompatibleFaust, check_faust
from hub.routing.store import DELETED


def _encode(obj: Any) -> bytes:
    """Faust's JSON codec (``faust.utils.json``: orjson when installed, else the standard
    library's or simplejson with Faust's encoder); a plain string key (printable ASCII, no
    quote or backslash: pseudonyms, ids) is quoted directly, as every JSON encoder does."""
    if obj.__class__ is str and obj.isascii() and obj.isprintable() \
            and '"' not in obj and "\\" not in obj:
        return b'"' + obj.encode() + b'"'
    data = faust_json.dumps(obj)
    return data if isinstance(data, bytes) else data.encode()


class ChangelogTable(MutableMapping):
    """One Faust table (``app.Table``, JSON keys and values) read and written directly.

    The mapping interface (iteration, ``len``, item access without a partition) is the
    Faust table's own and is for the timers and tests, not the hot path.
    """

    def __init__(self, table):
        self.table = table
        self.store = table.data
        self.on_disk = isinstance(self.store, RocksDBStore)  # else memory (check)
        self.topic = table.changelog_topic.get_topic_name()
        self._queued: list[tuple[bytes, bytes | None, int]] = []

    # ------------------------------------------------------------ start-up
    def check(self) -> None:
        """Refuse to run if the store lacks what is used here (:mod:`hub.faust.checks`),
        or if this module would encode a key or value other than Faust."""
        check_faust(stores=[self.store])
        problems = []
        store = self.store
        for sample in ("subject-ä|1", "recipient|4f1c-9a", 'a"b\\c', "tab\t",
                       ["x", 1.5, None, {"k": [True]}], {"a": {"b": "ü"}}):
            if store._encode_key(sample) != _encode(sample):
                problems.append(f"Faust encodes the key {sample!r} differently")
            if store._encode_value(sample) != _encode(sample):
                problems.append(f"Faust encodes the value {sample!r} differently")
        if problems:
            raise IncompatibleFaust("the router reads and writes its tables in Faust's "
                                    "format, but " + "; ".join(problems))

    # ------------------------------------------------------------ hot path
    def read(self, key, partition: int, default=None):
        """The value of ``key`` in ``partition``'s part of the table."""
        if self.on_disk:
            raw = self.store._db_for_partition(partition).get(_encode(key))
            return default if raw is None else json.loads(raw)
        return self.store.data.get(key, default)

    def write(self, key, value, partition: int) -> None:
        """Store ``value`` (or :data:`DELETED`) under ``key`` in ``partition`` and queue its
        changelog record."""
        key_bytes = _encode(key)
        value_bytes = None if value is DELETED else _encode(value)
        store = self.store
        if self.on_disk:
            db = store._db_for_partition(partition)
            if value_bytes is None:
                db.delete(key_bytes)
            else:
                db.put(key_bytes, value_bytes)
        elif value is DELETED:
            store.data.pop(key, None)
            store._key_partition.pop(key, None)
        else:
            store.data[key] = value
            store._key_partition[key] = partition
        self._queued.append((key_bytes, value_bytes, partition))

    def find(self, partition: int, needle: str) -> Iterator[tuple[Any, Any]]:
        """(key, value) of every entry of ``partition`` whose encoded value contains
        ``needle`` (a pseudonym): a scan of the partition's database that decodes only the
        matches. For rare work (an erasure), not the hot path."""
        if self.on_disk:
            wanted = needle.encode()
            for key, raw in self.store._db_for_partition(partition).items():
                if raw is not None and wanted in raw:
                    yield json.loads(key), json.loads(raw)
            return
        where = self.store._key_partition
        for key, value in list(self.store.data.items()):
            if where.get(key, partition) == partition and needle in json.dumps(value):
                yield key, value

    def take_changelog(self) -> list[tuple[bytes, bytes | None, int]]:
        """The changelog records written since the last call: (key, value, partition)."""
        queued, self._queued = self._queued, []
        return queued

    def persisted(self, partition: int, offset: int) -> None:
        """The broker acknowledged the changelog up to ``offset`` of ``partition``: where a
        restarted worker starts reading it to bring its database up to date."""
        if self.on_disk:
            self.store.set_persisted_offset(TP(self.topic, partition), offset)

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

    def items(self):
        """Every partition's (key, value) pairs; from memory, a copy (the table may change
        while they are read)."""
        return self.table.items() if self.on_disk else list(self.store.data.items())

    def keys(self):
        return self.table.keys() if self.on_disk else list(self.store.data)
