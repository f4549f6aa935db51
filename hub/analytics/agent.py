"""The analytics agent: reads the router's facts and publishes the anonymous cells.

``hub.facts`` has one partition or more; every fact of one slice is on one partition
(:mod:`hub.analytics.placement`), so the workers share the facts: each worker counts the
partitions it holds, one aggregator per partition, and publishes the cells of their slices
only. Each aggregator keeps its facts in a store (:mod:`hub.analytics.store`): on disk
under the worker's state folder with ``HUB_STATE_STORE=rocksdb`` (the default), in memory
with ``memory``.

When the worker takes a partition over it brings its aggregator up to date
(:mod:`hub.analytics.takeover`): read on from the offset its store on disk has every fact
up to, or rebuilt from the whole (compacted) partition; then it learns what the analytics
topics already hold. New facts are applied as they come; facts are upserts, so reading one
twice changes nothing. Changed cells are published every ``HUB_ANALYTICS_PUBLISH_SECONDS``,
keyed by cell, to the compacted analytics topics.

An erasure marker (``erasure|<id>``, see :mod:`hub.analytics.erasure`) is no fact: the
router writes it to every partition, and the agent carries each copy out on the facts of
its partition when it reaches it (markers a takeover finds without their tombstone, right
after the takeover), by rewriting the erased child's facts with a token instead of the
pseudonym. The pseudonym is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from hub.analytics.aggregate import Aggregator
from hub.analytics.erasure import ErasureError, erasure_records, parse_marker, redact
from hub.analytics.facts import ERASURE, FACTS_TOPIC, decode_fact
from hub.analytics.placement import set_partitions, slice_partition
from hub.analytics.records import RECORD_OF_TOPIC, encode_record
from hub.analytics.store import MemoryStore
from hub.analytics.takeover import (
    PendingMarker,
    facts_partitions_of,
    misplaced_sample,
    read_erasure_records,
    replay,
    take_over,
    trusted_start,
)
from hub.clock import Clock, Pacing
from hub.deadletter import DLQ_TOPIC, worker_dead_letter
from hub.errors import HubError
from hub.faust.io import raw_topic
from hub.kafka_io import Kafka
from hub.metrics import ANALYTICS_CELLS, ANALYTICS_FACTS, DEAD_LETTERS, EVENTS_PRODUCED

__all__ = ["PendingMarker", "carry_out_erasure", "read_erasure", "register_analytics",
           "replay", "take_fact"]

log = logging.getLogger(__name__)
PUBLISH_SHARE = 0.1
"""The share of a worker's time the publish of changed cells may take (see
:class:`~hub.clock.Pacing`): each publish reads the facts of every changed slice back."""


def read_erasure(bootstrap: Kafka, offset: int, value: bytes, partition: int | None = None
                 ) -> list[tuple[bytes, bytes | None]]:
    """The records that carry out the marker at ``offset`` (see
    :func:`hub.analytics.erasure.erasure_records`), from the facts topic as it is now (the
    marker's ``partition`` of it, when given)."""
    return erasure_records(offset, value, read_erasure_records(bootstrap, partition))


Send = Callable[[bytes, bytes | None], Awaitable[Awaitable[Any]]]
"""Hands a record for ``hub.facts`` to the producer; returns its delivery future."""


async def carry_out_erasure(bootstrap: Kafka, aggregator: Aggregator, send: Send,
                            key: bytes, offset: int, value: bytes,
                            partition: int | None = None) -> bool:
    """Carry out the erasure marker at ``offset`` (of ``partition``): read the facts topic,
    rewrite the aggregator's facts (before sending, so a publish meanwhile changes no
    cell), send the rewrite and, once it is acknowledged, the marker's tombstone. False
    when it failed: the error is logged without the pseudonym and the marker stays for the
    next takeover."""
    erasure_id = key.decode(errors="replace").partition("|")[2]
    try:
        if parse_marker(value).key != key:
            raise ErasureError(f"erasure marker {erasure_id}: its key names another id")
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(None, read_erasure, bootstrap, offset, value,
                                             partition)
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
    understand is dead-lettered, one of another partition's slices counted as misplaced
    (it counts nowhere: see docs/operations.md, "Analytics")."""
    if message.value is None:
        aggregator.remove(kind, fact_id)
        return
    fact = decode_fact(message.value)
    applied = aggregator.apply_owned(fact) if fact is not None else False
    if applied is None:
        ANALYTICS_FACTS.labels(kind=fact.kind, result="misplaced").inc()
        return
    if applied:
        ANALYTICS_FACTS.labels(kind=fact.kind, result="applied").inc()
        return
    ANALYTICS_FACTS.labels(kind=kind or "unknown", result="invalid").inc()
    DEAD_LETTERS.labels(stage="analytics", reason="invalid_fact").inc()
    await dlq.send(key=FACTS_TOPIC.encode(), value=worker_dead_letter(
        "analytics", message.topic, message.partition, message.offset,
        message.value, ["not a fact the aggregator understands"], at=clock.now(),
        key=message.key))
    EVENTS_PRODUCED.labels(topic=DLQ_TOPIC, type="dead_letter").inc()


@dataclass
class Part:
    """One partition of ``hub.facts`` this worker holds."""

    aggregator: Aggregator
    ready: bool = False
    read_up_to: int = 0  # what the takeover read: the agent skips records before it
    processed: int = 0  # the offset after the last record the agent processed


class Analytics:
    """The agent's state: an aggregator per partition of ``hub.facts`` this worker holds,
    each with its store (``folder``: the stores on disk; None: in memory)."""

    def __init__(self, app: faust.App, bootstrap: Kafka, k: int, partitions: int,
                 folder: Path | None = None) -> None:
        self.app, self.bootstrap, self.k = app, bootstrap, k
        self.partitions, self.folder = partitions, folder
        self.parts: dict[int, Part] = {}
        self.lock = asyncio.Lock()
        self.disabled: str | None = None
        """Why this worker does not aggregate (facts on other partitions than their
        period's: ``hub.facts`` grew in place); None: it does."""

    def check_placement(self) -> None:
        """Refuse to aggregate a ``hub.facts`` whose first facts are on other partitions
        than their period's (grown in place): each aggregator would miss its past."""
        misplaced = misplaced_sample(self.bootstrap, self.partitions)
        if misplaced:
            self.disable(f"{sum(misplaced.values())} of the first facts of {FACTS_TOPIC} "
                         f"partitions {sorted(misplaced)} belong to other partitions (the "
                         "topic grew in place?)")

    def disable(self, why: str) -> None:
        self.disabled = why
        log.error("analytics: not aggregating: %s. Stop every worker, run `hub topics "
                  "repartition-facts`, start them again (docs/operations.md, \"Analytics\")",
                  why)

    def part(self, partition: int) -> Part:
        if partition not in self.parts:
            self.parts[partition] = Part(Aggregator(self.k, self._store(partition), owns=(
                lambda s: slice_partition(s, self.partitions) == partition)))
        return self.parts[partition]

    def _store(self, partition: int):
        if self.folder is None:
            return MemoryStore()
        from hub.analytics.rocks import RocksStore
        from hub.faust.patches import shared_rocksdb_memory

        return RocksStore(self.folder / f"{FACTS_TOPIC}-{partition}", shared_rocksdb_memory())

    def held(self) -> set[int]:
        """The partitions of ``hub.facts`` the worker's consumer holds now."""
        try:
            return {tp.partition for tp in self.app.consumer.assignment()
                    if tp.topic == FACTS_TOPIC}
        except Exception:  # noqa: BLE001 - no consumer yet
            return set()

    def all_ready(self, partitions: set[int]) -> bool:
        return all(p in self.parts and self.parts[p].ready for p in partitions)

    async def ensure_ready(self, send_fact) -> None:
        """Take every partition the worker holds and is not ready over (all in one go: the
        analytics topics are read once)."""
        async with self.lock:
            todo = sorted(p for p in self.held() if not self.part(p).ready)
            if not todo:
                return
            loop = asyncio.get_running_loop()
            try:
                taken = await loop.run_in_executor(None, self._take_over, todo)
            except Exception as exc:  # noqa: BLE001 - a broker hiccup: the timer tries again
                log.error("analytics: taking %s partitions %s over failed (%s: %s); trying "
                          "again", FACTS_TOPIC, todo, type(exc).__name__, exc)
                return
            for partition in todo:
                result, part = taken[partition], self.parts[partition]
                log.info("analytics: %s", result.describe())
                if result.misplaced:
                    self.disable(f"{result.misplaced} facts on {FACTS_TOPIC}[{partition}] "
                                 "belong to other partitions")
                    return
                for key, offset, value in result.markers or []:  # before the first publish
                    await carry_out_erasure(self.bootstrap, part.aggregator,
                                            send_fact(partition), key, offset, value,
                                            partition)
                part.ready, part.read_up_to = True, result.end
                part.processed = result.end

    def _take_over(self, todo: list[int]):
        aggregators = {p: self.parts[p].aggregator for p in todo}
        starts = {p: trusted_start(self.bootstrap, a, p) if self.folder else (0, "in memory")
                  for p, a in aggregators.items()}
        return take_over(self.bootstrap, aggregators, self.partitions, starts)

    def revoked(self, partitions: set[int]) -> None:
        """Partitions given to another worker: forgotten (in memory) or closed (on disk,
        kept for when they come back)."""
        for partition in partitions:
            part = self.parts.pop(partition, None)
            if part is None:
                continue
            if self.folder is None:
                part.aggregator.reset()
            else:
                if part.ready:
                    _note_read(part)
                part.aggregator.store.close()


def _note_read(part: Part) -> None:
    """Write down in the store how far the partition is read (for a restart)."""
    store = part.aggregator.store
    if part.processed > store.read_up_to:
        store.read_up_to = part.processed
    if getattr(store, "set_meta", None) is not None:
        store.set_meta("caught_up_at", str(time.time()))


def register_publish(app: faust.App, analytics: Analytics, outputs: dict, clock: Clock,
                     publish_every: float, send_fact) -> None:
    """A timer that publishes the changed cells of every ready partition every
    ``publish_every`` seconds (and takes over a partition held but not ready yet, so that
    it publishes without waiting for its next fact)."""

    pacing = Pacing(PUBLISH_SHARE)

    @app.timer(interval=publish_every)
    async def publish():
        if analytics.disabled:
            return
        if not analytics.all_ready(analytics.held()):
            await analytics.ensure_ready(send_fact)
        if not pacing.due():  # a slice's facts are read back whole: under a backlog the
            return            # current weeks change all the time, publish them less often
        started = pacing.monotonic()
        try:
            async with analytics.lock:  # a partition revoked meanwhile: its store is closed
                for part in [p for p in analytics.parts.values() if p.ready]:
                    for topic, key, record in part.aggregator.publish(clock.now()):
                        await outputs[topic].send(key=key,
                                                  value=encode_record(topic, record))
                        ANALYTICS_CELLS.labels(topic=topic).inc()
                        EVENTS_PRODUCED.labels(topic=topic, type="cell").inc()
                    _note_read(part)
        finally:
            pacing.ran(started)


async def take(analytics: Analytics, part: Part, message, send_fact, dlq,
               clock: Clock) -> None:
    """A record of ``hub.facts`` into the aggregator of its partition: a fact or its
    tombstone, or an erasure marker (carried out) or its tombstone (done)."""
    key = message.key or b""
    kind, _, fact_id = key.decode(errors="replace").partition("|")
    if kind != ERASURE:
        await take_fact(part.aggregator, message, kind, fact_id, dlq, clock)
        return
    store = part.aggregator.store
    if message.value is None:  # a marker's tombstone: carried out
        store.keep_marker(key, None)
        return
    store.keep_marker(key, (message.offset, message.value))
    async with analytics.lock:
        if part.ready:  # else revoked: the next takeover does it
            await carry_out_erasure(analytics.bootstrap, part.aggregator,
                                    send_fact(message.partition), key, message.offset,
                                    message.value, message.partition)


def register_analytics(app: faust.App, bootstrap: Kafka, clock: Clock, k: int,
                       publish_every: float, folder: Path | None = None,
                       partitions: int | None = None) -> Analytics:
    """The analytics agent on ``app``; ``folder``: where its stores go on disk (None: in
    memory); ``partitions``: how many ``hub.facts`` has (default: asked of the broker)."""
    partitions = partitions or facts_partitions(bootstrap)
    set_partitions(partitions)  # where the router writes its facts
    analytics = Analytics(app, bootstrap, k, partitions, folder)
    analytics.check_placement()
    source = raw_topic(app, FACTS_TOPIC, partitions=partitions)
    outputs = {topic: raw_topic(app, topic, partitions=1) for topic in RECORD_OF_TOPIC}
    dlq = raw_topic(app, DLQ_TOPIC)

    def send_fact(partition: int) -> Send:
        target = partition if partitions > 1 else None

        async def send(key: bytes, value: bytes | None) -> Awaitable[Any]:
            return await app.producer.send(FACTS_TOPIC, key, value, target, None, None)
        return send

    @app.agent(source, name="hub.analytics")
    async def aggregate(stream):
        # one fact at a time: a batch buffer of the size of the router's would fill while the
        # aggregator rebuilds after a takeover, and a full buffer holds up every stream of
        # the worker (Faust delivers all topics from one consumer) until the rebuild is done
        async for event in stream.events():
            message = event.message
            if analytics.disabled:
                continue
            if not analytics.all_ready({message.partition}):
                await analytics.ensure_ready(send_fact)
            part = analytics.parts.get(message.partition)
            if part is None or not part.ready or message.offset < part.read_up_to:
                continue  # given away meanwhile, or already read by the takeover
            await take(analytics, part, message, send_fact, dlq, clock)
            part.processed = message.offset + 1

    register_publish(app, analytics, outputs, clock, publish_every, send_fact)

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        gone = {tp.partition for tp in revoked if tp.topic == FACTS_TOPIC}
        if gone:
            async with analytics.lock:
                analytics.revoked(gone)  # taken over again when they come back

    return analytics


def facts_partitions(bootstrap: Kafka, tries: int = 5, pause: float = 2.0) -> int:
    """How many partitions ``hub.facts`` has; as ``deploy/topics.yaml`` declares it when
    the topic does not exist yet. A broker that does not answer is asked again; the
    router cannot place a fact without the number."""
    for attempt in range(tries):
        try:
            found = facts_partitions_of(bootstrap)
            break
        except HubError:
            if attempt == tries - 1:
                raise
            time.sleep(pause)
    if found:
        return found
    from hub.topics import facts_partitions as declared

    count = declared()
    log.warning("analytics: %s does not exist yet (`hub topics apply` creates it); counting "
                "on the %s partitions deploy/topics.yaml declares", FACTS_TOPIC, count)
    return count
