"""The analytics agent: reads the router's facts and publishes the anonymous cells.

``hub.facts`` has one partition, so one worker aggregates everything. When it takes the
partition over it reads the whole (compacted) topic to rebuild the aggregates and what the
analytics topics already hold, then applies new facts as they come; facts are upserts, so
reading one twice changes nothing. Changed cells are published every
``HUB_ANALYTICS_PUBLISH_SECONDS``, keyed by cell, to the compacted analytics topics.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from hub.analytics.aggregate import Aggregator
from hub.analytics.facts import FACTS_TOPIC, decode_fact
from hub.analytics.records import RECORD_OF_TOPIC, decode_record, encode_record
from hub.clock import Clock
from hub.deadletter import DLQ_TOPIC, worker_dead_letter
from hub.errors import DecodeError
from hub.kafka_io import Kafka, read_to_end
from hub.metrics import ANALYTICS_CELLS, ANALYTICS_FACTS, DEAD_LETTERS, EVENTS_PRODUCED

log = logging.getLogger(__name__)


def _raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> faust.TopicT:
    return app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", partitions=partitions)


def rebuild(bootstrap: Kafka, aggregator: Aggregator) -> tuple[int, int, int]:
    """Rebuild ``aggregator`` from the facts topic and tell it what the analytics topics
    hold; returns (facts read, cells known, the facts offset read up to)."""
    facts = cells = end = 0
    for record in read_to_end(bootstrap, FACTS_TOPIC, "unna-hub-analytics"):
        end = record.offset + 1
        kind, _, fact_id = (record.key or b"").decode(errors="replace").partition("|")
        fact = decode_fact(record.value)
        if record.value is None:
            aggregator.remove(kind, fact_id)
        elif fact is not None:
            facts += aggregator.apply(fact)
    for topic in RECORD_OF_TOPIC:
        for record in read_to_end(bootstrap, topic, "unna-hub-analytics"):
            try:
                aggregator.seed_published(topic, record.key, decode_record(topic,
                                                                           record.value))
                cells += 1
            except DecodeError:
                continue  # not ours: it will be overwritten by the cell's next version
    aggregator.mark_all_dirty()
    return facts, cells, end


def register_analytics(app: faust.App, bootstrap: Kafka, clock: Clock, k: int,
                       publish_every: float) -> Aggregator:
    aggregator = Aggregator(k)
    state = {"ready": False, "read_up_to": 0}
    lock = asyncio.Lock()
    source = _raw_topic(app, FACTS_TOPIC, partitions=1)
    outputs = {topic: _raw_topic(app, topic, partitions=1) for topic in RECORD_OF_TOPIC}
    dlq = _raw_topic(app, DLQ_TOPIC)

    async def ensure_ready() -> None:
        async with lock:
            if state["ready"]:
                return
            loop = asyncio.get_running_loop()
            facts, cells, end = await loop.run_in_executor(None, rebuild, bootstrap,
                                                           aggregator)
            state["ready"], state["read_up_to"] = True, end
            log.info("analytics: %s facts read, %s published cells known", facts, cells)

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
            if message.value is None:
                aggregator.remove(kind, fact_id)
                continue
            fact = decode_fact(message.value)
            if fact is not None and aggregator.apply(fact):
                ANALYTICS_FACTS.labels(kind=fact.get("kind", "unknown"),
                                       result="applied").inc()
                continue
            ANALYTICS_FACTS.labels(kind=kind or "unknown", result="invalid").inc()
            DEAD_LETTERS.labels(stage="analytics", reason="invalid_fact").inc()
            await dlq.send(key=FACTS_TOPIC.encode(), value=worker_dead_letter(
                "analytics", message.topic, message.partition, message.offset,
                message.value, ["not a fact the aggregator understands"], at=clock.now(),
                key=message.key))
            EVENTS_PRODUCED.labels(topic=DLQ_TOPIC, type="dead_letter").inc()

    @app.timer(interval=publish_every)
    async def publish():
        if not state["ready"]:
            return
        for topic, key, record in aggregator.publish(clock.now()):
            await outputs[topic].send(key=key, value=encode_record(topic, record))
            ANALYTICS_CELLS.labels(topic=topic).inc()
            EVENTS_PRODUCED.labels(topic=topic, type="cell").inc()

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        if any(tp.topic == FACTS_TOPIC for tp in revoked):
            async with lock:
                state["ready"] = False
                aggregator.reset()  # rebuilt when the partition comes back

    return aggregator
