"""The router tracks handovers: stall notices at the deadline to both agencies (consent
permitting), anomalies in the audit, bounces and ping-pong counted, facts for analytics."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from hub.agencies import load_agencies
from hub.analytics.facts import decode_fact
from hub.clock import FixedClock
from hub.contract.codec import get_codec
from hub.metrics import record_counts
from hub.routing.bus import new_bus
from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Incoming, Tick
from hub.routing.rules import Router
from tests.handover.flow import consent, handover, subject_of

AGENCIES = load_agencies()
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
KITA, SCHOOL, YOUTH = "kita-kamen-regenbogen", "grundschule-kamen-mitte", "jugendamt-kamen"


class Harness:
    def __init__(self):
        self.clock = FixedClock(NOW)
        self.tables = {"handovers": {}, "families": {}}
        self.engine = self.new_engine()
        self.offset = 0

    def new_engine(self):
        """An engine on the same tables (a restarted worker)."""
        return new_bus(AGENCIES, Router(AGENCIES), self.clock, timedelta(hours=24),
                             DeliveredSet(timedelta(days=90)), {}, {},
                             self.tables["handovers"], self.tables["families"])

    def send(self, *envelopes):
        out = []
        for e in envelopes:
            self.offset += 1
            out += self.engine.handle(Incoming(f"agency.{e.source}.outbox", 0, self.offset,
                                                get_codec().encode(e)))
        return out


def inbox(outputs):
    return sorted((o.topic, get_codec().decode(o.value).type.value) for o in outputs
                  if o.topic.endswith(".inbox"))


def audit(outputs):
    import json
    return [json.loads(o.value) for o in outputs if o.topic == "hub.audit"]


def facts(outputs):
    return [decode_fact(o.value).to_json() for o in outputs if o.topic == "hub.facts"]


def metric(h, name, **labels):
    """A counter's value once what the engine counted reached the metrics (as the runtime
    does after each batch)."""
    record_counts(h.engine.take_counts())
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_stall_is_sent_to_both_agencies_at_the_deadline_and_only_once():
    h = Harness()
    child = subject_of("stall")
    h.send(consent(KITA, child, [KITA, SCHOOL], NOW - timedelta(days=30)))
    # learned now; the deadline is a day after the hold window
    requested = NOW - timedelta(days=13) + timedelta(minutes=5)
    h.send(handover("requested", KITA, child, "UE-S1", requested, recipient=SCHOOL))
    before = metric(h, "hub_handovers_stalled_total", municipality="kamen",
                    waiting_for="answer")
    h.clock.advance(days=1, minutes=4)
    assert inbox(h.engine.handle(Tick(0))) == []  # one minute before the deadline
    h.clock.advance(minutes=2)
    out = h.engine.handle(Tick(0))
    assert inbox(out) == sorted([(f"agency.{KITA}.inbox", "handover.stalled"),
                                 (f"agency.{SCHOOL}.inbox", "handover.stalled")])
    notice = get_codec().decode(next(o.value for o in out if o.topic.endswith(".inbox")))
    assert notice.payload.deadline == requested + timedelta(days=14)
    assert notice.payload.waiting_for == "answer" and notice.payload.requested_by == KITA
    assert metric(h, "hub_handovers_stalled_total", municipality="kamen",
                  waiting_for="answer") == before + 1
    assert facts(out)[-1]["stalled"] == ["answer"]
    h.clock.advance(days=1)
    assert inbox(h.engine.handle(Tick(0))) == []  # reported once
    h.engine = h.new_engine()  # a restarted worker knows from its table
    assert inbox(h.engine.handle(Tick(0))) == []


def inbox_events(outputs):
    """(inbox, type, event id) of everything delivered."""
    return sorted((o.topic, e.type.value, e.id) for o in outputs if o.topic.endswith(".inbox")
                  for e in [get_codec().decode(o.value)])


def test_stall_notices_do_not_depend_on_the_order_the_exports_arrive_in():
    """A request 60 days old, accepted 4 days after it: the youth office's export and the
    school's reach the hub minutes apart, in either order. An answer in time that comes
    within the hold window is no stall; the inboxes are the same either way."""
    requested = NOW - timedelta(days=60)
    child = subject_of("order")

    def run(order):
        h = Harness()
        out = h.send(consent(YOUTH, child, [YOUTH, SCHOOL], NOW - timedelta(days=90)))
        steps = {"request": handover("requested", YOUTH, child, "UE-O1", requested,
                                     recipient=SCHOOL),
                 "answer": handover("accepted", SCHOOL, child, "UE-O1",
                                    requested + timedelta(days=4))}
        for name in order:
            out += h.send(steps[name])
            out += h.engine.handle(Tick(0))  # the worker's ticks between the two exports
            h.clock.advance(minutes=3)
        for _ in range(3):  # past the hold window
            h.clock.advance(hours=12)
            out += h.engine.handle(Tick(0))
        return inbox_events(out)

    first, second = run(["request", "answer"]), run(["answer", "request"])
    assert first == second
    assert [t for _, t, _ in first if t == "handover.stalled"] == []
    assert (f"agency.{YOUTH}.inbox", "handover.accepted") in {(i, t) for i, t, _ in first}


def test_a_request_never_answered_still_stalls_once_the_hold_window_passed():
    h = Harness()
    child = subject_of("never")
    h.send(consent(YOUTH, child, [YOUTH, SCHOOL], NOW - timedelta(days=90)))
    h.send(handover("requested", YOUTH, child, "UE-N1", NOW - timedelta(days=60),
                    recipient=SCHOOL))
    h.clock.advance(hours=23, minutes=59)
    assert inbox(h.engine.handle(Tick(0))) == []  # an answer may still be on its way
    h.clock.advance(minutes=2)
    out = h.engine.handle(Tick(0))
    assert inbox(out) == sorted([(f"agency.{YOUTH}.inbox", "handover.stalled"),
                                 (f"agency.{SCHOOL}.inbox", "handover.stalled")])
    notice = get_codec().decode(next(o.value for o in out if o.topic.endswith(".inbox")))
    assert notice.payload.deadline == NOW - timedelta(days=60) + timedelta(days=14)


def test_completion_stalls_after_acceptance_and_an_answer_in_time_does_not_stall():
    h = Harness()
    child = subject_of("completion")
    h.send(consent(KITA, child, [KITA, SCHOOL], NOW - timedelta(days=100)))
    requested = NOW - timedelta(days=89) + timedelta(hours=1)
    h.send(handover("requested", KITA, child, "UE-C1", requested, recipient=SCHOOL),
           handover("accepted", SCHOOL, child, "UE-C1", requested + timedelta(days=3)))
    h.clock.advance(days=1)
    assert inbox(h.engine.handle(Tick(0))) == []
    h.clock.advance(hours=2)
    out = h.engine.handle(Tick(0))
    assert len(inbox(out)) == 2
    assert get_codec().decode(next(o.value for o in out if o.topic.endswith(".inbox"))) \
        .payload.waiting_for == "completion"


def test_a_stall_needs_consent_for_each_agency():
    h = Harness()
    child = subject_of("consent")
    h.send(consent(KITA, child, [SCHOOL], NOW - timedelta(days=30)))  # the kita not named
    h.send(handover("requested", KITA, child, "UE-K1", NOW - timedelta(days=20),
                    recipient=SCHOOL))
    h.clock.advance(days=1, minutes=1)  # the hold window since the hub learned of it
    out = h.engine.handle(Tick(0))
    assert inbox(out) == [(f"agency.{SCHOOL}.inbox", "handover.stalled")]
    # like any event that reached one recipient, the other is refused without waiting
    refused = [r for r in audit(out) if r["decision"] == "refused"]
    assert [r["recipient"] for r in refused] == [KITA]
    assert "no consent" in refused[0]["reason"]


def test_a_stall_notice_waits_for_a_consent_that_arrives_after_it():
    h = Harness()
    child = subject_of("late-consent")
    h.send(handover("requested", KITA, child, "UE-K2", NOW - timedelta(days=20),
                    recipient=SCHOOL))
    h.clock.advance(days=1, minutes=1)
    out = h.engine.handle(Tick(0))  # the export with the family's consent is not imported yet
    assert inbox(out) == []
    out = h.send(consent(KITA, child, [KITA, SCHOOL], NOW - timedelta(days=30)))
    assert sorted(t for t, kind in inbox(out) if kind == "handover.stalled") == \
        sorted([f"agency.{KITA}.inbox", f"agency.{SCHOOL}.inbox"])


def test_anomalies_are_audited_with_their_reason_and_nothing_crashes():
    h = Harness()
    child = subject_of("anomaly")
    out = h.send(handover("accepted", SCHOOL, child, "UE-A1", NOW - timedelta(days=2)))
    out += h.send(handover("requested", KITA, child, "UE-A2", NOW - timedelta(days=2),
                           recipient=SCHOOL),
                  handover("accepted", YOUTH, child, "UE-A2", NOW - timedelta(days=1)))
    reasons = [r["reason"] for r in audit(out) if r["decision"] == "anomaly"]
    assert reasons == ["handover UE-A1: accepted before the handover was requested",
                       f"handover UE-A2: accepted by {YOUTH}, but {SCHOOL} was asked"]
    again = h.send(handover("requested", KITA, child, "UE-A2", NOW - timedelta(days=2),
                            recipient=SCHOOL))  # a re-sent request is no anomaly
    assert not [r for r in audit(again) if r["decision"] == "anomaly"]


def test_bounces_and_ping_pong_are_counted_per_municipality_and_pair():
    h = Harness()
    child = subject_of("bounce")
    pair = dict(municipality="kamen", requester=KITA, recipient=YOUTH)
    bounces = metric(h, "hub_handover_bounces_total", **pair)
    t = NOW - timedelta(days=40)
    h.send(handover("requested", KITA, child, "UE-B1", t, recipient=SCHOOL),
           handover("declined", SCHOOL, child, "UE-B1", t + timedelta(days=1)))
    out = h.send(handover("requested", KITA, child, "UE-B2", t + timedelta(days=2),
                          recipient=YOUTH))
    assert metric(h, "hub_handover_bounces_total", **pair) == bounces + 1
    assert facts(out)[0]["bounce"] is True
    pong = dict(municipality="kamen", requester=YOUTH, recipient=KITA)
    before = metric(h, "hub_handover_ping_pong_total", **pong)
    h.send(handover("requested", YOUTH, child, "UE-B3", t + timedelta(days=10),
                    recipient=KITA))
    assert metric(h, "hub_handover_ping_pong_total", **pong) == before  # two so far
    out = h.send(handover("requested", YOUTH, child, "UE-B4", t + timedelta(days=20),
                          recipient=KITA))
    assert metric(h, "hub_handover_ping_pong_total", **pong) == before + 1
    assert facts(out)[0]["ping_pong"] is True
    h.send(handover("requested", YOUTH, child, "UE-B4", t + timedelta(days=20),
                    recipient=KITA))  # re-sent: not counted again
    assert metric(h, "hub_handover_ping_pong_total", **pong) == before + 1


def test_facts_carry_each_event_and_the_handover_state():
    h = Harness()
    child = subject_of("facts")
    out = h.send(handover("requested", KITA, child, "UE-F1", NOW - timedelta(days=3),
                          recipient=SCHOOL))
    kinds = {(f["kind"], f.get("outcome")) for f in facts(out)}
    assert kinds == {("handover", None), ("event", "held")}
    hand = next(f for f in facts(out) if f["kind"] == "handover")
    assert (hand["requester_kind"], hand["recipient_kind"]) == ("daycare", "school")


def test_bounces_and_ping_pong_follow_request_times_not_arrival_order():
    """The decline comes from the school's outbox and one request from the youth office's:
    they may arrive after the day-care centre's later requests, and the flags must end up
    as if everything had arrived in order."""
    child = subject_of("out-of-order")
    base = NOW - timedelta(days=20)
    steps = [
        handover("requested", KITA, child, "UE-O0", base, SCHOOL),
        handover("declined", SCHOOL, child, "UE-O0", base + timedelta(days=1)),
        handover("requested", KITA, child, "UE-O1", base + timedelta(days=2), YOUTH),
        handover("requested", YOUTH, child, "UE-O2", base + timedelta(days=3), KITA),
        handover("requested", KITA, child, "UE-O3", base + timedelta(days=4), YOUTH),
    ]

    def final_flags(order):
        h = Harness()
        latest = {}
        for i in order:
            for fact in [f for f in facts(h.send(steps[i])) if f["kind"] == "handover"]:
                latest[fact["id"]] = (fact["bounce"], fact["ping_pong"])
        return latest

    in_order = final_flags([0, 1, 2, 3, 4])
    assert in_order == {"UE-O0": (False, False), "UE-O1": (True, False),
                        "UE-O2": (False, False), "UE-O3": (False, True)}
    # the day-care centre's outbox first, then the youth office's, then the school's
    assert final_flags([0, 2, 4, 3, 1]) == in_order


def test_consents_in_force_are_counted_per_purpose():
    from hub.consent.ledger import ConsentState

    h = Harness()
    for n in range(3):
        h.send(consent(KITA, subject_of(f"counted-{n}"), [SCHOOL], NOW - timedelta(days=3),
                       consent_id=f"EW-C{n}"))
    assert h.engine.stores.consents.active(h.clock.now()) == {"uebergang_kita_schule": 3}
    state = ConsentState("EW-1", "fruehe_hilfen", ("x",), NOW.date(), None, NOW)
    assert state.active_at(NOW)
    assert not replace(state, revoked_at=NOW - timedelta(hours=1)).active_at(NOW)
    assert replace(state, revoked_at=NOW + timedelta(days=1)).active_at(NOW)
    assert not replace(state, valid_to=NOW.date() - timedelta(days=1)).active_at(NOW)
    assert not replace(state, valid_from=NOW.date() + timedelta(days=1)).active_at(NOW)
