"""The golden stream of ``hub.facts`` and what the aggregator publishes for it.

:func:`golden_log` writes a deterministic stream of facts in rounds: ten weeks of events
and three months of handovers in every town, small enough that cells are suppressed
(primary and complementary); then late changes (events that move to another week or town
or change their outcome, handovers answered, completed, stalled, a handover whose answer
came before its request), tombstones and a fact that is none; then an erasure marker with
a new history of the child after it; then more facts after a rebuild.

:func:`published_rounds` replays it as the analytics agent does (``replay`` between two
publishes, erasure markers carried out with ``erasure_records`` and ``apply_rewrite``, the
rewrite coming back through the topic) and, before the last two rounds, rebuilds a fresh
aggregator from the compacted topic and the cells published so far. Each round's cells are
``(topic, key, encoded record)``: exactly the bytes the agent sends.

``tests/analytics/golden_cells.jsonl`` holds them as the aggregator of commit ``ef981d2``
published them (before the facts left its memory); ``test_golden.py`` compares byte for
byte. Written again (only when the published cells are meant to change) with::

    python -m tests.analytics.golden --write
"""

from __future__ import annotations

import json
import random
import sys
import zlib
from collections import namedtuple
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.analytics.agent import replay
from hub.analytics.aggregate import Aggregator
from hub.analytics.erasure import erasure_records
from hub.analytics.facts import (
    EventFact,
    HandoverFact,
    Outcome,
    decode_fact,
    encode_fact,
    erasure_marker,
    fact_key,
)
from hub.analytics.placement import fact_partition, marker_partitions, slice_partition
from hub.analytics.records import decode_record, encode_record
from hub.analytics.store import FactStore, MemoryStore
from hub.contract.vocabulary import LifePhase, Municipality

FIXTURE = Path(__file__).with_name("golden_cells.jsonl")
START = datetime(2026, 9, 28, 7, 0, tzinfo=UTC)  # Monday of 2026-W40 (09:00 in Berlin)
WEEKS = 8
TOWNS = [Municipality.KAMEN.value, Municipality.UNNA.value, Municipality.WERNE.value,
         Municipality.SELM.value]
PHASES = [p.value for p in LifePhase]
EVENT_TYPES = ["offer.accepted", "offer.accepted", "screening.completed", "consent.granted"]
CATEGORIES = ["Familienhebamme", "Elterncafé"]
KINDS = ["youth_office", "health", "school", "daycare", "jobcenter", "unknown"]
OUTCOMES = [Outcome.ROUTED] * 5 + [Outcome.REFUSED_NO_CONSENT] * 2 + [
    Outcome.HELD, Outcome.NOT_ROUTED]
ERASED_CHILD = "e7a5" * 16
TOKEN = "feedc0de" * 4
MOVE_WEEKS = 6  # events move by six weeks: the same partition of hub.facts for 1, 2, 3, 6

Record = namedtuple("Record", "offset key value")


@dataclass
class Log:
    """What the router writes to ``hub.facts``, in rounds: the records (key, value) of each
    round, and the moment its cells are published."""

    rounds: list[tuple[list[tuple[bytes, bytes | None]], datetime]] = field(
        default_factory=list)
    rebuild_before: int = 0  # the round before which a fresh aggregator is rebuilt
    _writes: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def write(self, key: bytes, value: bytes | None) -> None:
        self._writes.append((key, value))

    def fact(self, fact) -> None:
        self.write(fact_key(fact), encode_fact(fact))

    def publish(self, now: datetime) -> None:
        self.rounds.append((self._writes, now))
        self._writes = []


def _subject(rnd: random.Random, pool: int) -> str:
    return f"{rnd.randrange(pool):064x}"


def _event(rnd: random.Random, n: int, week: int, town: str, *, subject: str | None = None,
           sunday_night: bool = False) -> EventFact:
    if sunday_night:  # Sunday 23:30 UTC: Monday in Berlin, the next ISO week
        at = START + timedelta(days=7 * week + 6, hours=16, minutes=30)
    else:
        at = START + timedelta(days=7 * week + rnd.randrange(7), hours=rnd.randrange(10))
    etype = rnd.choice(EVENT_TYPES)
    source_kind = rnd.choice(KINDS[:2])
    return EventFact(
        id=f"ev-{n:05d}", subject=subject or _subject(rnd, 120), time=at, municipality=town,
        life_phase=rnd.choice(PHASES[1:4]) if rnd.random() < 0.9 else rnd.choice(PHASES),
        type=etype,
        offer_category=rnd.choice(CATEGORIES) if etype.startswith("offer.") else None,
        source=f"{source_kind}-{town}", source_kind=source_kind, source_municipality=town,
        outcome=rnd.choice(OUTCOMES))


def _handover(rnd: random.Random, n: int, month_start: datetime, town: str, *,
              subject: str | None = None) -> HandoverFact:
    requested = month_start + timedelta(days=rnd.randrange(28), hours=rnd.randrange(10))
    answer = rnd.choice([None, "accepted", "accepted", "accepted", "declined"])
    answered = requested + timedelta(days=rnd.randrange(1, 20), hours=rnd.randrange(24)) \
        if answer else None
    completed = answered + timedelta(days=rnd.randrange(5, 60)) \
        if answer == "accepted" and rnd.random() < 0.5 else None
    return HandoverFact(
        id=f"UE-{n:05d}", subject=subject or _subject(rnd, 60), municipality=town,
        requester="a", requester_kind=rnd.choice(KINDS[2:4]), recipient="b",
        recipient_kind=rnd.choice(KINDS[:2]), requested_at=requested, answer=answer,
        answered_at=answered, completed_at=completed,
        stalled=("answer",) if answer is None and rnd.random() < 0.6 else (),
        bounce=rnd.random() < 0.1, ping_pong=rnd.random() < 0.05)


def _first_round(rnd: random.Random, log: Log) -> tuple[list[EventFact], list[HandoverFact]]:
    """Ten weeks of events, three months of handovers, in every town: many small cells."""
    events, handovers = [], []
    for week in range(WEEKS):
        for town in TOWNS:
            for _ in range(rnd.choice([0, 4, 12, 30, 60])):
                events.append(_event(rnd, len(events), week, town,
                                     sunday_night=rnd.random() < 0.03))
    months = [datetime(2026, m, 1, 8, tzinfo=UTC) for m in (9, 10, 11)]
    for month in months:
        for town in TOWNS:
            for _ in range(rnd.choice([3, 10, 30])):
                handovers.append(_handover(rnd, len(handovers), month, town))
    everything: list = [*events, *handovers]
    rnd.shuffle(everything)
    for fact in everything:
        log.fact(fact)
    log.publish(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    return events, handovers


def _late_changes(rnd: random.Random, log: Log, events: list[EventFact],
                  handovers: list[HandoverFact]) -> None:
    """Late events, moves, outcomes decided, handovers going on, tombstones, junk."""
    for fact in rnd.sample(events, 40):  # moved six weeks on (or back)
        weeks = MOVE_WEEKS if fact.time < START + timedelta(weeks=4) else -MOVE_WEEKS
        log.fact(replace(fact, time=fact.time + timedelta(weeks=weeks)))
    for fact in rnd.sample(events, 25):  # corrected town: another slice, same week
        log.fact(replace(fact, municipality=rnd.choice(TOWNS)))
    for fact in rnd.sample(events, 60):  # held events decided, outcomes corrected
        log.fact(replace(fact, outcome=rnd.choice(OUTCOMES)))
    for n in range(len(events), len(events) + 80):  # late events of earlier weeks
        log.fact(_event(rnd, n, rnd.randrange(WEEKS), rnd.choice(TOWNS[:3])))
    for fact in rnd.sample(handovers, 30):  # answered, completed, stalled later
        answered = fact.requested_at + timedelta(days=rnd.randrange(1, 30))
        log.fact(replace(fact, answer=fact.answer or "accepted",
                         answered_at=fact.answered_at or answered,
                         completed_at=fact.completed_at or answered + timedelta(days=9),
                         stalled=fact.stalled + ("completion",)))
    early = _handover(rnd, len(handovers), datetime(2026, 11, 1, 8, tzinfo=UTC), "werne")
    log.fact(replace(early, requested_at=None))  # an answer before its request
    for fact in rnd.sample(events, 20):
        log.write(fact_key(fact), None)  # tombstones
    for fact in rnd.sample(handovers, 4):
        log.write(fact_key(fact), None)
    log.write(b"event|junk", b'{"kind": "event", "id": "junk"}')  # no fact: ignored
    log.publish(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))
    log.fact(early)  # the request arrives
    for fact in rnd.sample(events, 10):  # a fact deleted, then written again
        log.write(fact_key(fact), None)
        log.fact(replace(fact, outcome=Outcome.ROUTED))
    log.publish(datetime(2026, 12, 8, 13, 0, tzinfo=UTC))


def _erasure(rnd: random.Random, log: Log, n_events: int, n_handovers: int) -> None:
    """A child with facts in several weeks and a handover is erased; facts of the same
    pseudonym after the marker are a new history."""
    for i in range(12):
        log.fact(_event(rnd, n_events + 100 + i, i % WEEKS, "kamen", subject=ERASED_CHILD))
    log.fact(_handover(rnd, n_handovers + 10, datetime(2026, 10, 1, 8, tzinfo=UTC), "kamen",
                       subject=ERASED_CHILD))
    log.publish(datetime(2026, 12, 9, 12, 0, tzinfo=UTC))
    key, value = erasure_marker("er-golden", ERASED_CHILD, TOKEN)
    log.write(key, value)
    for i in range(3):  # a new history, after the marker
        log.fact(_event(rnd, n_events + 200 + i, 9, "kamen", subject=ERASED_CHILD))
    for n in range(n_events + 300, n_events + 340):
        log.fact(_event(rnd, n, rnd.randrange(WEEKS), rnd.choice(TOWNS)))
    log.publish(datetime(2026, 12, 9, 13, 0, tzinfo=UTC))


def golden_log(seed: int = 20261207) -> Log:
    rnd = random.Random(seed)
    log = Log()
    events, handovers = _first_round(rnd, log)
    _late_changes(rnd, log, events, handovers)
    _erasure(rnd, log, len(events), len(handovers))
    log.rebuild_before = len(log.rounds)
    log.publish(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))  # the rebuilt one: as before
    for n in range(len(events) + 400, len(events) + 430):
        log.fact(_event(rnd, n, rnd.randrange(WEEKS), rnd.choice(TOWNS)))
    for fact in rnd.sample(events, 15):
        log.write(fact_key(fact), None)
    log.publish(datetime(2026, 12, 10, 13, 0, tzinfo=UTC))
    return log


Cell = tuple[str, bytes, bytes]
"""A published cell: (topic, key, the record as the agent encodes it)."""


def _encoded(published) -> list[Cell]:
    return [(topic, key, encode_record(topic, record)) for topic, key, record in published]


def compacted(records: Iterable[Record]) -> list[Record]:
    """What compaction keeps of ``records``: the latest record per key (tombstones gone),
    in offset order."""
    latest: dict[bytes, Record] = {}
    for record in records:
        latest[record.key] = record
    return sorted((r for r in latest.values() if r.value is not None),
                  key=lambda r: r.offset)


def seed_cells(aggregator: Aggregator, published: Iterable[Cell]) -> None:
    """Tell ``aggregator`` what the analytics topics hold after ``published``."""
    latest: dict[tuple[str, bytes], bytes] = {}
    for topic, key, value in published:
        latest[(topic, key)] = value
    for (topic, key), value in latest.items():
        aggregator.seed_published(topic, key, decode_record(topic, value))


class Topic:
    """``hub.facts`` as the analytics agent sees it, without Kafka: the records in offset
    order; :meth:`take` applies the records not read yet as the agent does, and carries out
    the erasure markers among them (the rewrite is written to the topic and comes back)."""

    def __init__(self, aggregator: Aggregator) -> None:
        self.aggregator = aggregator
        self.records: list[Record] = []
        self.read_up_to = 0

    def write(self, key: bytes, value: bytes | None) -> None:
        self.records.append(Record(len(self.records), key, value))

    def take(self) -> None:
        while self.read_up_to < len(self.records):
            start, self.read_up_to = self.read_up_to, len(self.records)
            _, _, markers = replay(self.records[start:self.read_up_to], self.aggregator)
            for _key, offset, value in markers:
                rewrite = erasure_records(offset, value, list(self.records))
                self.aggregator.apply_rewrite(rewrite)
                for key, rewritten in rewrite:
                    self.write(key, rewritten)


def published_rounds(log: Log, new_aggregator: Callable[[], Aggregator] = Aggregator
                     ) -> list[list[Cell]]:
    """Each round's published cells, as the agent publishes them for ``log`` (a rebuilt
    aggregator from round ``log.rebuild_before`` on)."""
    topic = Topic(new_aggregator())
    rounds: list[list[Cell]] = []
    everything: list[Cell] = []
    for number, (writes, now) in enumerate(log.rounds):
        if number == log.rebuild_before:  # a worker takes over: rebuilt from the topic
            rebuilt = new_aggregator()
            replay(compacted(topic.records), rebuilt)
            seed_cells(rebuilt, everything)
            rebuilt.mark_all_dirty()
            topic.aggregator = rebuilt
        for key, value in writes:
            topic.write(key, value)
        topic.take()
        cells = _encoded(topic.aggregator.publish(now))
        everything += cells
        rounds.append(cells)
    return rounds


def published_rounds_restarted(log: Log, folder: Path) -> list[list[Cell]]:
    """Like :func:`published_rounds` with the facts in RocksDB (``folder``), and instead of
    the rebuild a restart that keeps the store: the worker reads on from the offset the
    store has every fact up to, and compares the analytics topics with what the store says
    it published (:meth:`~hub.analytics.aggregate.Aggregator.reconcile_published`)."""
    from hub.analytics.rocks import RocksStore

    store = RocksStore(folder / "hub.facts-0")
    topic = Topic(Aggregator(5, store))
    rounds: list[list[Cell]] = []
    everything: list[Cell] = []
    for number, (writes, now) in enumerate(log.rounds):
        if number == log.rebuild_before:  # the worker stops and starts again
            store.close()
            store = RocksStore(folder / "hub.facts-0")
            restarted = Aggregator(5, store)
            replay(topic.records[store.read_up_to:], restarted)
            restarted.reconcile_published(everything)
            topic.aggregator = restarted
        for key, value in writes:
            topic.write(key, value)
        topic.take()
        cells = _encoded(topic.aggregator.publish(now))
        store.read_up_to = topic.read_up_to
        everything += cells
        rounds.append(cells)
    store.close()
    return rounds


def as_lines(rounds: list[list[Cell]]) -> list[str]:
    return [json.dumps({"round": number, "topic": topic, "key": key.decode(),
                        "value": value.hex()}, ensure_ascii=False)
            for number, cells in enumerate(rounds) for topic, key, value in cells]


def read_fixture(path: Path = FIXTURE) -> list[list[Cell]]:
    rounds: list[list[Cell]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cell = json.loads(line)
        while len(rounds) <= cell["round"]:
            rounds.append([])
        rounds[cell["round"]].append((cell["topic"], cell["key"].encode(),
                                      bytes.fromhex(cell["value"])))
    return rounds


def summary(rounds: list[list[Cell]]) -> str:
    suppressed = {"primary": 0, "complementary": 0}
    for cells in rounds:
        for topic, _, value in cells:
            reason = decode_record(topic, value).get("suppression")
            if reason:
                suppressed[reason] += 1
    return (f"{len(rounds)} rounds, cells per round {[len(c) for c in rounds]}, "
            f"suppressed {suppressed}")


def _partition_of_key(key: bytes, partitions: int) -> int:
    """Where the producer's partitioner would put a record without a partition of its own
    (any fixed choice does for these tests)."""
    return zlib.crc32(key) % partitions


def published_rounds_partitioned(log: Log, partitions: int,
                                 new_store: Callable[[int], FactStore] = lambda p: MemoryStore()
                                 ) -> list[list[Cell]]:
    """Each round's published cells when ``hub.facts`` has ``partitions`` partitions: the
    router puts each fact on the partition of its period (:mod:`hub.analytics.placement`),
    a tombstone where its key is, an erasure marker on every partition; one aggregator per
    partition publishes the cells of its slices. The cells of a round are in the order of
    the partitions (sort them to compare with one aggregator's)."""

    def aggregator(p: int) -> Aggregator:
        return Aggregator(5, new_store(p),
                          owns=lambda s: slice_partition(s, partitions) == p)

    topics = [Topic(aggregator(p)) for p in range(partitions)]
    where: dict[bytes, int] = {}  # key -> the partition of its latest value
    rounds: list[list[Cell]] = []
    everything: list[Cell] = []
    for number, (writes, now) in enumerate(log.rounds):
        if number == log.rebuild_before:
            for p, topic in enumerate(topics):
                rebuilt = aggregator(p)
                replay(compacted(topic.records), rebuilt)
                seed_cells(rebuilt, everything)
                rebuilt.mark_all_dirty()
                topic.aggregator = rebuilt
        for key, value in writes:
            if key.startswith(b"erasure|"):
                targets = marker_partitions(partitions)
            elif value is None:
                targets = [where.get(key, _partition_of_key(key, partitions))]
            else:
                fact = decode_fact(value)
                target = fact_partition(fact, partitions) if fact is not None else None
                targets = [_partition_of_key(key, partitions) if target is None else target]
                where[key] = targets[0]
            for p in targets:
                topics[p].write(key, value)
        cells = []
        for topic in topics:
            topic.take()
            cells += _encoded(topic.aggregator.publish(now))
        everything += cells
        rounds.append(cells)
    return rounds


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.analytics.golden --write")
    published = published_rounds(golden_log())
    FIXTURE.write_text("\n".join(as_lines(published)) + "\n", encoding="utf-8")
    print(f"{FIXTURE}: {summary(published)}")
