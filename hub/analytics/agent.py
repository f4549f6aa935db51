"""The analytics agent: reads the router's facts and publishes the anonymous cells.

``hub.facts`` has one partition, so one worker aggregates everything. When it takes the
partition over it reads the whole (compacted) topic to rebuild the aggregates and what the
analytics topics already hold, then applies new facts as they come; facts are upserts, so
reading one twice changes nothing. Changed cells are published every
``HUB_ANALYTICS_PUBLISH_SECONDS``, keyed by cell, to the compacted analytics topics.

An erasure marker (``erasure|<id>``, see :mod:`hub.analytics.erasure`) is no fact: the agent
carries it out when it reaches it (markers a takeover finds without their tombstone, right
after the rebuild), by rewriting the erased child's facts with a token instead of the
pseudonym. The pseudonym is never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import faust

from hub.analytics.aggregate import Aggregator
from hub.analytics.erasure import ErasureError, erasure_records, parse_marker, redact
from hub.analytics.facts import ERASURE, FACTS_TOPIC, decode_fact
from hub.analytics.records import RECORD_OF_TOPIC, decode_record, encode_record
from hub.clock import Clock
from hub.deadletter import DLQ_TOPIC, worker_dead_letter
from hub.errors import DecodeError
from hub.faust.io import raw_topic
from hub.kafka_io import Kafka, read_to_end
from hub.metrics import ANALYTICS_CELLS, ANALYTICS_FACTS, DEAD_LETTERS, EVENTS_PRODUCED

log = logging.getLogger(__name__)


PendingMarker = tuple[bytes, int, bytes]
"""An erasure marker not yet carried out: (key, offset, value)."""


def replay(records: Iterable, aggregator: Aggregator) -> tuple[int, int, list[PendingMarker]]:
    """Apply the records of ``hub.facts`` (kafka-python ``ConsumerRecord``s or anything with
    ``offset``, ``key`` and ``value``) in topic order: facts, tombstones, and erasure
    markers, which are no facts. Returns (facts applied, the offset read up to, the
    markers without a later tombstone, in topic order)."""
    facts = end = 0
    pending: dict[bytes, tuple[int, bytes]] = {}
    for record in records:
        end = record.offset + 1
        key = record.key or b""
        kind, _, fact_id = key.decode(errors="replace").partition("|")
        if kind == ERASURE:
            if record.value is None:
                pending.pop(key, None)  # carried out
            else:
                pending[key] = (record.offset, record.value)
        elif record.value is None:
            aggregator.remove(kind, fact_id)
        else:
            fact = decode_fact(record.value)
            if fact is not None:
                facts += aggregator.apply(fact)
    markers = sorted(((key, offset, value) for key, (offset, value) in pending.items()),
                     key=lambda marker: marker[1])
    return facts, end, markers


def rebuild(bootstrap: Kafka, aggregator: Aggregator) \
        -> tuple[int, int, int, list[PendingMarker]]:
    """Rebuild ``aggregator`` from the facts topic and tell it what the analytics topics
    hold; returns (facts read, cells known, the facts offset read up to, the erasure
    markers still to carry out)."""
    facts, end, markers = replay(read_to_end(bootstrap, FACTS_TOPIC, "unna-hub-analytics"),
                                 aggregator)
    cells = 0
    for topic in RECORD_OF_TOPIC:
        for record in read_to_end(bootstrap, topic, "unna-hub-analytics"):
            try:
                aggregator.seed_published(topic, record.key, decode_record(topic,
                                                                           record.value))
                cells += 1
            except DecodeError:
                continue  # not ours: it will be overwritten by the cell's next version
    aggregator.mark_all_dirty()
    return facts, cells, end, markers


def read_erasure(bootstrap: Kafka, offset: int, value: bytes) \
        -> list[tuple[bytes, bytes | None]]:
    """The records that carry out the marker at ``offset`` (see
    :func:`hub.analytics.erasure.erasure_records`), from the facts topic as it is now."""
    return erasure_records(offset, value, (
        (r.offset, r.key, r.value)
        for r in read_to_end(bootstrap, FACTS_TOPIC, "unna-hub-analytics")))


Send = Callable[[bytes, bytes | None], Awaitable[Awaitable[Any]]]
"""Hands a record for ``hub.facts`` to the producer; returns its delivery future."""


async def carry_out_erasure(bootstrap: Kafka, aggregator: Aggregator, send: Send,
                            key: bytes, offset: int, value: bytes) -> bool:
    """Carry out the erasure marker at ``offset``: read the facts topic, rewrite the
    aggregator's facts (before sending, so a publish meanwhile changes no cell), send the
    rewrite and, once it is acknowledged, the marker's tombstone. False when it failed: the
    error is logged without the pseudonym and the marker stays for the next takeover."""
    erasure_id = key.decode(errors="replace").partition("|")[2]
    try:
        if parse_marker(value).key != key:
            raise ErasureError(f"erasure marker {erasure_id}: its key names another id")
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(None, read_erasure, bootstrap, offset, value)
        aggregator.apply_rewrite(records)
        *rewrite, (marker_key, tombstone) = records
        await asyncio.gather(*[await send(k, v) for k, v in rewrite])
        await (await send(marker_key, tombstone))  # last: it unlinks token and pseudonym
    except Exception as exc:  # noqa: BLE001 - the agent goes on; the marker stays
        log.error("analytics: erasure %s (facts offset %s) failed, carried out again at the "
                  "next takeover: %s: %s", erasure_id, offset, type(exc).__name__,
                  redact(str(exc), value))
        ANALYTICS_FACTS.labels(kind=ERASURE, result="failed").inc()
        return False
    ANALYTICS_FACTS.labels(kind=ERASURE, result="applied").inc()
    EVENTS_PRODUCED.labels(topic=FACTS_TOPIC, type="fact").inc(len(records))
    log.info("analytics: erasure %s carried out, %s facts rewritten", erasure_id,
             len(rewrite) // 2)
    return True


async def take_fact(aggregator: Aggregator, message, kind: str, fact_id: str, dlq,
                    clock: Clock) -> None:
    """A fact (or its tombstone) of ``hub.facts`` into the aggregator; one it does not
    understand is dead-lettered."""
    if message.value is None:
        aggregator.remove(kind, fact_id)
        return
    fact = decode_fact(message.value)
    if fact is not None and aggregator.apply(fact):
        ANALYTICS_FACTS.labels(kind=fact.kind, result="applied").inc()
        return
    ANALYTICS_FACTS.labels(kind=kind or "unknown", result="invalid").inc()
    DEAD_LETTERS.labels(stage="analytics", reason="invalid_fact").inc()
    await dlq.send(key=FACTS_TOPIC.encode(), value=worker_dead_letter(
        "analytics", message.topic, message.partition, message.offset,
        message.value, ["not a fact the aggregator understands"], at=clock.now(),
        key=message.key))
    EVENTS_PRODUCED.labels(topic=DLQ_TOPIC, type="dead_letter").inc()


def register_publish(app: faust.App, aggregator: Aggregator, state: dict, outputs: dict,
                     clock: Clock, publish_every: float) -> None:
    """A timer that publishes the changed cells every ``publish_every`` seconds, once the
    aggregator is rebuilt (``state["ready"]``)."""

    @app.timer(interval=publish_every)
    async def publish():
        if not state["ready"]:
            return
        for topic, key, record in aggregator.publish(clock.now()):
            await outputs[topic].send(key=key, value=encode_record(topic, record))
            ANALYTICS_CELLS.labels(topic=topic).inc()
            EVENTS_PRODUCED.labels(topic=topic, type="cell").inc()


def register_analytics(app: faust.App, bootstrap: Kafka, clock: Clock, k: int,
                       publish_every: float) -> Aggregator:
    aggregator = Aggregator(k)
    state = {"ready": False, "read_up_to": 0}
    lock = asyncio.Lock()
    source = raw_topic(app, FACTS_TOPIC, partitions=1)
    outputs = {topic: raw_topic(app, topic, partitions=1) for topic in RECORD_OF_TOPIC}
    dlq = raw_topic(app, DLQ_TOPIC)

    async def ensure_ready() -> None:
        async with lock:
            if state["ready"]:
                return
            loop = asyncio.get_running_loop()
            facts, cells, end, markers = await loop.run_in_executor(None, rebuild,
                                                                    bootstrap, aggregator)
            log.info("analytics: %s facts read, %s published cells known, %s erasures to "
                     "carry out", facts, cells, len(markers))
            for key, offset, value in markers:  # before the first publish
                await carry_out_erasure(bootstrap, aggregator, send_fact, key, offset, value)
            state["ready"], state["read_up_to"] = True, end

    async def send_fact(key: bytes, value: bytes | None) -> Awaitable[Any]:
        return await app.producer.send(FACTS_TOPIC, key, value, None, None, None)

    @app.agent(source, name="hub.analytics")
    async def aggregate(stream):
        # one fact at a time: a batch buffer of the size of the router's would fill while the
        # aggregator rebuilds after a takeover, and a full buffer holds up every stream of
        # the worker (Faust delivers all topics from one consumer) until the rebuild is done
        async for event in stream.events():
            await ensure_ready()
            message = event.message
            if message.offset < state["read_up_to"]:
                continue  # already read by the rebuild
            key = message.key or b""
            kind, _, fact_id = key.decode(errors="replace").partition("|")
            if kind == ERASURE:  # a marker, not a fact; its tombstone: carried out
                if message.value is not None:
                    async with lock:
                        if state["ready"]:  # else revoked: the next takeover does it
                            await carry_out_erasure(bootstrap, aggregator, send_fact, key,
                                                    message.offset, message.value)
                continue
            await take_fact(aggregator, message, kind, fact_id, dlq, clock)

    register_publish(app, aggregator, state, outputs, clock, publish_every)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        if any(tp.topic == FACTS_TOPIC for tp in revoked):
            async with lock:
                state["ready"] = False
                aggregator.reset()  # rebuilt when the partition comes back

    return aggregator
