"""Handover tracking and analytics against the real broker and the session's worker:
stall notices at the deadline, state that survives a restart, bounces and ping-pong in
the analytics, cells suppressed as specified and corrected by late events."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest

from hub.analytics.records import (
    MONTHLY_HANDOVERS,
    WEEKLY_ACTIVITY,
    cell_key,
    decode_record,
    iso_week,
    month_of,
)
from hub.analytics.suppression import PublishedTable, recoverable_cells
from hub.contract.codec import get_codec
from hub.kafka_io import producer, read_to_end
from hub.routing.delivered import DELIVERED_AT_HEADER
from hub.tail import Tail
from tests.handover.flow import consent, handover, offer, subject_of
from tests.support.clock import hub_now
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

KITA, SCHOOL, YOUTH = "kita-kamen-regenbogen", "grundschule-kamen-mitte", "jugendamt-kamen"


def send(bootstrap, *envelopes):
    p = producer(bootstrap, "test-handovers")
    try:
        for e in envelopes:
            p.send(f"agency.{e.source}.outbox", key=e.subject.encode(),
                   value=get_codec().encode(e))
        p.flush()
    finally:
        p.close()


class Inboxes:
    """Everything that arrives in some inboxes from now on (raw, with headers)."""

    def __init__(self, bootstrap, agencies):
        from kafka import TopicPartition

        from hub.kafka_io import consumer
        self.consumer = consumer(bootstrap, group_id=None, enable_auto_commit=False)
        tps = [TopicPartition(f"agency.{a}.inbox", p) for a in agencies
               for p in self.consumer.partitions_for_topic(f"agency.{a}.inbox")]
        self.consumer.assign(tps)
        self.consumer.seek_to_end(*tps)
        for tp in tps:
            self.consumer.position(tp)
        self.records = []

    def wait(self, condition, timeout, what):
        def done():
            for batch in self.consumer.poll(timeout_ms=200).values():
                for r in batch:
                    headers = dict(r.headers or [])
                    self.records.append((r.topic, get_codec().decode(r.value), headers))
            return condition(self.records)
        wait_for(done, timeout, what)

    def close(self):
        self.consumer.close()


def stalls_of(records, handover_id):
    return [(topic, e, h) for topic, e, h in records
            if e.type.value == "handover.stalled" and e.correlation_id == handover_id]


def test_stalls_reach_both_agencies_at_the_deadline_and_state_survives_a_restart(worker):
    bootstrap = worker.env.bootstrap
    child = subject_of(f"stall-{uuid.uuid4()}")
    hid = f"UE-STALL-{uuid.uuid4().hex[:8]}"
    now = hub_now()
    requested = now - timedelta(days=14) + timedelta(seconds=25)
    requested = requested.replace(microsecond=requested.microsecond // 1000 * 1000)  # Avro ms
    deadline = requested + timedelta(days=14)
    inboxes = Inboxes(bootstrap, [KITA, SCHOOL])
    try:
        send(bootstrap, consent(KITA, child, [KITA, SCHOOL], now - timedelta(days=30),
                                consent_id=f"EW-{hid}"),
             handover("requested", KITA, child, hid, requested, recipient=SCHOOL))
        inboxes.wait(lambda rs: len(stalls_of(rs, hid)) == 2, 120,
                     "handover.stalled in both inboxes")
        stalls = stalls_of(inboxes.records, hid)
        assert sorted(topic for topic, _, _ in stalls) == sorted([f"agency.{KITA}.inbox",
                                                                  f"agency.{SCHOOL}.inbox"])
        for _, notice, headers in stalls:
            assert notice.payload.deadline == deadline
            assert notice.payload.waiting_for == "answer"
            delivered_at = datetime.fromisoformat(headers[DELIVERED_AT_HEADER].decode())
            assert delivered_at >= deadline  # not before the deadline
        # the request itself reached the school before the stall
        assert any(e.type.value == "handover.requested" and e.correlation_id == hid
                   for _, e, _ in inboxes.records)

        worker.kill()
        worker.start()
        answered = requested + timedelta(days=16)
        send(bootstrap, handover("accepted", SCHOOL, child, hid, answered))
        # the restarted worker still knows who asked: the answer reaches the kita
        inboxes.wait(lambda rs: any(e.type.value == "handover.accepted"
                                    and e.correlation_id == hid for _, e, _ in rs),
                     120, "the late answer in the kita's inbox")
        assert len(stalls_of(inboxes.records, hid)) == 2  # not reported again
    finally:
        inboxes.close()
    audit = [r.value for r in Tail(bootstrap, ["hub.audit"], from_beginning=True,
                                   timeout=2.0) if r.value and r.value["subject"] == child]
    assert not [r for r in audit if r["decision"] == "anomaly"], audit


def latest(bootstrap, topic):
    cells = {}
    for record in read_to_end(bootstrap, topic):
        if record.value is None:
            cells.pop(record.key, None)
        else:
            cells[record.key] = decode_record(topic, record.value)
    return cells


def test_bounces_ping_pong_and_suppression_in_the_monthly_handovers(worker):
    bootstrap = worker.env.bootstrap
    town, kita, school, youth = "werne", "kita-luenen-sonnenschein", \
        "grundschule-kamen-mitte", "jugendamt-werne"
    health, jobcenter = "gesundheitsamt-kreis-unna", "jobcenter-kreis-unna"
    base = (hub_now() - timedelta(days=45)).replace(day=5, hour=10, minute=0, second=0,
                                                    microsecond=0)
    month = month_of(base)
    run = uuid.uuid4().hex[:6]
    events, subjects = [], []
    for n in range(5):  # five children, each: declined, bounced, and handed back and forth
        child = subject_of(f"pingpong-{run}-{n}")
        subjects.append(child)
        ids = [f"UE-{run}-{n}-{i}" for i in range(4)]
        events += [
            handover("requested", kita, child, ids[0], base, school, town),
            handover("declined", school, child, ids[0], base + timedelta(days=1), None, town),
            handover("requested", kita, child, ids[1], base + timedelta(days=2), youth, town),
            handover("requested", youth, child, ids[2], base + timedelta(days=3), kita, town),
            handover("requested", kita, child, ids[3], base + timedelta(days=4), youth, town),
        ]
    # two children from a school to the health office: a cell below k, and six each from
    # the school to the Jobcenter and from the youth office to the health office, where
    # the complementary suppression finds its partners
    for sender, recipient, count in ((school, health, 2), (school, jobcenter, 6),
                                     (youth, health, 6)):
        for n in range(count):
            child = subject_of(f"small-{run}-{sender}-{recipient}-{n}")
            subjects.append(child)
            events.append(handover("requested", sender, child, f"UE-{run}-{sender}-{recipient}{n}",
                                   base, recipient, town))
    send(bootstrap, *events)

    def cell(cells, from_kind, to_kind):
        return cells.get(cell_key(month, town, from_kind, to_kind))

    seen = {}

    def ready():
        cells = latest(bootstrap, MONTHLY_HANDOVERS)
        c = cell(cells, "daycare", "youth_office")
        small = cell(cells, "school", "health")
        seen["cell"], seen["small"] = c, small
        return cells if c and c["handovers"] == 10 and c["ping_pong"] == 5 and \
            c["stalled"] == 10 and small else None

    try:
        cells = wait_for(ready, 120, "the monthly handover cells")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {seen}") from None
    bounced = cell(cells, "daycare", "youth_office")
    assert (bounced["subjects"], bounced["bounces"], bounced["ping_pong"]) == (5, 5, 5)
    assert (bounced["open"], bounced["suppressed"]) == (10, False)
    declined = cell(cells, "daycare", "school")
    assert (declined["handovers"], declined["declined"], declined["open"]) == (5, 5, 0)
    assert declined["median_days_to_answer"] == 1.0
    small = cell(cells, "school", "health")
    assert small["suppressed"] and small["suppression"] == "primary"
    assert small["handovers"] is None and small["subjects"] is None

    # nothing of the slice lets an analyst compute the small cell from the totals
    slice_ = {k: v for k, v in cells.items() if k.startswith(f"{month}|{town}|".encode())}
    rows = sorted({v["from_kind"] for v in slice_.values() if v["from_kind"]})
    columns = sorted({v["to_kind"] for v in slice_.values() if v["to_kind"]})
    table = PublishedTable(
        tuple(rows), tuple(columns),
        {(r, c): (slice_[cell_key(month, town, r, c)]["subjects"]
                  if cell_key(month, town, r, c) in slice_ else 0)
         for r in rows for c in columns},
        {r: slice_[cell_key(month, town, r, None)]["subjects"] for r in rows},
        {c: slice_[cell_key(month, town, None, c)]["subjects"] for c in columns},
        slice_[cell_key(month, town, None, None)]["subjects"], k=5)
    assert ("school", "health") in table.suppressed_cells()
    assert slice_[cell_key(month, town, "school", "jobcenter")]["suppression"] == \
        "complementary"
    assert not recoverable_cells(table)

    published = json.dumps([{k.decode(): v for k, v in latest(bootstrap, t).items()}
                            for t in (MONTHLY_HANDOVERS, WEEKLY_ACTIVITY)], default=str)
    for child in subjects:
        assert child not in published
    assert f"UE-{run}" not in published


def test_a_late_event_corrects_its_weekly_cell(worker):
    bootstrap = worker.env.bootstrap
    town, agency, category = "selm", "jugendamt-selm", f"Elternkurs {uuid.uuid4().hex[:4]}"
    day = hub_now() - timedelta(days=35)
    week, _ = iso_week(day.date())
    children = [subject_of(f"late-{category}-{n}") for n in range(6)]
    send(bootstrap, *[offer(agency, c, day, category, town) for c in children[:5]])
    key = cell_key(week, town, "kita", "offer.accepted", category)
    def cell_with(subjects):
        value = latest(bootstrap, WEEKLY_ACTIVITY).get(key)
        return value if value and value["subjects"] == subjects else None

    first = wait_for(lambda: cell_with(5), 120, "the weekly cell")
    assert (first["subjects"], first["events"], first["suppressed"]) == (5, 5, False)
    # a re-imported export from last month brings one more child and one repeated event
    send(bootstrap, offer(agency, children[5], day, category, town),
         offer(agency, children[0], day, category, town))
    corrected = wait_for(lambda: cell_with(6), 120, "the corrected cell")
    assert (corrected["subjects"], corrected["events"]) == (6, 6)
    assert corrected["updated_at"] > first["updated_at"]
