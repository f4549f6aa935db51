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
- the **metrics** of what was sent, and the **flow guard** (:class:`FlowGuard`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from hub.core.topics import REQUESTS_TOPIC, TICK_TOPIC
from hub.faust_fixes import GAPS
from hub.kafka_io import Kafka
from hub.metrics import (
    EVENT_LATENCY,
    EVENTS_PRODUCED,
    HELD,
    PROCESSING_SECONDS,
    READ_AGAIN,
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
        self._trailing: list[tuple[Output, asyncio.Future]] = []

    # ------------------------------------------------------------ the loop
    async def consume(self, stream) -> None:
        """The agent's body: every batch of the stream, to its checkpoint."""
        async for events in stream.take_events(self.batch_size, self.batch_within):
            await self.process_batch(events)

    async def process_batch(self, events: Sequence) -> None:
        self.in_batch = True  # busy, however long the batch takes: not idle (FlowGuard)
        try:
            await self._process_batch(events)
        finally:
            self.in_batch = False
            self.last_batch = time.monotonic()

    async def _process_batch(self, events: Sequence) -> None:
        first_of_partition: dict[int, object] = {}
        for e in events:
            first_of_partition.setdefault(e.message.partition, e)
        await self._ensure_scanned(first_of_partition)
        pending: list[tuple[Output, asyncio.Future]] = []
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
                await self._await_acks(pending)
                pending = []
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
            pending += await self._send(outputs)
            if message.timestamp:  # the broker's record time, in seconds
                EVENT_LATENCY.observe(max(0.0, time.time() - message.timestamp))
        for partition in ticked:
            outputs = self._handle(None, Tick(partition), partition=partition)
            pending += await self._send(outputs)
        self._checkpoint_state()
        pending += await self._send(self._changelog())
        pending += self._trailing
        self._trailing = []
        await self._await_acks(pending)
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
        self.processed += sum(1 for e in events if e.message.topic != TICK_TOPIC)
        self.batches += 1
        if self.processed // 1000 != (self.processed - len(events)) // 1000:
            log.info("%s messages processed in %s batches", self.processed, self.batches)

    # ------------------------------------------------------------ steps
    def _handle(self, incoming: Incoming | None, message: Input,
                partition: int | None = None) -> list[Output]:
        """The outputs of one input (``incoming``: the record it came in, None for a tick);
        on an error, none of its changes and a dead letter instead. The stores read and
        write the message's partition."""
        for store in self._all_stores():
            store.partition = incoming.partition if incoming else partition
        mark = self.journal.mark()
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

    async def _send(self, outputs: Iterable[Output]) -> list[tuple[Output, asyncio.Future]]:
        """Hand ``outputs`` to the producer; returns their delivery futures (not awaited)."""
        send = self.app.producer.send
        futures = []
        for output in outputs:
            future = await send(output.topic, output.key, output.value, output.partition,
                                None, list(output.headers) or None)
            futures.append((output, future))
        return futures

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

    async def _await_acks(self, pending: list[tuple[Output, asyncio.Future]]) -> None:
        """Wait until the broker acknowledged every output; a refused one is sent again
        (the batch is not acknowledged before all are in)."""
        delivered = self.delivered
        checkpoints = isinstance(delivered, DeliveredTable)
        persisted: dict[tuple[str, int], int] = {}
        for attempt in range(len(SEND_RETRY_SECONDS) + 1):
            results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
            failed = [(out, exc) for (out, _), exc in zip(pending, results, strict=True)
                      if isinstance(exc, BaseException)]
            for (output, _), result in zip(pending, results, strict=True):
                if isinstance(result, BaseException):
                    continue
                offset = getattr(result, "offset", None)
                if output.type == "changelog":
                    if offset is not None:
                        tp = (output.topic, result.partition)
                        persisted[tp] = max(offset, persisted.get(tp, -1))
                    continue
                EVENTS_PRODUCED.labels(topic=output.topic, type=output.type or "record").inc()
                if checkpoints and output.topic in self.inboxes and offset is not None:
                    delivered.acknowledged(output.topic, result.partition, offset + 1)
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
            if isinstance(self.delivered, DeliveredTable):
                self.delivered.forget(partition)


class FlowGuard:
    """Work around two Faust flow-control flaws that stall a stream with lag left.

    1. When a stream's buffer fills up (a backlog after a restart), Faust stops fetching
       from the partitions that filled it and does not always fetch from them again once
       the buffer has drained. A partition left paused for more than ``every`` seconds is
       fetched from again; if its buffer is still full, Faust pauses it again.
    2. When the consumer group rebalances while Faust hands records to a stream (a worker
       that was killed leaves the group late), Faust can drop a record it has counted as
       read, so its offset is never acknowledged and the commit stops there, or drop the
       rest of a fetched batch that the Kafka client has moved past, so the stream never
       gets it. Either way the partition's commit stops at the missing record
       (:mod:`hub.faust_fixes` keeps Faust from committing over it). A partition whose
       commit stood still for ``stalled_after`` seconds while records are left is read
       again from its committed offset. Nothing is lost, and nothing is delivered twice
       (the router knows what each inbox holds; handover steps and analytics facts that
       are seen again change nothing).

    A partition that is only slow looks much the same from the offsets alone, and reading
    it again would only add work; the guard reads a partition again only when it is stuck:

    - the router finished a batch with a record of it at or after the standing commit: the
      record at the commit never reached the router (a hole), however busy the worker is;
    - otherwise a read position that moved since the last check is progress;
    - records handed to a stream and not yet acknowledged (read beyond the commit) are
      being worked on: stuck only when the router has had nothing to do for ``every``
      seconds, not while it works on a long batch (for the router's topics; another
      agent's, e.g. the analytics', are left alone);
    - nothing handed to a stream (read not beyond the commit) while records wait at the
      broker, for ``stalled_after`` seconds: the fetcher does not fetch it.

    A partition is read again in two steps, never while records of it are on their way to
    the stream: it is paused first (Faust fetches nothing more for it), and once its read
    position stood still for ``every`` seconds (what was fetched before has reached the
    stream) it is moved back to its committed offset through Faust's own consumer thread
    (``seek_wait``, which also resets Faust's read offset) and resumed. Seeking at once would
    race with a fetched batch still on its way: its later records arrive after the seek and
    move Faust's read offset past the records read again, which Faust then drops as old, so
    the record at the commit never comes and the partition is read again and again.
    Whatever goes wrong in a check is logged, and the next check runs as usual.
    """

    def __init__(self, app, every: float = 5.0, stalled_after: float = 15.0,
                 runtime: RouterRuntime | None = None):
        self.app = app
        self.runtime = runtime
        self.every = every
        self.stalled_after = stalled_after
        self.paused_since: dict = {}
        self.unchanged: dict = {}  # tp -> ((committed, read, end) when first seen so, since)
        self.last_read: dict = {}  # tp -> the read offset at the last check
        self.rereading: dict = {}  # tp -> (offset to read again from, read offset, since)

    async def check(self) -> None:
        try:
            await self._check()
        except Exception:  # never take the worker down; the next check looks again
            log.exception("the flow guard's check failed; it runs again in %.0f s",
                          self.every)

    async def _check(self) -> None:
        consumer = self.app.consumer
        now = time.monotonic()
        await self._finish_rereads(consumer, now)
        paused = set(consumer._buffered_partitions) - set(self.rereading)
        for tp in list(self.paused_since):
            if tp not in paused:
                del self.paused_since[tp]
        stuck = [tp for tp in paused
                 if now - self.paused_since.setdefault(tp, now) > self.every]
        if stuck:
            log.warning("fetching again from %s partitions Faust left paused", len(stuck))
            for tp in stuck:
                consumer.on_buffer_drop(as_tp(tp))
                self.paused_since.pop(tp, None)

        committed, read = consumer._committed_offset, consumer._read_offset
        self._reread_gaps(consumer, committed, read, now)
        tps = [tp for tp in consumer.assignment()
               if not tp.topic.endswith("-changelog") and tp not in paused
               and tp not in self.rereading]
        try:
            ends = await consumer.highwaters(*tps) if tps else {}
        except Exception as exc:  # a broker hiccup: look again next time
            log.debug("end offsets not read: %s", exc)
            return
        for tp in list(self.unchanged):
            if tp not in tps:
                del self.unchanged[tp]
                self.last_read.pop(tp, None)
        for tp in tps:
            offsets = (committed.get(tp), read.get(tp), ends.get(tp))
            read_moved = self.last_read.get(tp, offsets[1]) != offsets[1]
            self.last_read[tp] = offsets[1]
            before, since = self.unchanged.get(tp, (None, now))
            if not stalled_partition(before, offsets):
                self.unchanged[tp] = (offsets, now)
                continue
            if now - since < self.stalled_after or \
                    not self._stuck(tp, offsets[0], offsets[1], read_moved, now):
                continue
            done, _read, end = offsets
            log.warning("%s[%s]: the commit has stood at %s for %.0f s with records up to "
                        "%s left; reading them again", tp.topic, tp.partition, done or 0,
                        now - since, end - 1)
            READ_AGAIN.labels(topic=tp.topic, cause="stalled_commit").inc()
            self._begin_reread(consumer, tp, done, offsets[1], now)

    def _reread_gaps(self, consumer, committed, read, now: float) -> None:
        """Records Faust skipped on a gapless topic (:data:`hub.faust_fixes.GAPS`): the
        partition is read again from its commit at once, without waiting for the commit
        to stand still."""
        assigned = consumer.assignment()
        for tp in list(GAPS):
            first, end = GAPS.pop(tp)
            if tp not in assigned or tp in self.rereading:
                continue
            done = committed.get(tp)
            if done is not None and done >= end:
                continue  # read again already, and committed past it
            log.info("%s[%s]: reading again from %s (records from %s did not reach the "
                     "stream)", tp.topic, tp.partition, done or 0, first)
            self._begin_reread(consumer, tp, done, read.get(tp), now)

    def _begin_reread(self, consumer, tp, done: int | None, read: int | None,
                      now: float) -> None:
        """The first step of reading ``tp`` again from ``done``: pause it (nothing more is
        fetched); :meth:`_finish_rereads` seeks once what was fetched before has come."""
        self.unchanged.pop(tp, None)
        consumer.on_buffer_full(as_tp(tp))
        self.rereading[tp] = (done, read, now)

    async def _finish_rereads(self, consumer, now: float) -> None:
        """Seek the paused partitions whose read position stood still for ``every``
        seconds back to their commit, and fetch from them again."""
        assigned = consumer.assignment()
        for tp, (done, read_then, since) in list(self.rereading.items()):
            if tp not in assigned:
                del self.rereading[tp]
                continue
            read_now = consumer._read_offset.get(tp)
            if read_now != read_then:  # fetched records still arriving at the stream
                self.rereading[tp] = (done, read_now, now)
                continue
            if now - since < self.every:
                continue
            del self.rereading[tp]
            if done is None:  # back to what the group committed, for every partition
                await consumer.perform_seek()
            else:  # in the consumer's own thread, like Faust's own seeks
                await consumer.seek_wait({tp: done})
            consumer.on_buffer_drop(as_tp(tp))

    def _stuck(self, tp, committed: int | None, read: int | None, read_moved: bool,
               now: float) -> bool:
        """Not merely slow (see the class doc)."""
        runtime = self.runtime
        key = (tp.topic, tp.partition)
        if runtime is not None and committed is not None and \
                runtime.seen.get(key, -1) >= committed:
            return True  # the router finished a later record: this one never came
        if read_moved:
            return False
        if read is not None and read >= (committed or 0):  # handed over, being worked on
            routed = tp.topic.endswith(".outbox") or tp.topic in (TICK_TOPIC, REQUESTS_TOPIC)
            idle = not getattr(runtime, "in_batch", False) and \
                now - getattr(runtime, "last_batch", now) >= self.every
            return runtime is None or (routed and idle)
        return True


def as_tp(tp):
    """Faust's own TP for ``tp``: its consumer asserts that type in the sets the guard
    changes (a Kafka client's TopicPartition there would crash the fetcher)."""
    from faust.types import TP

    return tp if type(tp) is TP else TP(tp.topic, tp.partition)


def stalled_partition(before: tuple | None, now: tuple) -> bool:
    """A partition with records left whose commit stands still: ``now`` and ``before``
    are (committed, read, end) offsets one check apart; ``committed`` (the next offset to
    process; None: nothing committed since the worker took the partition over) is behind
    ``end`` and did not move since the last check (while nothing is committed, nothing
    was read either)."""
    committed, read, end = now
    if before is None or end is None or end <= (committed or 0):
        return False
    if committed is None:
        return read is None and before[1] is None
    return before[0] == committed
