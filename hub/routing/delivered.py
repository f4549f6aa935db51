"""Which events each recipient already has: the router's seen-set for exactly-once delivery.

The inbox topics themselves are the record of what was delivered. When the router takes
over a partition (at start, after a crash, after a rebalance) it reads that partition of
every inbox and remembers the event ids it finds; afterwards it adds each delivery as it
sends it. So an event that was delivered just before a crash, whose source offset was not
committed yet, is recognised when it is processed again, and not delivered twice.
Entries older than the retention are forgotten (inboxes keep 90 days by default).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.contract.codec import peek_event_id
from hub.kafka_io import Kafka
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


def delivered_at(record) -> datetime:
    """When the hub delivered a record: its header (hub clock), else the record time."""
    for name, value in record.headers or ():
        if name == DELIVERED_AT_HEADER and value:
            try:
                return datetime.fromisoformat(value.decode())
            except ValueError:
                break
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


def scan_inbox_partition(bootstrap: Kafka, inboxes: dict[str, str], partition: int,
                         delivered: DeliveredSet) -> int:
    """Read ``partition`` of every inbox (topic -> recipient) up to its current end and add
    what is there; returns the number of records read. Blocking: run it in an executor."""
    from kafka import TopicPartition

    from hub.kafka_io import consumer

    kc = consumer(bootstrap, group_id=None, enable_auto_commit=False,
                  client_id="unna-hub-router-scan")
    try:
        tps = [TopicPartition(topic, partition) for topic in inboxes]
        kc.assign(tps)
        kc.seek_to_beginning(*tps)
        ends = kc.end_offsets(tps)
        read = 0
        while any(kc.position(tp) < ends[tp] for tp in tps):
            for tp, records in kc.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    read += 1
                    event_id = peek_event_id(record.value or b"")
                    if event_id:
                        delivered.add(inboxes[tp.topic], event_id, delivered_at(record))
        return read
    finally:
        kc.close()
