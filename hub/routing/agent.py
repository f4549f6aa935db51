"""The router's wiring into a Faust app: its tables, its agent, its timers.

The router reads every agency outbox (keyed by subject, so one family's events arrive in
order on one partition) and the tick topic. The router's state lives in Faust tables
backed by changelog topics; :class:`~hub.routing.runtime.RouterRuntime` hands each input to
its handler (:mod:`hub.routing.bus`) a batch at a time and commits a batch only after every
output of it was acknowledged.
What each recipient already has is in the ``delivered`` table, and what the inboxes got
after its checkpoints is read from them whenever the worker takes over a partition, so
each recipient gets each event once, also after a crash (:mod:`hub.routing.delivered`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import timedelta

import faust

from hub.agencies import AgencyDirectory
from hub.clock import Clock, HeldClock, Pacing
from hub.contract.vocabulary import Municipality, Purpose
from hub.core.topics import ROUTER_TOPICS, TICK_TOPIC, is_outbox, is_router_input
from hub.faust.flow_guard import FlowGuard
from hub.faust.io import raw_topic
from hub.kafka_io import Kafka
from hub.metrics import CONSENTS_ACTIVE, HANDOVERS_OPEN, HANDOVERS_OVERDUE
from hub.routing.bus import new_bus
from hub.routing.delivered import DeliveredTable
from hub.routing.rules import Router
from hub.routing.runtime import RouterRuntime
from hub.routing.state import RouterStores
from hub.routing.store import BatchedStore, Journal
from hub.routing.tables import ChangelogTable

__all__ = ["register_router"]

log = logging.getLogger(__name__)

TABLES = {"consents": "consents", "held": "held", "handovers": "handover_tracker",
          "families": "handover_families", "served": "consent_recipients",
          "identities": "linkage_identities", "aliases": "linkage_aliases"}
"""The router's state: its argument name -> the Faust table (and changelog) name."""
DELIVERED_TABLE = "delivered"
COUNT_SHARE = 0.05
"""The share of a worker's time the gauges of its state may take (see :class:`Pacing`)."""


def table_names() -> list[str]:
    """Every table of the router (each has a changelog ``<app id>-<name>-changelog``)."""
    return [*TABLES.values(), DELIVERED_TABLE]
"""What each inbox has (recipient|event id -> when), and the inbox checkpoints."""

ROCKSDB_OPTIONS = {
    # Faust's defaults are for one big table: a 2 GiB block cache and 3 x 64 MiB write
    # buffers per database, and every table partition is a database of its own (6 tables x
    # 6 partitions here). Reads of one family touch a few blocks. The cache and the write
    # buffers are shared by all databases (HUB_ROCKSDB_MEMORY_MIB); these are per database.
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "target_file_size_base": 32 * 1024**2,
    # most reads of an event find nothing (is it delivered? a handover or a held event of
    # this family?), and Faust's 3 bits of bloom filter per key let a quarter of those
    # misses search the files anyway: 10 bits let through about 1 %, and a miss costs
    # 0.95 us instead of 2.2 us in a database of 400,000 keys
    "bloom_filter_size": 10,
}
"""RocksDB options of the router's tables (with the ``rocksdb://`` store)."""


def new_table(app: faust.App, name: str) -> ChangelogTable:
    """A table of the router, keyed and valued by JSON (Faust's default serialisation),
    read and written by partition (:class:`~hub.routing.tables.ChangelogTable`)."""
    on_disk = str(app.conf.store).startswith("rocksdb:")
    return ChangelogTable(app.Table(name, default=None,
                                    options=dict(ROCKSDB_OPTIONS) if on_disk else None))


async def interruptible(what: str, work, every: float) -> bool:
    """Run ``work()`` (a timer's body that only refreshes gauges); an error ends this run
    with a log line instead of crashing the worker (Faust stops the app when a timer
    raises). Returns whether it completed."""
    try:
        await work()
        return True
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a gauge is never worth the worker
        log.info("%s was interrupted (%s: %s); again in %.0f s", what, type(exc).__name__,
                 exc, every)
        return False


async def in_chunks(mapping, size: int = 2000):
    """The values of ``mapping`` (every partition's) in lists of ``size``, yielding to the
    event loop between them."""
    chunk = []
    for _key, value in mapping.items():
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
            await asyncio.sleep(0)
    if chunk:
        yield chunk


async def count_state(app: faust.App, stores: RouterStores, clock: Clock) -> None:
    """Set the gauges of the consents in force per purpose and of the open and overdue
    handovers per town of this worker's partitions."""
    consents: Counter = Counter()
    ledger, tracker = stores.consents, stores.handovers
    async for chunk in in_chunks(ledger.table):
        consents.update(ledger.active(clock.now(), chunk))
    for purpose in Purpose:
        CONSENTS_ACTIVE.labels(purpose=purpose.value).set(consents.get(purpose.value, 0))
    mine = {tp.partition for tp in app.consumer.assignment() if is_outbox(tp.topic)}
    now = clock.now()
    handovers: dict[str, list[int]] = {}
    async for chunk in in_chunks(tracker.handovers):
        for town, counts in tracker.open_and_overdue(mine, now, chunk).items():
            total = handovers.setdefault(town, [0, 0])
            total[0] += counts[0]
            total[1] += counts[1]
    for town in Municipality:
        n_open, n_overdue = handovers.get(town.value, (0, 0))
        HANDOVERS_OPEN.labels(municipality=town.value).set(n_open)
        HANDOVERS_OVERDUE.labels(municipality=town.value).set(n_overdue)


def register_router(app: faust.App, agencies: AgencyDirectory, router: Router, clock: Clock,
                    bootstrap: Kafka, hold_window: timedelta, dedupe_retention: timedelta,
                    *, batch_size: int = 1000, batch_within: float = 0.05, delay: float = 0.0,
                    count_every: float = 30.0,
                    review_window: timedelta = timedelta(days=14)) -> RouterRuntime:
    journal = Journal()
    stores = {arg: BatchedStore(new_table(app, name), journal)
              for arg, name in TABLES.items()}
    delivered = DeliveredTable(dedupe_retention,
                               BatchedStore(new_table(app, DELIVERED_TABLE), journal))
    for store in [*stores.values(), delivered.store]:
        store.table.check()
    bus = new_bus(agencies, router, HeldClock(clock), hold_window, delivered, **stores,
                  review_window=review_window)
    runtime = RouterRuntime(app, bus, list(stores.values()), journal, bootstrap,
                            {a.inbox: a.id for a in agencies.exchanging()},
                            batch_size=batch_size, batch_within=batch_within, delay=delay)
    sources = raw_topic(app, *[a.outbox for a in agencies.exchanging()], *ROUTER_TOPICS)
    ticks = raw_topic(app, TICK_TOPIC)
    guard = FlowGuard(app, runtime=runtime)

    @app.agent(sources, name="hub.router")
    async def route(stream):
        await runtime.consume(stream)

    register_state_count(app, bus.stores, clock, count_every)

    @app.timer(interval=1.0)
    async def tick():
        """A tick a second on every partition: held events expire even without traffic."""
        sent_at = str(time.time()).encode()
        for partition in range(app.conf.topic_partitions):
            await ticks.send(value=sent_at, partition=partition)

    @app.timer(interval=guard.every)
    async def keep_partitions_flowing():
        await guard.check()

    @app.on_partitions_revoked.connect
    async def on_revoked(app, revoked, **kwargs):
        runtime.revoked({tp.partition for tp in revoked if is_router_input(tp.topic)})

    return runtime


def register_state_count(app: faust.App, stores: RouterStores, clock: Clock,
                         count_every: float) -> None:
    """A timer that sets the gauges of the router's state every ``count_every`` seconds."""

    pacing = Pacing(COUNT_SHARE)

    @app.timer(interval=count_every)
    async def count_state_timer():
        """The consents in force per purpose, and the open and overdue handovers per town
        (every purpose and town, so that a count can drop to 0). The state is read a
        chunk at a time, so that routing goes on while a large state is counted; when
        the stores change under the count (a rebalance or a stop closes a partition's
        store between two chunks), the gauges keep their values until the next count.
        A count reads every consent and handover: it runs less often than the timer when
        it takes more than :data:`COUNT_SHARE` of the time."""
        if not pacing.due():
            return
        started = pacing.monotonic()
        try:
            await interruptible("counting the state",
                                lambda: count_state(app, stores, clock), count_every)
        finally:
            pacing.ran(started)
