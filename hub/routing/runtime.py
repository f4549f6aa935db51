"""The router's runtime: drives the pure handlers (:class:`~hub.routing.bus.RouterBus`) from
Kafka, a batch at a time.

One object owns everything the router does with Kafka:

- the **dispatch**: each record becomes an input of its kind (an outbox record, a tick of a
  partition, an erasure request with what the child's inbox partition holds), which the bus
  hands to its handler; the runtime only writes the outputs;
- the **stores**: the handlers' tables seen through :class:`BatchedStore`, so that each key a
  batch changes is written once (one changelog record), at the checkpoint;
- the **batch loop**: up to ``batch_size`` records (or what came within ``batch_within``
  seconds) are decided one after the other, each message's outputs handed to the producer
  without waiting for them;
- the **checkpoint**: the batch's state is written, then every output of the batch is
  awaited until the broker acknowledged it; only then are the batch's records acknowledged
  to Faust, which commits their offsets (flushing the producer, changelogs included,
  before it commits). A crash before the checkpoint means the batch is read again; what
  each inbox already holds is known (:mod:`hub.routing.delivered`), so nothing reaches a
  recipient twice;
- the **error boundary**: a message on which a handler raises is dead-lettered with its
  reason, everything it changed is taken back (:class:`Journal`), and the router goes on;
- the **metrics** of what was sent (the flow guard is :class:`hub.faust.flow_guard.FlowGuard`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from hub.clock import HeldClock
from hub.core.topics import REQUESTS_TOPIC, TICK_TOPIC
from hub.faust.batch_send import BatchSender, Chunk
from hub.kafka_io import Kafka
from hub.metrics import (
    EVENT_LATENCY,
    EVENTS_PRODUCED,
    HELD,
    PROCESSING_SECONDS,
    ROUTER_SECONDS,
    record_counts,
)
from hub.routing.bus import Input, RouterBus
from hub.routing.delivered import DeliveredTable
from hub.routing.inbox_scan import inbox_records_of, scan_inbox_partition
from hub.routing.messages import Erasure, Incoming, Output, Tick
from hub.routing.store import BatchedStore, Journal

log = logging.getLogger(__name__)

SEND_RETRY_SECONDS = (0.5, 1, 2, 5, 10)


def is_fresh(tick: bytes | None, max_age: float = 5.0) -> bool:
    """A tick sent less than ``max_age`` real seconds ago (one tick does the work of all
    the older ones)."""
    try:
        return time.time() - float(tick or b"0") < max_age
    except ValueError:
        return False


class RouterRuntime:
    """The router's batch loop around one :class:`RouterBus` (see the module doc)."""

    def __init__(self, app, bus: RouterBus, stores: Sequence[BatchedStore],
                 journal: Journal, bootstrap: Kafka, inboxes: dict[str, str], *,
                 batch_size: int = 1000, batch_within: float = 0.05, delay: float = 0.0):
        self.app = app
        self.delay = delay  # HUB_ROUTER_DELAY_MS: a slow router, for drills and tests
        self.bus = bus
        self.delivered = bus.stores.delivered
        self.stores = list(stores)
        clock = getattr(getattr(bus, "services", None), "clock", None)
        self.held_clock = clock if isinstance(clock, HeldClock) else None
        """The handlers' clock, held for each message (:class:`~hub.clock.HeldClock`)."""
        self.journal = journal
        self.bootstrap = bootstrap
        self.inboxes = inboxes  # inbox topic -> recipient
        self.batch_size = batch_size
        self.batch_within = batch_within
        self.scanned: set[int] = set()
        self.scan_reads: dict[int, int] = {}  # partition -> inbox records its last scan read
        self.counts: Counter = Counter()  # what the handlers counted in this batch
        self.processed = 0
        self.batches = 0
        self.last_batch = time.monotonic()
        self.in_batch = False
        self.seen: dict[tuple[str, int], int] = {}
        """(topic, partition) -> the highest offset of a batch the router has finished
        (decided, every output acknowledged)."""
        self.tables = {store.table.topic: store.table for store in self._all_stores()
                       if hasattr(store.table, "take_changelog")}
        """Changelog topic -> the table (:class:`~hub.routing.tables.ChangelogTable`)."""
        self._trailing: list[Chunk] = []
        self.sender = BatchSender(app)
        self.ack_wait = 0.0  # seconds the current batch waited for acknowledgements
        self.phases: Counter = Counter()
        """Seconds of the batch loop per phase since the last progress line (deciding,
        acknowledgements, input); the metric ``hub_router_seconds_total`` has them all."""

    # ------------------------------------------------------------ the loop
    async def consume(self, stream) -> None:
        """The agent's body: every batch of the stream, to its checkpoint."""
        waited = time.monotonic()
        async for events in stream.take_events(self.batch_size, self.batch_within):
            self._phase("input", time.monotonic() - waited)
            await self.process_batch(events)
            waited = time.monotonic()

    def _phase(self, phase: str, seconds: float) -> None:
        self.phases[phase] += seconds
        ROUTER_SECONDS.labels(phase=phase).inc(seconds)

    async def process_batch(self, events: Sequence) -> None:
        self.in_batch = True  # busy, however long the batch takes: not idle (FlowGuard)
        try:
            await self._process_batch(events)
        finally:
            self.in_batch = False
            self.last_batch = time.monotonic()

    async def _process_batch(self, events: Sequence) -> None:
        started = time.monotonic()
        self.ack_wait = 0.0
        await self._decide_batch(events)
        self._phase("deciding", time.monotonic() - started - self.ack_wait)
        self._phase("acknowledgements", self.ack_wait)
        self._progress(events)

    async def _decide_batch(self, events: Sequence) -> None:
        """Decide ``events`` and send their outputs, up to the checkpoint."""
        for store in self._all_stores():
            store.forget_reads()
        first_of_partition: dict[int, object] = {}
        for e in events:
            first_of_partition.setdefault(e.message.partition, e)
        await self._ensure_scanned(first_of_partition)
        pending: list[Chunk] = []
        decided: list[Output] = []  # handed to the producer together (BatchSender)
        last_of_partition: dict[int, object] = {}
        ticked: set[int] = set()
        for event in events:
            message = event.message
            last_of_partition[message.partition] = event
            if message.topic == TICK_TOPIC:
                if is_fresh(event.value):  # a backlog of old ticks after a restart: skip
                    ticked.add(message.partition)
                continue
            incoming = Incoming(message.topic, message.partition, message.offset,
                                event.value, event.key, message.headers)
            started = time.monotonic()
            if message.topic == REQUESTS_TOPIC:  # an erasure: what the inboxes hold first
                await self._acked(pending + await self._send(decided))
                pending, decided = [], []
                inbox = await self._inbox_of(message.partition, event.key)
                outputs = self._handle(incoming, Erasure(incoming, inbox))
            else:
                outputs = self._handle(incoming, incoming)
            if self.delay:
                time.sleep(self.delay)  # blocks the event loop, as a slow rule would
            took = time.monotonic() - started
            PROCESSING_SECONDS.observe(took)
            if took > 1.0:
                log.warning("%s[%s]@%s took %.1f s", message.topic, message.partition,
                            message.offset, took)
            decided += outputs
            if message.timestamp:  # the broker's record time, in seconds
                EVENT_LATENCY.observe(max(0.0, time.time() - message.timestamp))
        for partition in ticked:
            decided += self._handle(None, Tick(partition), partition=partition)
        self._checkpoint_state()
        pending += await self._send(decided + self._changelog())
        pending += self._trailing
        self._trailing = []
        await self._acked(pending)
        self._flush_delivered(last_of_partition)
        # the deliveries' entries and checkpoints: awaited with the next batch, before the
        # checkpoints that rely on them are written (Faust's commit flushes them anyway)
        self._trailing = await self._send(self._changelog())
        record_counts(self.counts)
        self.counts.clear()
        if ticked:
            HELD.set(self.bus.held_count())
        seen = self.seen
        for event in events:
            tp = (event.message.topic, event.message.partition)
            if event.message.offset > seen.get(tp, -1):
                seen[tp] = event.message.offset

    def _progress(self, events: Sequence) -> None:
        """Count the batch; every 1,000 messages a line with where the loop's time went."""
        self.processed += sum(1 for e in events if e.message.topic != TICK_TOPIC)
        self.batches += 1
        if self.processed // 1000 != (self.processed - len(events)) // 1000:
            total = sum(self.phases.values()) or 1.0
            log.info("%s messages processed in %s batches (since the last line: deciding "
                     "%.0f %%, waiting for acknowledgements %.0f %%, for input %.0f %%)",
                     self.processed, self.batches,
                     *(100 * self.phases[p] / total
                       for p in ("deciding", "acknowledgements", "input")))
            self.phases.clear()

    # ------------------------------------------------------------ steps
    def _handle(self, incoming: Incoming | None, message: Input,
                partition: int | None = None) -> list[Output]:
        """The outputs of one input (``incoming``: the record it came in, None for a tick);
        on an error, none of its changes and a dead letter instead. The stores read and
        write the message's partition."""
        for store in self._all_stores():
            store.partition = incoming.partition if incoming else partition
        mark = self.journal.mark()
        clock = self.held_clock
        if clock is not None:
            clock.hold()  # one time for everything the message decides
        try:
            outputs = self.bus.handle(message)
            self.counts.update(self.bus.take_counts())
            return outputs
        except Exception as exc:  # the error boundary: one message, not the router
            self.journal.undo(mark)
            self.bus.take_counts()  # what it counted did not happen
            if incoming is None:
                log.exception("expiring partition %s failed; tried again on the next tick",
                              partition)
                return []
            log.exception("%s[%s]@%s could not be routed; dead-lettered", incoming.topic,
                          incoming.partition, incoming.offset)
            letter = self.bus.dead_letter(
                incoming, [f"internal error of the router: {type(exc).__name__}: {exc}"],
                "internal_error")
            self.counts.update(self.bus.take_counts())
            return [letter]
        finally:
            if clock is not None:
                clock.release()
            self.journal.clear()

    def _all_stores(self) -> list[BatchedStore]:
        delivered = self.delivered
        if isinstance(delivered, DeliveredTable):
            return [*self.stores, delivered.store]
        return self.stores

    def _flush_delivered(self, partitions: Iterable[int]) -> None:
        """After the batch's outputs were acknowledged: write its deliveries, and the inbox
        checkpoints of the batch before (see :class:`DeliveredTable`)."""
        delivered = self.delivered
        if isinstance(delivered, DeliveredTable):
            for partition in partitions:
                delivered.flush(partition)

    async def _send(self, outputs: Iterable[Output]) -> list[Chunk]:
        """Hand ``outputs`` to the producer, a partition batch at a time; returns their
        chunks (not awaited)."""
        return await self.sender.send(outputs)

    def _checkpoint_state(self) -> None:
        """Write each key the batch changed once, to the changelog partition of the
        messages that changed it."""
        for store in self.stores:
            store.flush()

    def _changelog(self) -> list[Output]:
        """The changelog records the tables queued since the last call."""
        return [Output(table.topic, key, value, type="changelog", partition=partition)
                for table in self.tables.values()
                for key, value, partition in table.take_changelog()]

    async def _acked(self, pending: list[Chunk]) -> None:
        """:meth:`_await_acks`, its time counted as waiting for acknowledgements."""
        started = time.monotonic()
        try:
            await self._await_acks(pending)
        finally:
            self.ack_wait += time.monotonic() - started

    async def _await_acks(self, pending: list[Chunk]) -> None:
        """Wait until the broker acknowledged every output; a refused one is sent again
        (the batch is not acknowledged before all are in)."""
        persisted: dict[tuple[str, int], int] = {}
        produced: Counter = Counter()  # (topic, type) -> records acknowledged
        for attempt in range(len(SEND_RETRY_SECONDS) + 1):
            results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
            failed = [(out, exc) for (outs, _), exc in zip(pending, results, strict=True)
                      if isinstance(exc, BaseException) for out in outs]
            for (outputs, _), result in zip(pending, results, strict=True):
                if not isinstance(result, BaseException):
                    self._acknowledged(outputs, result, persisted, produced)
            for (topic, kind), n in produced.items():  # counted once per batch and kind
                EVENTS_PRODUCED.labels(topic=topic, type=kind or "record").inc(n)
            produced.clear()
            if not failed:
                for (topic, partition), offset in persisted.items():
                    self.tables[topic].persisted(partition, offset)
                return
            if attempt == len(SEND_RETRY_SECONDS):
                raise RuntimeError(f"{len(failed)} records not acknowledged by the broker "
                                   f"after {attempt + 1} attempts (first: {failed[0][1]!r})")
            log.warning("%s records not acknowledged (%r); sending them again in %s s",
                        len(failed), failed[0][1], SEND_RETRY_SECONDS[attempt])
            await asyncio.sleep(SEND_RETRY_SECONDS[attempt])
            pending = await self._send(out for out, _ in failed)

    def _acknowledged(self, outputs: list[Output], result, persisted: dict, produced: Counter
                      ) -> None:
        """Note what the broker acknowledged: ``outputs`` from ``result.offset`` on (None:
        offsets unknown) in ``result.partition``."""
        first = getattr(result, "offset", None)
        checkpoints = isinstance(self.delivered, DeliveredTable)
        for i, output in enumerate(outputs):
            offset = None if first is None else first + i
            if output.type == "changelog":
                if offset is not None:
                    tp = (output.topic, result.partition)
                    persisted[tp] = max(offset, persisted.get(tp, -1))
                continue
            produced[(output.topic, output.type)] += 1
            if checkpoints and output.topic in self.inboxes and offset is not None:
                self.delivered.acknowledged(output.topic, result.partition, offset + 1)

    async def _ensure_scanned(self, event_of_partition: dict[int, object]) -> None:
        """Learn what the inboxes hold for each partition before deciding anything on it:
        with a :class:`DeliveredTable`, only what came after its checkpoints, for every
        partition of the batch at the same time."""
        loop = asyncio.get_running_loop()
        delivered = self.delivered
        missing = sorted(set(event_of_partition) - self.scanned)
        if isinstance(delivered, DeliveredTable):  # all at once (a worker's start)
            await asyncio.gather(*(self._scan_from_checkpoints(p) for p in missing))
            self.scanned.update(missing)
            return
        for partition in missing:  # everything, into memory
            started = time.monotonic()
            read, _ends = await loop.run_in_executor(
                None, scan_inbox_partition, self.bootstrap, self.inboxes, partition,
                delivered)
            self.scanned.add(partition)
            log.info("partition %s: %s inbox records read in %.1f s, %s deliveries known",
                     partition, read, time.monotonic() - started, len(delivered))

    async def _inbox_of(self, partition: int, key: bytes | None) -> list[tuple[str, bytes]]:
        """What every inbox's ``partition`` holds keyed by ``key`` (a pseudonym), read
        from the beginning: for an erasure, which is rare; the partition waits meanwhile."""
        subject = (key or b"").decode(errors="replace")
        if not subject:
            return []
        started = time.monotonic()
        found = await asyncio.get_running_loop().run_in_executor(
            None, inbox_records_of, self.bootstrap, self.inboxes, partition, subject)
        log.info("partition %s: an erasure request; %s inbox records of the child found in "
                 "%.1f s", partition, len(found), time.monotonic() - started)
        return found

    async def _scan_from_checkpoints(self, partition: int) -> None:
        delivered = self.delivered
        started = time.monotonic()
        delivered.store.partition = partition
        starts = {topic: delivered.checkpoint(topic, partition) or 0
                  for topic in self.inboxes}
        found: list[tuple[str, str, object]] = []
        collector = type("Collector", (), {"add": staticmethod(
            lambda recipient, event_id, at: found.append((recipient, event_id, at)))})
        read, ends = await asyncio.get_running_loop().run_in_executor(
            None, scan_inbox_partition, self.bootstrap, self.inboxes, partition,
            collector, starts)
        delivered.store.partition = partition
        for recipient, event_id, at in found:  # written with the batch's deliveries
            delivered.add(recipient, event_id, at)
        for topic, end in ends.items():
            delivered.acknowledged(topic, partition, end)
        self.scan_reads[partition] = read
        log.info("partition %s: %s inbox records read in %.1f s (from the checkpoints, "
                 "%s records below them not read again)", partition, read,
                 time.monotonic() - started, sum(starts.values()))

    def revoked(self, partitions: Iterable[int]) -> None:
        """Partitions moved to another worker: what was learnt about them is dropped."""
        partitions = set(partitions)
        for partition in partitions:
            self.scanned.discard(partition)
        self.seen = {tp: o for tp, o in self.seen.items() if tp[1] not in partitions}
        for partition in partitions:
            self.bus.stores.handovers.forget_partition(partition)
            self.bus.stores.held.forget_partition(partition)
            if isinstance(self.delivered, DeliveredTable):
                self.delivered.forget(partition)
