"""The linkage stage in the worker: reads ``hub.linkage`` (the connectors' encodings) and
``hub.linkage.reviews`` (the trust office's decisions), both of one partition, so one
worker decides for every child; writes ``hub.linkage.decisions``, and to ``hub.audit`` the
audit record of every link, possible match and trust office decision (with its operator).

When it takes the partitions over it rebuilds the stage from the compacted topics
(:func:`restore`), then takes records a batch at a time (up to :data:`BATCH` records, or
what came within :data:`WITHIN` seconds), as the router does:

- every record of the batch is decided, one after the other;
- the batch's audit records are sent and acknowledged first, then its decisions: a
  decision on the broker always has its audit record there;
- only then does the batch count as read (Faust commits its offsets). After a crash the
  batch is read again; a pseudonym whose decision was written is only filed, the others
  are decided again.

So a district's first export of 40,000 children costs two round trips to the broker per
batch, not two per child. Encodings that cannot be read are dead-lettered without their
bytes (they are never shown); the pseudonym is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import faust

from hub.clock import Clock
from hub.contract.linkage import EncodingError
from hub.core.topics import (
    AUDIT_TOPIC,
    DLQ_TOPIC,
    LINKAGE_DECISIONS_TOPIC,
    LINKAGE_REVIEWS_TOPIC,
    LINKAGE_TOPIC,
)
from hub.deadletter import worker_dead_letter
from hub.faust.io import raw_topic
from hub.kafka_io import Kafka, latest_values
from hub.linkage.records import LinkDecision, Review
from hub.linkage.stage import LinkageStage, ReviewError
from hub.metrics import (
    DEAD_LETTERS,
    EVENTS_PRODUCED,
    LINKAGE_DECISIONS,
    LINKAGE_OLDEST_PENDING,
    LINKAGE_PENDING,
)

log = logging.getLogger(__name__)
CLIENT_ID = "unna-hub-linkage"
BATCH = 500     # records decided before their outputs are awaited together
WITHIN = 0.05   # seconds a batch waits to fill


def restore(bootstrap: Kafka, stage: LinkageStage) -> int:
    """The stage rebuilt from the three compacted topics; returns the pseudonyms known."""
    def read(topic, parse):
        for raw in latest_values(bootstrap, topic, CLIENT_ID).values():
            try:
                yield parse(raw)
            except ValueError:
                continue  # counted when it was read first
    decisions = list(read(LINKAGE_DECISIONS_TOPIC, LinkDecision.from_bytes))
    encodings = [(key.decode(errors="replace"), value)
                 for key, value in latest_values(bootstrap, LINKAGE_TOPIC,
                                                 CLIENT_ID).items()]
    stage.restore(decisions, encodings, read(LINKAGE_REVIEWS_TOPIC, Review.from_bytes))
    return len(stage.decisions)


def register_linkage(app: faust.App, bootstrap: Kafka, clock: Clock,
                     gauges_every: float = 30.0) -> LinkageStage:
    stage = LinkageStage(clock)
    state = {"ready": False}
    lock = asyncio.Lock()
    source = raw_topic(app, LINKAGE_TOPIC, LINKAGE_REVIEWS_TOPIC, partitions=1)
    dlq = raw_topic(app, DLQ_TOPIC)

    async def ensure_ready() -> None:
        async with lock:
            if state["ready"]:
                return
            known = await asyncio.get_running_loop().run_in_executor(None, restore,
                                                                     bootstrap, stage)
            log.info("linkage: %s pseudonyms known", known)
            state["ready"] = True
            set_gauges(stage, clock)

    @app.agent(source, name="hub.linkage")
    async def link(stream):
        async for events in stream.take_events(BATCH, WITHIN):
            await ensure_ready()
            records, refused = [], []
            # no await in this loop: a revocation cannot reset the stage between two of
            # the batch's decisions
            for event in events:
                try:
                    records += take(stage, event.message)
                except (EncodingError, ReviewError, ValueError) as exc:
                    refused.append((event.message, exc))
            for message, exc in refused:
                await dead_letter(dlq, message, exc, clock)
            await send_in_order(app.producer, records)
            for outcome, n in stage.take_counts().items():
                LINKAGE_DECISIONS.labels(outcome=outcome).inc(n)
            set_gauges(stage, clock)

    @app.timer(interval=gauges_every)
    async def pending_gauges():
        if state["ready"]:
            set_gauges(stage, clock)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        if any(tp.topic == LINKAGE_TOPIC for tp in revoked):
            async with lock:
                state["ready"] = False
                stage.reset()  # rebuilt when the partitions come back
                # another worker reports the cases now: this one's would go stale
                LINKAGE_PENDING.set(0)
                LINKAGE_OLDEST_PENDING.set(0)

    return stage


async def send_in_order(producer, records: list) -> None:
    """Send a batch's ``records``: its audit records first, acknowledged, then the others
    (the decisions), acknowledged; each group handed to the producer without waiting per
    record. A record the broker refuses raises (the agent stops; the batch is read again
    when the worker restarts)."""
    for group in ([r for r in records if r.topic == AUDIT_TOPIC],
                  [r for r in records if r.topic != AUDIT_TOPIC]):
        sent = [await producer.send(r.topic, r.key, r.value, None, None, None)
                for r in group]
        await asyncio.gather(*sent)
        for (topic, kind), n in Counter(
                (r.topic, "audit" if r.topic == AUDIT_TOPIC else "linkage")
                for r in group).items():
            EVENTS_PRODUCED.labels(topic=topic, type=kind).inc(n)


def take(stage: LinkageStage, message) -> list:
    """The records ``message`` (of either topic) makes the stage write."""
    key = (message.key or b"").decode(errors="replace")
    if message.topic == LINKAGE_REVIEWS_TOPIC:
        if message.value is None:
            return []
        return stage.on_review(Review.from_bytes(message.value))
    return stage.on_encodings(key, message.value)


async def dead_letter(dlq, message, exc: Exception, clock: Clock) -> None:
    """What could not be read, with its reason and never its bytes (encodings are not
    shown, and a review names pseudonyms only)."""
    reason = "invalid_review" if message.topic == LINKAGE_REVIEWS_TOPIC else \
        "invalid_encodings"
    DEAD_LETTERS.labels(stage="linkage", reason=reason).inc()
    LINKAGE_DECISIONS.labels(outcome="invalid").inc()
    log.warning("linkage: %s[%s]@%s not taken: %s", message.topic, message.partition,
                message.offset, type(exc).__name__)
    await dlq.send(key=message.topic.encode(), value=worker_dead_letter(
        "linkage", message.topic, message.partition, message.offset, b"",
        [str(exc) if isinstance(exc, ReviewError) else f"not {reason[8:]}: "
         f"{type(exc).__name__}"], at=clock.now(), key=None))
    EVENTS_PRODUCED.labels(topic=DLQ_TOPIC, type="dead_letter").inc()


def set_gauges(stage: LinkageStage, clock: Clock) -> None:
    LINKAGE_PENDING.set(len(stage.pending()))
    LINKAGE_OLDEST_PENDING.set(stage.oldest_pending_age(clock.now()))
