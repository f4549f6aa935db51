"""The router agent: moves bytes between Kafka and the :class:`RoutingEngine`.

It reads every agency outbox (keyed by subject, so one family's events arrive in order on
one partition) and the tick topic; the engine's state lives in Faust tables backed by
changelog topics. Processing is at-least-once (Faust flushes every send before it commits
an offset); what each recipient already has is read from the inboxes whenever the worker
takes over a partition, so each recipient gets each event once, also after a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import faust

from hub.agencies import AgencyDirectory
from hub.clock import Clock
from hub.contract.vocabulary import Municipality, Purpose
from hub.kafka_io import Kafka
from hub.metrics import (
    CONSENTS_ACTIVE,
    EVENT_LATENCY,
    EVENTS_PRODUCED,
    HANDOVERS_OPEN,
    HANDOVERS_OVERDUE,
    HELD,
    PROCESSING_SECONDS,
    READ_AGAIN,
)
from hub.routing.delivered import DeliveredSet, scan_inbox_partition
from hub.routing.engine import Incoming, RoutingEngine
from hub.routing.rules import Router

log = logging.getLogger(__name__)

TICK_TOPIC = "hub.ticks"


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def is_fresh(tick: bytes | None, max_age: float = 5.0) -> bool:
    """A tick sent less than ``max_age`` real seconds ago (one tick does the work of all
    the older ones)."""
    try:
        return time.time() - float(tick or b"0") < max_age
    except ValueError:
        return False


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


def register_flow_guard(app: faust.App, every: float = 5.0,
                        stalled_after: float = 15.0) -> None:
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
    """
    paused_since: dict = {}
    unchanged: dict = {}  # tp -> ((committed, read, end) when first seen so, since)

    @app.timer(interval=every)
    async def keep_partitions_flowing():
        consumer = app.consumer
        paused = set(getattr(consumer, "_buffered_partitions", ()))
        now = time.monotonic()
        for tp in list(paused_since):
            if tp not in paused:
                del paused_since[tp]
        stuck = [tp for tp in paused if now - paused_since.setdefault(tp, now) > every]
        if stuck:
            log.warning("fetching again from %s partitions Faust left paused", len(stuck))
            for tp in stuck:
                consumer.on_buffer_drop(tp)
                paused_since.pop(tp, None)

        committed = getattr(consumer, "_committed_offset", {})
        read = getattr(consumer, "_read_offset", {})
        tps = [tp for tp in consumer.assignment()
               if not tp.topic.endswith("-changelog") and tp not in paused]
        try:
            ends = await consumer.highwaters(*tps) if tps else {}
        except Exception as exc:  # a broker hiccup: look again next time
            log.debug("end offsets not read: %s", exc)
            return
        for tp in list(unchanged):
            if tp not in tps:
                del unchanged[tp]
        for tp in tps:
            offsets = (committed.get(tp), read.get(tp), ends.get(tp))
            before, since = unchanged.get(tp, (None, now))
            if not stalled_partition(before, offsets):
                unchanged[tp] = (offsets, now)
                continue
            if now - since < stalled_after:
                continue
            done, _read, end = offsets
            log.warning("%s[%s]: the commit has stood at %s for %.0f s with records up to "
                        "%s left; reading them again", tp.topic, tp.partition, done or 0,
                        now - since, end - 1)
            unchanged.pop(tp, None)
            READ_AGAIN.labels(topic=tp.topic, cause="stalled_commit").inc()
            if done is None:  # back to what the group committed, for every partition
                await consumer.perform_seek()
            else:
                await consumer.seek(tp, done)

def register_router(app: faust.App, agencies: AgencyDirectory, router: Router, clock: Clock,
                    bootstrap: Kafka, hold_window: timedelta,
                    dedupe_retention: timedelta) -> RoutingEngine:
    delivered = DeliveredSet(dedupe_retention)
    engine = RoutingEngine(
        agencies, router, clock, hold_window, delivered,
        consents=app.Table("consents", default=None),
        held=app.Table("held", default=None),
        handovers=app.Table("handover_tracker", default=None),
        families=app.Table("handover_families", default=None),
    )
    inbox_names = {a.inbox: a.id for a in agencies.exchanging()}
    topics: dict[str, faust.TopicT] = {}
    scanned: set[int] = set()
    sources = _raw_topic(app, *[a.outbox for a in agencies.exchanging()], TICK_TOPIC)
    ticks = _raw_topic(app, TICK_TOPIC)

    async def ensure_scanned(partition: int) -> None:
        """Learn what the inboxes hold for ``partition`` before deciding anything on it."""
        if partition in scanned:
            return
        loop = asyncio.get_running_loop()
        read = await loop.run_in_executor(None, scan_inbox_partition, bootstrap, inbox_names,
                                          partition, delivered)
        scanned.add(partition)
        log.info("partition %s: %s inbox records read, %s deliveries known", partition, read,
                 len(delivered))

    async def send_all(outputs) -> None:
        for output in outputs:
            topic = topics.get(output.topic) or topics.setdefault(
                output.topic, _raw_topic(app, output.topic))
            await topic.send(key=output.key, value=output.value,
                             headers=list(output.headers) or None)
            EVENTS_PRODUCED.labels(topic=output.topic, type=output.type or "record").inc()

    processed = [0]

    @app.agent(sources, name="hub.router")
    async def route(stream):
        async for event in stream.events():
            message = event.message
            await ensure_scanned(message.partition)
            processed[0] += 1
            if processed[0] % 1000 == 0:
                log.info("%s messages processed", processed[0])
            started = time.monotonic()
            if message.topic == TICK_TOPIC:
                if is_fresh(event.value):  # a backlog of old ticks after a restart: skip
                    await send_all(engine.expire(message.partition))
                    HELD.set(engine.held_count())
            else:
                await send_all(engine.process(Incoming(message.topic, message.partition,
                                                       message.offset, event.value,
                                                       event.key, message.headers)))
            took = time.monotonic() - started
            if message.topic != TICK_TOPIC:
                PROCESSING_SECONDS.observe(took)
                if message.timestamp:  # the broker's record time, in seconds
                    EVENT_LATENCY.observe(max(0.0, time.time() - message.timestamp))
            if took > 1.0:
                log.warning("%s[%s]@%s took %.1f s", message.topic, message.partition,
                            message.offset, took)

    @app.timer(interval=15.0)
    async def count_state():
        """The consents in force per purpose, and the open and overdue handovers per town
        (every purpose and town, so that a count can drop to 0)."""
        counts = engine.active_consents()
        for purpose in Purpose:
            CONSENTS_ACTIVE.labels(purpose=purpose.value).set(counts.get(purpose.value, 0))
        mine = {tp.partition for tp in app.consumer.assignment()
                if tp.topic.endswith(".outbox")}
        handovers = engine.tracker.open_and_overdue(mine, engine.clock.now())
        for town in Municipality:
            n_open, n_overdue = handovers.get(town.value, (0, 0))
            HANDOVERS_OPEN.labels(municipality=town.value).set(n_open)
            HANDOVERS_OVERDUE.labels(municipality=town.value).set(n_overdue)

    @app.timer(interval=1.0)
    async def tick():
        """A tick a second on every partition: held events expire even without traffic."""
        sent_at = str(time.time()).encode()
        for partition in range(app.conf.topic_partitions):
            await ticks.send(value=sent_at, partition=partition)

    register_flow_guard(app)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        scanned.difference_update(tp.partition for tp in revoked)
        for tp in revoked:
            engine.tracker.forget_partition(tp.partition)

    return engine
