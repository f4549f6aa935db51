"""The router's runtime without a broker: a batch writes each changed key once, a message
the handlers cannot handle is dead-lettered and changes nothing, the batch is done only when
every output is acknowledged, and the pure core imports no metrics and no Kafka client."""

from __future__ import annotations

import ast
import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Tick
from hub.routing.runtime import RouterRuntime
from hub.routing.store import BatchedStore, Journal

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


class CountingTable(dict):
    """A table that counts its writes (each write of a Faust table is a changelog record)."""

    def __init__(self):
        super().__init__()
        self.writes = Counter()

    def __setitem__(self, key, value):
        self.writes[key] += 1
        super().__setitem__(key, value)


def test_reads_see_the_batch_and_each_key_is_written_once_at_the_flush():
    table = CountingTable()
    table["a"] = 1
    table.writes.clear()
    store = BatchedStore(table)
    for n in range(50):
        store["b"] = n
    store["a"] = store["a"] + 1
    assert store["b"] == 49 and store.get("a") == 2 and table["a"] == 1
    assert set(store) == {"a", "b"} and len(store) == 2
    del store["a"]
    assert "a" not in store and store.get("a") is None and "a" in table
    store.flush()
    assert table == {"b": 49} and table.writes == {"b": 1}
    assert store.pending == 0


def test_writes_are_flushed_per_partition_of_the_message_that_made_them():
    table = {}
    store = BatchedStore(table)
    store.partition = 1
    store["x"] = "from 1"
    store.partition = 2
    store["y"] = "from 2"
    assert store.partitions() == {1, 2}
    assert store.flush(2) == 1 and table == {"y": "from 2"}
    assert store.flush(1) == 1 and table == {"y": "from 2", "x": "from 1"}


def test_a_journal_takes_back_one_messages_changes_in_stores_and_deliveries():
    journal = Journal()
    store = BatchedStore({"kept": 1}, journal)
    delivered = DeliveredSet(timedelta(days=90), journal)
    store["before"] = "stays"
    journal.clear()  # the first message succeeded
    mark = journal.mark()
    store["before"] = "changed"
    store["new"] = 1
    del store["kept"]
    delivered.add("school", "e1", NOW)
    journal.undo(mark)
    assert dict(store.items()) == {"kept": 1, "before": "stays"}
    assert not delivered.has("school", "e1", NOW)


# ---------------------------------------------------------------- the batch loop
@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    timestamp: float | None = None
    headers: tuple = ()


@dataclass
class Event:
    message: Message
    value: bytes
    key: bytes | None = None


@dataclass
class Out:
    topic: str
    key: bytes
    value: bytes
    headers: tuple = ()
    type: str = "record"
    partition: int | None = None


class Producer:
    """Acknowledges every record, except the first ``refuse`` sends of a topic."""

    def __init__(self, refuse: dict[str, int] | None = None):
        self.sent: list[tuple[str, bytes]] = []
        self.refuse = dict(refuse or {})

    async def send(self, topic, key, value, partition, timestamp, headers):
        future = asyncio.get_running_loop().create_future()
        if self.refuse.get(topic, 0) > 0:
            self.refuse[topic] -= 1
            future.set_exception(OSError("broker refused"))
        else:
            self.sent.append((topic, value))
            future.set_result(None)
        return future


@dataclass
class App:
    producer: Producer


@dataclass
class Engine:
    """A bus (:class:`~hub.routing.bus.RouterBus`) that counts outbox records per subject in
    ``state``; raises on a value of b"boom" after it has changed the state (so that the
    change must be taken back)."""

    state: BatchedStore
    delivered: DeliveredSet
    counts: Counter = field(default_factory=Counter)

    @property
    def stores(self):
        return SimpleNamespace(delivered=self.delivered)

    def handle(self, message):
        return [] if isinstance(message, Tick) else self.process(message)

    def process(self, incoming):
        subject = incoming.key.decode()
        self.state[subject] = (self.state.get(subject) or 0) + 1
        self.delivered.add("school", incoming.value.decode(), NOW)
        self.counts[("deliveries", (("recipient", "school"), ("type", "x")))] += 1
        if incoming.value == b"boom":
            raise ValueError("cannot route this")
        return [Out("agency.school.inbox", incoming.key, incoming.value)]

    def take_counts(self):
        counts, self.counts = self.counts, Counter()
        return counts

    def dead_letter(self, incoming, reasons, label=None):
        return Out("hub.dlq", b"", json.dumps({"reasons": reasons}).encode(),
                   type="dead_letter")

    def held_count(self):
        return 0


def runtime_with(producer: Producer):
    journal = Journal()
    table = CountingTable()
    store = BatchedStore(table, journal)
    engine = Engine(store, DeliveredSet(timedelta(days=90), journal))
    runtime = RouterRuntime(App(producer), engine, [store], journal, bootstrap=None,
                            inboxes={})
    runtime.scanned = {0, 1}  # no inboxes to read in these tests
    return runtime, engine, table


def events(*items):
    return [Event(Message("agency.x.outbox", partition, offset), value.encode(), key.encode())
            for offset, (partition, key, value) in enumerate(items)]


def test_a_batch_writes_each_changed_key_once_and_sends_every_output():
    producer = Producer()
    runtime, engine, table = runtime_with(producer)
    asyncio.run(runtime.process_batch(events(*[(0, "child-a", f"e{n}") for n in range(30)],
                                             (1, "child-b", "e99"))))
    assert table == {"child-a": 30, "child-b": 1}
    assert table.writes == {"child-a": 1, "child-b": 1}
    assert [v for _, v in producer.sent] == [f"e{n}".encode() for n in range(30)] + [b"e99"]


def test_a_message_the_engine_cannot_handle_is_dead_lettered_and_changes_nothing():
    producer = Producer()
    runtime, engine, table = runtime_with(producer)
    asyncio.run(runtime.process_batch(events((0, "child-a", "e1"), (0, "child-a", "boom"),
                                             (0, "child-a", "e2"))))
    assert table == {"child-a": 2}  # the failed message's count was taken back
    assert not engine.delivered.has("school", "boom", NOW)
    topics = [t for t, _ in producer.sent]
    assert topics == ["agency.school.inbox", "hub.dlq", "agency.school.inbox"]
    letter = json.loads(producer.sent[1][1])
    assert "internal error of the router: ValueError: cannot route this" in letter["reasons"]
    # what the failed message counted is not counted
    assert runtime.counts == Counter()


def test_the_batch_is_done_only_when_every_output_is_acknowledged(monkeypatch):
    monkeypatch.setattr("hub.routing.runtime.SEND_RETRY_SECONDS", (0, 0, 0))
    producer = Producer(refuse={"agency.school.inbox": 2})
    runtime, engine, table = runtime_with(producer)
    asyncio.run(runtime.process_batch(events((0, "child-a", "e1"), (0, "child-a", "e2"))))
    assert sorted(v for _, v in producer.sent) == [b"e1", b"e2"]


def test_outputs_never_acknowledged_stop_the_batch(monkeypatch):
    monkeypatch.setattr("hub.routing.runtime.SEND_RETRY_SECONDS", (0,))
    producer = Producer(refuse={"agency.school.inbox": 99})
    runtime, engine, table = runtime_with(producer)
    with pytest.raises(RuntimeError, match="not acknowledged by the broker"):
        asyncio.run(runtime.process_batch(events((0, "child-a", "e1"))))


class SlowProducer(Producer):
    """Acknowledges each record ``delay`` seconds after it was sent."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    async def send(self, topic, key, value, partition, timestamp, headers):
        future = asyncio.get_running_loop().create_future()
        self.sent.append((topic, value))
        asyncio.get_running_loop().call_later(self.delay, future.set_result, None)
        return future


def test_the_time_a_batch_waits_for_acknowledgements_is_told_apart_from_deciding(caplog):
    from hub.metrics import ROUTER_SECONDS

    def seconds(phase):
        return ROUTER_SECONDS.labels(phase=phase)._value.get()

    before = {p: seconds(p) for p in ("deciding", "acknowledgements")}
    runtime, engine, table = runtime_with(SlowProducer(1.0))
    caplog.set_level("INFO", logger="hub.routing.runtime")
    asyncio.run(runtime.process_batch(events(*[(0, "child-a", f"e{n}") for n in range(1000)])))
    waited = seconds("acknowledgements") - before["acknowledgements"]
    decided = seconds("deciding") - before["deciding"]
    assert waited >= 1.0  # the acknowledgements came a second after the sends
    assert decided < 1.0  # and that second is not counted as deciding
    line = [r.getMessage() for r in caplog.records if "messages processed" in r.getMessage()]
    assert line and "waiting for acknowledgements" in line[0]
    from bench.bench_router import PHASES  # bench_router reads these lines

    assert PHASES.search(line[0])


# ---------------------------------------------------------------- the pure core
PURE = ["hub/routing/bus.py", "hub/routing/handlers", "hub/routing/deciding.py",
        "hub/routing/outputs.py", "hub/routing/notices.py", "hub/routing/state.py",
        "hub/routing/services.py", "hub/routing/messages.py", "hub/routing/rules.py",
        "hub/routing/store.py", "hub/consent", "hub/handover", "hub/audit.py",
        "hub/analytics/facts.py", "hub/core"]
FORBIDDEN = ("hub.metrics", "prometheus_client", "faust", "kafka", "aiokafka", "mode")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("where", PURE)
def test_the_routing_core_imports_no_metrics_and_no_kafka(where):
    root = REPO / where
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    assert files
    for path in files:
        bad = {m for m in imported_modules(path)
               if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
        assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_a_store_closed_under_the_state_count_does_not_stop_the_worker(caplog):
    """A rebalance or a stop closes a partition's RocksDB store while the gauges' count
    iterates it (Faust: "dictionary changed size during iteration"): that count ends with
    a log line; a timer that raised would stop the whole worker."""
    import asyncio
    import logging

    from hub.routing.agent import in_chunks, interruptible

    class ClosingStore:
        def items(self):
            yield "a", {"x": 1}
            raise RuntimeError("dictionary changed size during iteration")

    counted = []

    async def count():
        async for chunk in in_chunks(ClosingStore(), size=1):
            counted.extend(chunk)

    with caplog.at_level(logging.INFO, logger="hub.routing.agent"):
        assert asyncio.run(interruptible("counting the state", count, 30.0)) is False
    assert counted == [{"x": 1}]
    assert "counting the state was interrupted (RuntimeError" in caplog.text

    async def fine():
        return None

    assert asyncio.run(interruptible("counting the state", fine, 30.0)) is True


def test_the_clock_is_read_once_per_message_and_holds_still_while_it_is_decided():
    from hub.clock import FixedClock, HeldClock

    class Reads(FixedClock):
        reads = 0

        def now(self):
            self.reads += 1
            self.advance(seconds=1)
            return self.at

    real = Reads(NOW)
    clock = HeldClock(real)
    seen = []

    class Timed(Engine):
        services = SimpleNamespace(clock=clock)

        def process(self, incoming):
            seen.append((clock.now(), clock.now(), clock.now()))
            return super().process(incoming)

    journal = Journal()
    store = BatchedStore(CountingTable(), journal)
    engine = Timed(store, DeliveredSet(timedelta(days=90), journal))
    runtime = RouterRuntime(App(Producer()), engine, [store], journal, bootstrap=None,
                            inboxes={})
    runtime.scanned = {0}
    asyncio.run(runtime.process_batch(events((0, "child-a", "e1"), (0, "child-a", "e2"))))
    assert real.reads == 2  # once per message, not once per question
    assert [len(set(times)) for times in seen] == [1, 1]
    assert seen[0][0] < seen[1][0]  # the next message reads it anew
    assert clock.now() > seen[1][0]  # between messages it runs
