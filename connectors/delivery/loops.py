"""The two delivery loops: inbox -> batch files, inbox -> webhook.

Both hand events over first and commit offsets after, so a crash repeats work and never
loses it; the batch files' names make the repetition a no-op for ``--to-dir``, the
``Idempotency-Key`` lets a webhook receiver recognise it. A message that does not decode is
dead-lettered and counted, and delivery goes on.

The loops see the inbox, the folder and the sender through small interfaces, so tests can
drive them without a broker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from kafka.consumer.fetcher import ConsumerRecord

from connectors.delivery.batchfiles import BatchFileName
from connectors.delivery.csvfile import render_csv
from connectors.delivery.metrics import DEAD_LETTERS_SENT, EVENTS_DELIVERED, FILES_WRITTEN
from hub.contract.codec import get_codec
from hub.contract.models import Envelope
from hub.errors import DecodeError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5


class InboxReader(Protocol):
    topic: str
    agency_id: str

    def poll(self, timeout_s: float) -> list[ConsumerRecord]: ...
    def caught_up(self) -> bool: ...
    def commit(self, next_offsets: dict[int, int]) -> None: ...
    def dead_letter(self, record: ConsumerRecord, reason: str) -> None: ...


class BatchWriter(Protocol):
    def write_batch(self, partition: int, first: int, last: int,
                    content: bytes) -> BatchFileName: ...


class EventSender(Protocol):
    def deliver(self, envelope: Envelope) -> bool: ...


@dataclass
class DeliveryReport:
    """What one run delivered; ``receiver_failing`` when it stopped while a webhook
    receiver still refused an event."""

    events: int = 0
    files: int = 0
    dead_letters: int = 0
    receiver_failing: bool = False


class PendingBatches:
    """Records read but not yet written, per partition, cut into batches of at most
    ``size`` records; a partial batch is due once its first record waited ``max_wait``
    seconds."""

    def __init__(self, size: int, max_wait: float):
        self.size = size
        self.max_wait = max_wait
        self._records: dict[int, list[ConsumerRecord]] = {}
        self._since: dict[int, float] = {}

    def add(self, records: Iterable[ConsumerRecord], now: float) -> None:
        for record in records:
            self._records.setdefault(record.partition, []).append(record)
            self._since.setdefault(record.partition, now)

    def due(self, now: float) -> Iterator[tuple[int, list[ConsumerRecord]]]:
        """Full batches, and partial ones that waited long enough."""
        for partition in sorted(self._records):
            waited = now - self._since[partition] >= self.max_wait
            yield from self._take(partition, everything=waited)

    def drain(self) -> Iterator[tuple[int, list[ConsumerRecord]]]:
        """Every pending record, in batches."""
        for partition in sorted(self._records):
            yield from self._take(partition, everything=True)

    def _take(self, partition: int, everything: bool):
        records = self._records[partition]
        while len(records) >= self.size or (everything and records):
            batch, records = records[:self.size], records[self.size:]
            self._records[partition] = records
            yield partition, batch
        if not records:
            del self._records[partition], self._since[partition]


def decode_or_dead_letter(inbox: InboxReader, record: ConsumerRecord,
                          report: DeliveryReport) -> Envelope | None:
    """The record's envelope; None after dead-lettering a record that does not decode."""
    try:
        return get_codec().decode(record.value)
    except DecodeError as exc:
        inbox.dead_letter(record, exc.reason)
        DEAD_LETTERS_SENT.labels(agency=inbox.agency_id).inc()
        report.dead_letters += 1
        log.warning("%s[%d]@%d does not decode (%s): dead-lettered (to hub.dlq, through the "
                    "agency's outbox), not delivered", record.topic, record.partition,
                    record.offset, exc.reason)
        return None


def deliver_to_directory(inbox: InboxReader, directory: BatchWriter, *, batch_size: int,
                         batch_seconds: float, once: bool, stop: threading.Event,
                         clock: Callable[[], float] = time.monotonic) -> DeliveryReport:
    """Write the inbox into batch files until ``stop`` is set (or, with ``once``, until
    caught up); pending records are written before returning."""
    report = DeliveryReport()
    pending = PendingBatches(batch_size, batch_seconds)

    def write(partition: int, records: list[ConsumerRecord]) -> None:
        envelopes = [e for r in records if (e := decode_or_dead_letter(inbox, r, report))]
        if envelopes:
            name = directory.write_batch(partition, records[0].offset, records[-1].offset,
                                         render_csv(envelopes))
            report.files += 1
            report.events += len(envelopes)
            FILES_WRITTEN.labels(agency=inbox.agency_id).inc()
            EVENTS_DELIVERED.labels(agency=inbox.agency_id, channel="dir").inc(len(envelopes))
            log.info("wrote %s (%d events)", name.name, len(envelopes))
        inbox.commit({partition: records[-1].offset + 1})

    while not stop.is_set():
        records = inbox.poll(POLL_SECONDS)
        pending.add(records, clock())
        for partition, batch in pending.due(clock()):
            write(partition, batch)
        if once and not records and inbox.caught_up():
            break
    for partition, batch in pending.drain():
        write(partition, batch)
    return report


def deliver_to_webhook(inbox: InboxReader, sender: EventSender, *, once: bool,
                       stop: threading.Event) -> DeliveryReport:
    """Post the inbox's events one by one until ``stop`` is set (or, with ``once``, until
    caught up). An event the receiver refuses blocks the ones after it: offsets never pass
    an undelivered event."""
    report = DeliveryReport()
    while not stop.is_set():
        records = inbox.poll(POLL_SECONDS)
        done: dict[int, int] = {}
        for record in records:
            if stop.is_set():
                break
            envelope = decode_or_dead_letter(inbox, record, report)
            if envelope is not None:
                if not sender.deliver(envelope):
                    report.receiver_failing = True
                    break
                report.events += 1
                EVENTS_DELIVERED.labels(agency=inbox.agency_id, channel="webhook").inc()
            done[record.partition] = record.offset + 1
        if done:
            inbox.commit(done)
            log.info("%d events delivered so far (committed %s)", report.events,
                     ", ".join(f"p{p}@{offset}" for p, offset in sorted(done.items())))
        if report.receiver_failing or (once and not records and inbox.caught_up()):
            break
    return report
