"""Erasure in the facts: an erased child's pseudonym leaves ``hub.facts`` and the
published cells stay as they are (no broker)."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import uuid
from collections import namedtuple
from dataclasses import replace
from datetime import timedelta

import pytest

from hub.analytics import agent, erasure
from hub.analytics.aggregate import Aggregator
from hub.analytics.erasure import ErasureError, erasure_records, parse_marker
from hub.analytics.facts import Outcome, encode_fact, erasure_marker, fact_key
from hub.analytics.records import decode_record, encode_record
from hub.metrics import ANALYTICS_FACTS
from tests.analytics.test_aggregate import NOW, aggregate, cells, event, handover_fact

CHILD = "5e1f" * 16  # the erased child's pseudonym (lowercase hex)
TOKEN = "0123456789abcdef" * 2
OTHER = [f"{n:064x}" for n in range(1, 9)]  # the other children

Record = namedtuple("Record", "offset key value")


class Topic:
    """``hub.facts`` as a list of records: (offset, key, value)."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes, bytes | None]] = []

    def write(self, key: bytes, value: bytes | None) -> int:
        self.records.append((len(self.records), key, value))
        return len(self.records) - 1

    def fact(self, fact) -> int:
        return self.write(fact_key(fact), encode_fact(fact))

    def marker(self, erasure_id="er-1", subject=CHILD, token=TOKEN) -> tuple[int, bytes]:
        key, value = erasure_marker(erasure_id, subject, token)
        return self.write(key, value), value

    def as_records(self):
        return [Record(*r) for r in self.records]


def child_facts(subject=CHILD, prefix="c"):
    """The child's facts: events in two weeks, refusals, a handover."""
    return [event(f"{prefix}1", subject),
            event(f"{prefix}2", subject, type_="screening.completed"),
            event(f"{prefix}3", subject, time=NOW - timedelta(days=1)),
            event(f"{prefix}4", subject, outcome="refused_no_consent"),
            handover_fact(f"{prefix}5", subject, answer="accepted", answered_after=2)]


def others():
    """Five other children with the same kinds of facts (k=5: every cell shown)."""
    return [f for n, subject in enumerate(OTHER[:5]) for f in child_facts(subject, f"o{n}-")]


def new_id(old_id, token=TOKEN):
    return str(uuid.uuid5(uuid.UUID(token), old_id))


# --- the records written -------------------------------------------------------------------


def test_the_childs_facts_before_the_marker_are_rewritten_with_the_token():
    topic = Topic()
    for fact in others():
        topic.fact(fact)
    mine = child_facts()[::-1]  # in topic order, not in the order of their keys
    for fact in mine:
        topic.fact(fact)
    offset, value = topic.marker()
    out = erasure_records(offset, value, topic.records)

    assert len(out) == 2 * len(mine) + 1
    for n, fact in enumerate(mine):
        key, written = out[2 * n]
        expected = replace(fact, id=new_id(fact.id), subject=TOKEN)
        assert key == f"{fact.kind}|{new_id(fact.id)}".encode()
        assert written == encode_fact(expected)
        assert out[2 * n + 1] == (fact_key(fact), None)  # the old key: a tombstone
    assert out[-1] == (b"erasure|er-1", None)  # the marker last
    other_keys = {fact_key(f) for f in others()}
    assert not other_keys & {key for key, _ in out}


def test_the_pseudonym_is_in_no_record_written():
    topic = Topic()
    for fact in others() + child_facts():
        topic.fact(fact)
    offset, value = topic.marker()
    out = erasure_records(offset, value, topic.records)
    assert [v for _, v in out if v is not None]
    for key, written in out:
        assert CHILD.encode() not in key
        assert written is None or CHILD.encode() not in written


def test_the_childs_facts_after_the_marker_are_a_new_history_and_stay():
    topic = Topic()
    before = child_facts()
    for fact in before:
        topic.fact(fact)
    offset, value = topic.marker()
    after = [event("new-1", CHILD), handover_fact("new-2", CHILD)]  # a new consent
    for fact in after:
        topic.fact(fact)
    out = erasure_records(offset, value, topic.records)
    keys = {key for key, _ in out}
    assert {fact_key(f) for f in before} <= keys
    assert not {fact_key(f) for f in after} & keys


def test_a_key_written_again_after_the_marker_is_skipped():
    topic = Topic()
    redecided, handover, kept = event("c1", CHILD, outcome="held"), handover_fact("c5", CHILD), \
        event("c2", CHILD)
    for fact in (redecided, handover, kept):
        topic.fact(fact)
    offset, value = topic.marker()
    topic.fact(replace(redecided, outcome=Outcome.ROUTED))  # the same key, after the marker
    topic.write(fact_key(handover), None)  # a tombstone after the marker
    out = erasure_records(offset, value, topic.records)
    assert [key for key, v in out if v is None] == [fact_key(kept), b"erasure|er-1"]


def test_only_the_latest_record_of_a_key_before_the_marker_counts():
    topic = Topic()
    gone, moved = event("c1", CHILD), event("c2", CHILD)
    topic.fact(gone)
    topic.fact(moved)
    topic.write(fact_key(gone), None)  # deleted before the marker
    topic.fact(replace(moved, subject=OTHER[0]))  # now another child's fact
    topic.fact(event("o1", OTHER[0]))
    offset, value = topic.marker()
    assert erasure_records(offset, value, topic.records) == [(b"erasure|er-1", None)]


def test_facts_before_an_earlier_erasure_of_the_same_pseudonym_are_that_erasures():
    topic = Topic()
    first, second = child_facts(prefix="a"), child_facts(prefix="b")
    for fact in first:
        topic.fact(fact)
    first_offset, first_value = topic.marker("er-1", token="1" * 32)
    for fact in second:  # a new consent, then erased again
        topic.fact(fact)
    offset, value = topic.marker("er-2", token=TOKEN)
    # the first erasure not carried out yet: each takes its own history
    out = erasure_records(offset, value, topic.records)
    assert {key for key, v in out if v is None} == \
        {fact_key(f) for f in second} | {b"erasure|er-2"}
    earlier = erasure_records(first_offset, first_value, topic.records)
    assert {key for key, v in earlier if v is None} == \
        {fact_key(f) for f in first} | {b"erasure|er-1"}


def test_a_record_of_the_child_that_is_no_fact_is_deleted_not_rewritten():
    topic = Topic()
    kept = event("c1", CHILD)
    topic.fact(kept)
    broken = raw(kept.to_json() | {"outcome": "maybe"})  # no cell counts it
    topic.write(b"event|c9", broken)
    offset, value = topic.marker()
    out = erasure_records(offset, value, topic.records)
    assert [key for key, v in out if v is None] == [fact_key(kept), b"event|c9",
                                                    b"erasure|er-1"]
    assert all(CHILD.encode() not in v for _, v in out if v is not None)


def test_the_same_marker_gives_the_same_records_and_a_second_run_finishes_the_first():
    topic = Topic()
    for fact in others() + child_facts():
        topic.fact(fact)
    offset, value = topic.marker()
    out = erasure_records(offset, value, topic.records)
    assert erasure_records(offset, value, list(topic.records)) == out

    for key, written in out[:5]:  # the first run stopped after five records
        topic.write(key, written)
    again = erasure_records(offset, value, topic.records)
    # the third fact was written, its old key not yet deleted: written again, the same
    assert again == out[4:]
    for key, written in again:
        topic.write(key, written)
    assert erasure_records(offset, value, topic.records) == [(b"erasure|er-1", None)]


def test_only_values_that_hold_the_pseudonym_are_decoded(monkeypatch):
    topic = Topic()
    for fact in others() + child_facts():
        topic.fact(fact)
    topic.write(b"event|o0-1", None)
    offset, value = topic.marker()
    decoded = []

    def counting(data):
        decoded.append(data)
        return original(data)
    original = erasure.decode_fact
    monkeypatch.setattr(erasure, "decode_fact", counting)
    erasure_records(offset, value, topic.records)
    assert decoded and all(CHILD.encode() in d for d in decoded)
    assert len(decoded) == len(child_facts()) + 1  # and the marker itself


def raw(value: dict) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize("broken", [
    b"not json", raw({"kind": "event", "id": "x", "subject": CHILD}),
    raw({"kind": "erasure", "id": "er-1", "subject": CHILD, "token": "xyz"}),
    raw({"kind": "erasure", "id": "er-1", "subject": CHILD, "token": TOKEN.upper()}),
    raw({"kind": "erasure", "id": "er-1", "subject": "", "token": TOKEN}),
])
def test_a_broken_marker_is_refused_without_naming_the_pseudonym(broken):
    with pytest.raises(ErasureError) as refused:
        erasure_records(0, broken, [])
    assert CHILD not in str(refused.value)


def test_a_marker_shows_no_pseudonym_in_its_repr():
    marker = parse_marker(erasure_marker("er-1", CHILD, TOKEN)[1])
    assert (marker.subject, marker.token) == (CHILD, TOKEN)
    assert CHILD not in repr(marker) and TOKEN not in repr(marker)


# --- the published cells -------------------------------------------------------------------


def published_and_topic(after=()):
    """An aggregator that has published the cells of five other children and the erased
    one, the topic up to the marker (and ``after`` it), and the marker."""
    topic = Topic()
    agg = aggregate(*others(), *child_facts())
    for fact in others() + child_facts():
        topic.fact(fact)
    offset, value = topic.marker()
    for fact in after:
        topic.fact(fact)
    first = cells(agg.publish(NOW))
    return agg, topic, offset, value, first


def test_the_rewrite_changes_no_published_cell_where_a_deletion_would():
    agg, topic, offset, value, first = published_and_topic(after=[event("new-1", CHILD)])
    shown = [r for r in first.values() if not r["suppressed"] and r["subjects"]]
    assert len(shown) >= 10 and any(r["subjects"] == 6 for r in shown)  # the child counted

    deleted = copy.deepcopy(agg)
    for fact in child_facts():
        deleted.remove(fact.kind, fact.id)
    assert deleted.publish(NOW + timedelta(hours=1))  # a plain deletion changes cells

    out = erasure_records(offset, value, topic.records)
    agg.apply_rewrite(out)
    assert agg.publish(NOW + timedelta(hours=1)) == []  # while the records travel
    for key, written in out:  # they come back through the topic
        kind, _, fact_id = key.decode().partition("|")
        if written is None:
            agg.remove(kind, fact_id)
        elif kind != "erasure":
            assert agg.apply(erasure.decode_fact(written))
    assert agg.dirty == 0
    assert agg.publish(NOW + timedelta(hours=2)) == []
    assert len(agg) == len(others()) + len(child_facts())


def test_a_takeover_after_the_erasure_rebuilds_the_same_cells_and_nothing_to_do():
    agg, topic, offset, value, first = published_and_topic()
    out = erasure_records(offset, value, topic.records)
    agg.apply_rewrite(out)
    for key, written in out:
        topic.write(key, written)

    rebuilt = Aggregator(5)
    facts, end, markers = agent.replay(topic.as_records(), rebuilt)
    assert (facts, end, markers) == (len(others()) + 2 * len(child_facts()),
                                     len(topic.records), [])
    for (name, key), record in first.items():
        rebuilt.seed_published(name, key, decode_record(name, encode_record(name, record)))
    rebuilt.mark_all_dirty()
    assert rebuilt.publish(NOW + timedelta(hours=1)) == []
    assert len(rebuilt) == len(agg)


def test_a_takeover_finds_the_markers_not_carried_out_in_topic_order():
    topic = Topic()
    for fact in child_facts():
        topic.fact(fact)
    topic.marker("er-1")
    topic.marker("er-0", subject=OTHER[0], token="2" * 32)
    topic.fact(event("o1", OTHER[1]))
    topic.write(b"erasure|er-0", None)  # carried out
    late_offset, late_value = topic.marker("er-2", subject=OTHER[1], token="3" * 32)
    topic.write(fact_key(event("c1", CHILD)), None)
    agg = Aggregator(5)
    facts, end, markers = agent.replay(topic.as_records(), agg)
    assert [key for key, _, _ in markers] == [b"erasure|er-1", b"erasure|er-2"]
    assert markers[1] == (b"erasure|er-2", late_offset, late_value)
    assert facts == len(child_facts()) + 1 and end == len(topic.records)
    assert len(agg) == len(child_facts())  # the tombstone applied, markers no facts


# --- the agent carrying a marker out -----------------------------------------------------


def carry_out(monkeypatch, topic, offset, value, agg, *, fail_reading=False,
              refused=None):
    def read(bootstrap, partition):
        assert partition is None  # hub.facts of one partition: all of it
        if fail_reading:
            raise RuntimeError(f"broker gone while reading a fact of {CHILD}")
        return iter(topic.records)
    monkeypatch.setattr(agent, "read_erasure_records", read)
    sent = []

    async def send(key, written):
        sent.append((key, written))
        future = asyncio.get_running_loop().create_future()
        if len(sent) == refused:
            future.set_exception(RuntimeError("not acknowledged"))
        else:
            future.set_result(None)
        return future
    key = b"erasure|er-1"
    ok = asyncio.run(agent.carry_out_erasure(None, agg, send, key, offset, value))
    return ok, sent


def counted(result):
    return ANALYTICS_FACTS.labels(kind="erasure", result=result)._value.get()


def test_the_agent_rewrites_sends_in_order_and_counts(monkeypatch):
    agg, topic, offset, value, _ = published_and_topic()
    applied = counted("applied")
    ok, sent = carry_out(monkeypatch, topic, offset, value, agg)
    assert ok and sent == erasure_records(offset, value, topic.records)
    assert sent[-1] == (b"erasure|er-1", None)
    assert counted("applied") == applied + 1
    assert agg.publish(NOW + timedelta(hours=1)) == []
    assert not [fact for fact in agg.store.facts() if fact.subject == CHILD]


def test_a_failed_erasure_is_logged_without_the_pseudonym_and_the_agent_goes_on(
        monkeypatch, caplog):
    agg, topic, offset, value, _ = published_and_topic()
    failed = counted("failed")
    with caplog.at_level(logging.INFO, logger="hub.analytics.agent"):
        ok, sent = carry_out(monkeypatch, topic, offset, value, agg, fail_reading=True)
    assert not ok and sent == []
    assert counted("failed") == failed + 1
    assert "er-1" in caplog.text and "broker gone" in caplog.text
    assert CHILD not in caplog.text
    assert len([f for f in agg.store.facts() if f.subject == CHILD]) == len(child_facts())


def test_the_marker_stays_when_a_record_of_the_rewrite_is_not_acknowledged(monkeypatch):
    agg, topic, offset, value, _ = published_and_topic()
    failed = counted("failed")
    ok, sent = carry_out(monkeypatch, topic, offset, value, agg, refused=2)
    assert not ok and counted("failed") == failed + 1
    assert sent == erasure_records(offset, value, topic.records)[:-1]  # not the marker's
