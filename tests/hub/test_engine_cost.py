"""What one event costs the router does not grow with its family's history: the family's
consents are decoded once per event, the handover state of a long history is a small
window, and held events are decoded once and decided again only when what they wait for
changed."""

from datetime import UTC, datetime, timedelta

import pytest

from hub.agencies import load_agencies
from hub.clock import FixedClock
from hub.consent.ledger import ConsentState
from hub.contract.codec import get_codec
from hub.handover.machine import Handover
from hub.routing.bus import new_bus
from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Incoming
from hub.routing.rules import Router
from tests.handover.flow import consent, handover, offer, subject_of

AGENCIES = load_agencies()
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
KITA, SCHOOL, YOUTH = "kita-kamen-regenbogen", "grundschule-kamen-mitte", "jugendamt-kamen"


class Counting:
    """Counts the calls of a function it stands in for."""

    def __init__(self, target):
        self.target, self.calls = target, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.target(*args, **kwargs)


class Harness:
    def __init__(self):
        self.families: dict = {}
        self.engine = new_bus(AGENCIES, Router(AGENCIES), FixedClock(NOW),
                                    timedelta(hours=24), DeliveredSet(timedelta(days=90)),
                                    {}, {}, {}, self.families)
        self.offset = 0

    def send(self, *envelopes):
        out = []
        for e in envelopes:
            self.offset += 1
            out += self.engine.handle(Incoming(f"agency.{e.source}.outbox", 0, self.offset,
                                                get_codec().encode(e)))
        return out


def inbox(outputs):
    return [o.topic for o in outputs if o.topic.endswith(".inbox")]


@pytest.fixture
def decoded(monkeypatch):
    """Calls of ConsentState.from_json and Handover.from_json."""
    counts = {"consent": Counting(ConsentState.from_json.__func__),
              "handover": Counting(Handover.from_json.__func__)}
    monkeypatch.setattr(ConsentState, "from_json",
                        classmethod(lambda cls, data: counts["consent"](cls, data)))
    monkeypatch.setattr(Handover, "from_json",
                        classmethod(lambda cls, data: counts["handover"](cls, data)))
    return counts


def test_the_family_consents_are_decoded_once_per_event(decoded):
    h = Harness()
    child = subject_of("consents-once")
    for n in range(3):
        h.send(consent(KITA, child, [KITA, SCHOOL], NOW - timedelta(days=30 - n),
                       consent_id=f"EW-{n}"))
    before = decoded["consent"].calls
    h.send(handover("requested", KITA, child, "UE-1", NOW - timedelta(days=2), SCHOOL))
    assert decoded["consent"].calls - before == 3
    before = decoded["consent"].calls
    h.send(consent(KITA, child, [KITA, SCHOOL, YOUTH], NOW - timedelta(days=1),
                   consent_id="EW-3"))  # learned: the new context reuses what was decoded
    assert decoded["consent"].calls - before == 3
    assert len(h.engine.stores.consents.table[child]) == 4


def test_a_handover_event_costs_the_same_after_a_long_history(decoded):
    """The 300th handover of a family decodes as many handovers as the 3rd."""
    h = Harness()
    child = subject_of("long-history")
    h.send(consent(KITA, child, [KITA, SCHOOL, YOUTH], datetime(2020, 1, 1, tzinfo=UTC)))
    start = datetime(2022, 1, 3, tzinfo=UTC)
    cost = []
    for n in range(300):
        at = start + timedelta(days=5 * n)
        a, b = (KITA, SCHOOL) if n % 3 else (SCHOOL, YOUTH)
        before = decoded["handover"].calls
        h.send(handover("requested", a, child, f"UE-{n}", at, b))
        cost.append(decoded["handover"].calls - before)
        answer = "declined" if n % 4 == 0 else "accepted"
        h.send(handover(answer, b, child, f"UE-{n}", at + timedelta(days=1)))
    assert max(cost[250:]) <= max(cost[:10])
    window = h.engine.stores.handovers.window(child)
    assert window.size() < 40  # 90 days and a day of 1,500 days of handovers


def test_held_events_are_decoded_once_and_decided_again_when_what_they_wait_for_comes():
    h = Harness()
    child = subject_of("held-once")
    h.send(consent(KITA, child, [KITA, SCHOOL], NOW - timedelta(days=30)))
    decode = Counting(h.engine.services.codec.decode)
    h.engine.services.codec = type("Codec", (), {"decode": decode,
                                        "encode": staticmethod(get_codec().encode)})()
    answers = [handover("accepted", SCHOOL, child, f"UE-{n}", NOW - timedelta(days=1))
               for n in range(3)]
    h.send(*answers)  # the requests are not here yet: held
    assert h.engine.held_count() == 3 and decode.calls == 3
    h.send(offer(SCHOOL, child, NOW, "sprachfoerderung"))  # no consent for its purpose
    assert decode.calls == 4 and h.engine.held_count() == 4  # nothing new for the others
    out = h.send(handover("requested", KITA, child, "UE-1", NOW - timedelta(days=2), SCHOOL))
    assert decode.calls == 5  # the request; the held answers were decoded before
    assert sorted(inbox(out)) == sorted([f"agency.{KITA}.inbox", f"agency.{SCHOOL}.inbox"])
    assert h.engine.held_count() == 3 and len(h.engine.stores.held.decoded) == 3
