"""Which events each recipient already has: the router's seen-set for exactly-once delivery.

The inbox topics themselves are the record of what was delivered. :class:`DeliveredSet`
keeps what is known in memory: when the router takes over a partition it reads that
partition of every inbox from the beginning and remembers the event ids it finds;
afterwards it adds each delivery as it sends it. So an event that was delivered just
before a crash, whose source offset was not committed yet, is recognised when it is
processed again, and not delivered twice. Entries older than the retention are forgotten
(inboxes keep 90 days by default).

:class:`DeliveredTable` (the worker's) keeps the deliveries in a changelog-backed table
instead, with a *checkpoint* per inbox partition: the inbox offset below which every
delivery is in the table. A worker taking over a partition reads each inbox only from its
checkpoint (:func:`hub.routing.inbox_scan.scan_inbox_partition` with ``starts``); see
:class:`DeliveredTable` for why a checkpoint is a safe lower bound.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.routing.store import Journal

DELIVERED_AT_HEADER = "hub-delivered-at"


class DeliveredSet:
    def __init__(self, retention: timedelta, journal: Journal | None = None):
        self.retention = retention
        self.journal = journal
        self._at: dict[tuple[str, str], datetime] = {}
        self._pruned: datetime | None = None

    def add(self, recipient: str, event_id: str, at: datetime) -> None:
        key = (recipient, event_id)
        if key in self._at:
            return
        self._at[key] = at
        if self.journal is not None:  # a message that fails delivered nothing
            self.journal.record(lambda: self._at.pop(key, None))

    def remove(self, recipient: str, event_id: str) -> None:
        """Forget that ``recipient`` has the event (an erasure)."""
        key = (recipient, event_id)
        at = self._at.pop(key, None)
        if at is not None and self.journal is not None:
            self.journal.record(lambda: self._at.__setitem__(key, at))

    def has(self, recipient: str, event_id: str, now: datetime) -> bool:
        at = self._at.get((recipient, event_id))
        return at is not None and now - at <= self.retention

    def __len__(self) -> int:
        return len(self._at)

    def prune(self, now: datetime, every: timedelta = timedelta(hours=1)) -> None:
        """Forget what is older than the retention (at most once per ``every``)."""
        if self._pruned is not None and now - self._pruned < every:
            return
        self._pruned = now
        self._at = {k: at for k, at in self._at.items() if now - at <= self.retention}


CHECKPOINT_PREFIX = "\x00inbox-checkpoint|"
"""Table keys of the checkpoints: prefix + inbox topic + "|" + partition."""


def checkpoint_key(topic: str, partition: int) -> str:
    return f"{CHECKPOINT_PREFIX}{topic}|{partition}"


class DeliveredTable(DeliveredSet):
    """The deliveries in a table (``recipient|event_id`` -> ``[delivered at (epoch
    seconds), partition]``), seen through a :class:`~hub.routing.store.BatchedStore`, with
    the inbox checkpoints in the same table.

    **When entries are written.** An entry is added when a handler decides a delivery, and
    the handlers read it back at once (an event twice in one batch is delivered once); the
    store holds it back until the runtime flushes it, which it does only *after* the
    batch's outputs were acknowledged by the broker (:meth:`flush`). An entry never claims
    a delivery that did not happen: with RocksDB a table write is on the local disk at once,
    and a crash between the write and the delivery would otherwise lose the event.

    **Checkpoints.** The runtime learns the inbox offsets of the batch's deliveries from the
    producer's acknowledgements (:meth:`acknowledged`). Those offsets become a checkpoint
    one batch later: the checkpoint for what batch N delivered is written when batch N+1 of
    the same partition flushes its entries, after batch N's entries. A checkpoint C of an
    inbox partition claims: every record below C that the router delivered has its entry in
    the table. That holds for the table a restarted worker rebuilds, because

    - batch N's entries were handed to Faust before the checkpoint that covers them
      (written a batch later), into the *same changelog partition* (a table writes to the
      partition of the message being processed, the router's partition p; the inbox
      partition of a delivery decided on partition p is p too, both keyed by subject);
    - Faust's producer buffer sends in order, and the Kafka producer keeps the order within
      a partition (one request in flight per partition, acks=all), so a checkpoint record
      in the changelog comes after every entry it covers; and the local RocksDB copy is
      written in the same order;
    - what a previous owner delivered and the takeover scan found is added as entries of
      the first batch, so it is in the table before a checkpoint above it.

    The assumption is the order within one changelog partition; the one-batch lag is a
    margin on top (the entries of batch N are normally acknowledged by then). Should the
    table lose entries anyway (a changelog deleted by hand), the checkpoint is missing too
    and the inboxes are read from the beginning.

    **Retention.** :meth:`prune` (the tick handler calls it on every tick of a partition) sweeps
    the partition's old entries, ``sweep_chunk`` keys per call, so a sweep never holds the
    event loop for long; a full pass over the table starts at most once per ``every``.
    """

    def __init__(self, retention: timedelta, store, *, sweep_chunk: int = 500):
        super().__init__(retention, None)  # undo goes through the store's journal
        self.store = store
        self.sweep_chunk = sweep_chunk
        self._sweeps: dict[int, object] = {}  # partition -> iterator over the table's items
        self._swept: dict[int, datetime] = {}  # partition -> when its last pass started
        self._acked: dict[int, dict[str, int]] = {}  # partition -> inbox -> next offset
        self._due: dict[int, dict[str, int]] = {}  # checkpoints written with the next flush

    # ------------------------------------------------------------ DeliveredSet
    def add(self, recipient: str, event_id: str, at: datetime) -> None:
        key = f"{recipient}|{event_id}"
        if self.store.get(key) is None:
            self.store[key] = [round(at.timestamp(), 3), self.store.partition]

    def remove(self, recipient: str, event_id: str) -> None:
        key = f"{recipient}|{event_id}"
        if key in self.store:
            del self.store[key]

    def has(self, recipient: str, event_id: str, now: datetime) -> bool:
        entry = self.store.get(f"{recipient}|{event_id}")
        return entry is not None and now.timestamp() - entry[0] <= self.retention.total_seconds()

    def __len__(self) -> int:
        """Entries written (the table's, of this worker's partitions), without checkpoints;
        counts every key: for logs and tests, not for a hot path."""
        return sum(1 for key in self.store if not key.startswith(CHECKPOINT_PREFIX))

    def prune(self, now: datetime, every: timedelta = timedelta(hours=1)) -> None:
        """One chunk of the sweep of the current partition's entries older than the
        retention (the partition is the store's: the runtime sets it to the tick's)."""
        partition = self.store.partition
        sweep = self._sweeps.get(partition)
        if sweep is None:
            started = self._swept.get(partition)
            if started is not None and now - started < every:
                return
            self._swept[partition] = now
            sweep = self._sweeps[partition] = iter(list(self.store.table.keys())
                                                  if isinstance(self.store.table, dict)
                                                  else self.store.table.keys())
        oldest = now.timestamp() - self.retention.total_seconds()
        try:
            for _ in range(self.sweep_chunk):
                key = next(sweep)
                if key.startswith(CHECKPOINT_PREFIX):
                    continue
                entry = self.store.get(key)
                if entry is not None and entry[1] == partition and entry[0] < oldest:
                    del self.store[key]
        except (StopIteration, RuntimeError):  # done (or the table changed under it)
            del self._sweeps[partition]

    # ------------------------------------------------------------ checkpoints
    def checkpoint(self, topic: str, partition: int) -> int | None:
        """The offset of ``topic[partition]`` below which every delivery is in the table."""
        return self.store.get(checkpoint_key(topic, partition))

    def acknowledged(self, topic: str, partition: int, next_offset: int) -> None:
        """The broker acknowledged deliveries to ``topic[partition]`` below ``next_offset``
        (their entries are flushed with this batch)."""
        acked = self._acked.setdefault(partition, {})
        acked[topic] = max(next_offset, acked.get(topic, 0))

    def flush(self, partition: int) -> int:
        """Write the entries made on ``partition`` since the last flush, then the
        checkpoints acknowledged one batch earlier; the acknowledgements of this batch
        become due for the next flush. Returns the number of checkpoints written."""
        self.store.flush(partition)
        due = self._due.pop(partition, {})
        for topic, offset in due.items():
            key = checkpoint_key(topic, partition)
            self.store.partition = partition
            if offset > (self.store.peek(key) or 0):
                self.store.write_now(key, offset, partition)
        acked = self._acked.pop(partition, None)
        if acked:
            self._due[partition] = acked
        return len(due)

    def forget(self, partition: int) -> None:
        """The partition moved to another worker: what is not written is not ours."""
        self._acked.pop(partition, None)
        self._due.pop(partition, None)
        self._sweeps.pop(partition, None)
