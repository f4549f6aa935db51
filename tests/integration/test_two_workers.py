"""Several workers share the routing: with two workers in one consumer group, one killed
(SIGKILL) while events flow and a third joining afterwards, each recipient still gets each
event once.

The session's worker is one of the two; the others are started in its consumer group (same
HUB_HOME and settings, their own log and metrics port) and stopped at the end whatever
happened, and the session's worker is left running for the tests that follow.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from urllib.request import urlopen

import pytest

from connectors.ingest import Conversion
from connectors.publish import publish
from hub.agencies import load_agencies
from hub.kafka_io import producer
from hub.tail import Tail
from hub.topics import router_partitions
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row
from tests.support.session import SESSION_WORKERS, Worker
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

SENDER, RECIPIENT = "kreisjugendamt-unna", "jugendamt-unna"
OUTBOX, INBOX = f"agency.{SENDER}.outbox", f"agency.{RECIPIENT}.inbox"
CHILDREN, EVENTS_EACH = 150, 20  # 3,000 handover requests, in two exports of 1,500


def exports(tmp_path, tag):
    """The consents of every child, and their handover requests in two files (the first
    half of each child's requests, then the second)."""
    consents, halves = [], ([], [])
    for child in range(CHILDREN):
        person = {"Vorname": f"Kind{child}y{tag}", "Nachname": "Muster",
                  "Geburtsdatum": "02.09.2020", "Wohnort": "Bönen"}
        consents.append(consent_row(**{"Einwilligungs-ID": f"EW-{tag}-{child}"}, **person,
                                    Zweck="Frühe Hilfen", Empfaenger=RECIPIENT,
                                    Gueltig_ab="01.01.2026", Gueltig_bis=""))
        for n in range(EVENTS_EACH):
            halves[n * 2 // EVENTS_EACH].append(youth_office_row(
                Vorgangsnummer=f"JA-{tag}-{child}-{n}", **person, Zielstelle=RECIPIENT,
                Zweck="Frühe Hilfen", **{"Uebergabe-ID": f"UE-{tag}-{child}-{n}"}))
    consent_file = write_export(tmp_path / f"einwilligungen_{SENDER}.csv", consents,
                                columns=CONSENT_COLUMNS)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = write_export(tmp_path / "first" / f"{SENDER}_export.csv", halves[0])
    second = write_export(tmp_path / "second" / f"{SENDER}_export.csv", halves[1])
    return consent_file, first, second


def event_ids(path, key) -> set[str]:
    return {o.envelope.id for o in Conversion(path, load_agencies(), key).outcomes()
            if o.envelope}


def send(bootstrap, path, key):
    kp = producer(bootstrap, "test-two-workers")
    try:
        summary = publish(Conversion(path, load_agencies(), key), kp, report=lambda m: None)
        assert not summary.unacknowledged
    finally:
        kp.close()


def ours(bootstrap, ids) -> Counter:
    return Counter(r.value["id"] for r in Tail(bootstrap, [INBOX], from_beginning=True,
                                                timeout=1.5)
                   if r.value and r.value["id"] in ids)


def outbox_lag(w: Worker) -> dict[int, float]:
    """Partition -> records not yet committed, for the partitions of the sender's outbox
    the worker reads now (its consumer-lag gauges: one per partition it holds, removed when
    the partition moves to another worker)."""
    try:
        with urlopen(f"http://127.0.0.1:{w.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found = {}
    for labels, value in re.findall(r"^hub_consumer_lag\{([^}]*)\} (\S+)$", text,
                                    re.MULTILINE):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("topic") == OUTBOX:
            found[int(fields["partition"])] = float(value)
    return found


def outbox_partitions(w: Worker) -> set[int]:
    return set(outbox_lag(w))


def sharing(*workers: Worker) -> bool:
    """Every partition of the outbox is read by exactly one of ``workers``, and each of
    them reads at least one."""
    held = [outbox_partitions(w) for w in workers]
    every = sorted(p for partitions in held for p in partitions)
    return all(held) and every == list(range(router_partitions()))


def wait_sharing(what: str, *workers: Worker, timeout: float = 120) -> None:
    """Wait until ``workers`` share the outbox; on a timeout say who holds what, and which
    worker reports a rebalance it never finished."""
    try:
        wait_for(lambda: sharing(*workers), timeout, what)
    except AssertionError:
        held = {w.log.stem: sorted(outbox_partitions(w)) for w in workers}
        stuck = [w.log.stem for w in workers if "Task timed out" in w.log_text()]
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}: outbox "
                             f"partitions held {held}; stuck in a rebalance (Faust: Task "
                             f"timed out): {stuck or 'none'}") from None


@pytest.fixture
def more_workers(worker, tmp_path):
    """Start further workers in the session worker's consumer group: ``start(name)``.
    At the end every one of them is stopped, and the session's worker runs."""
    started: list[Worker] = []

    def start(name: str) -> Worker:
        w = Worker(worker.env, tmp_path / f"{name}.log")
        started.append(w)
        SESSION_WORKERS.append(w)  # a failure report shows its stacks and log too
        w.start()
        return w

    try:
        yield start
    finally:
        for w in started:
            w.stop()
            SESSION_WORKERS.remove(w)
        if worker.proc is None or worker.proc.poll() is not None:
            worker.start()


def test_two_workers_one_killed_one_joining_lose_and_double_nothing(
        worker, more_workers, topics, tmp_path, pseudonym_key):
    consent_file, first, second = exports(tmp_path, uuid.uuid4().hex[:6])
    first_ids, second_ids = event_ids(first, pseudonym_key), event_ids(second, pseudonym_key)
    sent = first_ids | second_ids
    assert len(first_ids) == len(second_ids) == len(sent) // 2 == CHILDREN * EVENTS_EACH // 2

    doomed = more_workers("worker-b")
    wait_sharing("two workers to share the outbox", worker, doomed)
    doomed_holds = outbox_partitions(doomed)
    send(topics.bootstrap, consent_file, pseudonym_key)

    arrivals = Tail(topics.bootstrap, [INBOX], timeout=120)  # positioned before we publish
    publisher = threading.Thread(target=send, args=(topics.bootstrap, first, pseudonym_key))
    publisher.start()
    # kill the second worker while both deliver: a third of the events are in
    # (an event's inbox partition has the number of its outbox partition: same key, same
    # partition count)
    seen: Counter = Counter()
    for record in arrivals:
        if record.value and record.value["id"] in sent:
            seen[record.partition] += 1
        if seen.total() >= len(sent) // 3:
            doomed.kill()
            break
    arrivals.close()
    publisher.join()
    assert doomed.proc.returncode is not None, f"only {seen.total()} events arrived"
    assert any(seen[p] for p in doomed_holds), (doomed_holds, seen)  # it did route
    partly = ours(topics.bootstrap, sent)
    assert 0 < len(partly) < len(sent)

    # a third worker joins the group (the dead worker's partitions may still wait for its
    # session to expire), takes partitions over, then the second half is published
    joining = more_workers("worker-c")
    wait_sharing("the third worker to take partitions over", worker, joining)
    send(topics.bootstrap, second, pseudonym_key)

    def arrived():
        counts = ours(topics.bootstrap, sent)
        return counts if len(counts) == len(sent) else None

    try:
        received = wait_for(arrived, 240, "every event to arrive", interval=2)
    except AssertionError:
        missing = sent - set(ours(topics.bootstrap, sent))
        raise AssertionError(f"{len(missing)} of {len(sent)} events never arrived "
                             f"({len(missing & first_ids)} of the first half), e.g. "
                             f"{sorted(missing)[:5]}") from None
    # and once the workers have committed every record of the outbox, nothing came twice
    wait_sharing("the workers to share the outbox at the end", worker, joining)
    wait_for(lambda: not any(n for w in (worker, joining) for n in outbox_lag(w).values()),
             120, "the workers to commit the whole outbox")
    received = ours(topics.bootstrap, sent)
    assert set(received) == sent  # nothing missing
    doubled = sorted(i for i, n in received.items() if n > 1)
    assert not doubled, f"{len(doubled)} events arrived twice, e.g. {doubled[:5]}"
