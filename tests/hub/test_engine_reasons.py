"""Refusal reasons are typed: every refusal carries its kind next to its text, and the
metrics label and the analytics outcome come from the kind, never from the text (no
Kafka)."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from hub.agencies import load_agencies
from hub.analytics.facts import Outcome, decode_fact, outcome_of
from hub.clock import FixedClock
from hub.consent.ledger import ConsentState
from hub.contract.codec import get_codec
from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.vocabulary import EventType
from hub.core.decisions import Decision, ReasonKind, Refusal
from hub.routing.bus import new_bus
from hub.routing.deciding import undecided
from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Incoming, Tick
from hub.routing.rules import Router, RoutingContext

AGENCIES = load_agencies()
OUTBOX = "agency.jugendamt-kamen.outbox"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
SCHOOL = "grundschule-kamen-mitte"


def event(etype=EventType.HANDOVER_REQUESTED, recipient=SCHOOL, day=date(2026, 9, 16)):
    payload = {"handover_id": "UE-1"} if etype.value.startswith("handover") else \
        {"offer_category": "Familienhebamme"}
    return Envelope(
        id="0210678a-1c07-5f21-aa08-977ab8dbc55b", type=etype, source="jugendamt-kamen",
        time=datetime(day.year, day.month, day.day, tzinfo=UTC), subject="ab" * 32,
        key_id="k1", municipality="kamen", life_phase="grundschule",
        purpose="uebergang_kita_schule", recipient=recipient,
        correlation_id=payload.get("handover_id"), payload=PAYLOAD_MODELS[etype](**payload))


def consent(recipients=(SCHOOL, "jugendamt-kamen", "kita-kamen-regenbogen"), revoked=None,
            valid_to=date(2027, 8, 31)):
    return ConsentState("EW-1", "uebergang_kita_schule", tuple(recipients),
                        date(2026, 9, 15), valid_to, datetime(2026, 9, 15, tzinfo=UTC),
                        revoked)


def ctx(*consents, requester=None):
    return RoutingContext(NOW, consents, requester)


ANSWER = EventType.HANDOVER_ACCEPTED
CASES = {
    ReasonKind.CONSENT_REVOKED: (event(), ctx(consent(revoked=NOW - timedelta(days=1)))),
    ReasonKind.OUTSIDE_VALIDITY: (event(day=date(2026, 6, 10)), ctx(consent())),
    ReasonKind.NO_CONSENT: (event(), ctx(consent(recipients=("jugendamt-kamen",)))),
    ReasonKind.UNKNOWN_RECIPIENT: (event(recipient="jugendamt-atlantis"), ctx(consent())),
    ReasonKind.NO_INBOX: (event(recipient="kreis-unna-statistik"), ctx(consent())),
    ReasonKind.HANDOVER_UNKNOWN: (event(ANSWER, recipient=None), ctx(consent())),
    ReasonKind.OTHER: (event(recipient=None), ctx(consent())),
}


@pytest.mark.parametrize("kind", list(ReasonKind))
def test_every_refusal_carries_its_kind_next_to_its_text(kind):
    if kind is ReasonKind.LINKAGE_UNDECIDED:  # a possible match nobody decided, no consent
        envelope, context = CASES[ReasonKind.NO_CONSENT]
        decision = undecided(Router(AGENCIES).decide(envelope, OUTBOX, context, final=True),
                             SimpleNamespace(review_window=timedelta(days=14)))
        assert decision.refusals[0].params == {"review_days": "14"}
        assert "did not decide within 14 days" in decision.refusals[0].reason
    else:
        envelope, context = CASES[kind]
        decision = Router(AGENCIES).decide(envelope, OUTBOX, context, final=True)
    assert [r.kind for r in decision.refusals] == [kind]
    assert decision.refusals[0].reason  # the text for the audit


def test_the_after_validity_case_and_the_chain_partners_without_consent():
    after = Router(AGENCIES).decide(event(day=date(2026, 9, 16)), OUTBOX,
                                    ctx(consent(valid_to=date(2026, 9, 1))))
    assert after.refusals[0].kind is ReasonKind.OUTSIDE_VALIDITY
    offer = event(EventType.OFFER_ACCEPTED, recipient=None)
    held = Router(AGENCIES).decide(offer, OUTBOX, ctx())
    assert (held.hold_kind, held.refusals) == (ReasonKind.NO_CONSENT, [])
    final = Router(AGENCIES).decide(offer, OUTBOX, ctx(), final=True)
    assert [r.kind for r in final.refusals] == [ReasonKind.NO_CONSENT]


def test_a_hold_carries_its_kind():
    router = Router(AGENCIES)
    assert router.decide(event(), OUTBOX, ctx()).hold_kind is ReasonKind.NO_CONSENT
    answer = router.decide(event(ANSWER, recipient=None), OUTBOX, ctx(consent()))
    assert answer.hold and answer.hold_kind is ReasonKind.HANDOVER_UNKNOWN


def test_the_outcome_comes_from_the_kind_not_from_the_text():
    reworded = Decision(refusals=[Refusal(SCHOOL, ReasonKind.NO_CONSENT, "keine Einwilligung")])
    assert outcome_of(reworded) is Outcome.REFUSED_NO_CONSENT
    other = Decision(refusals=[Refusal(SCHOOL, ReasonKind.OTHER, "no consent covers it")])
    assert outcome_of(other) is Outcome.ROUTED


class Reworded(Router):
    """A router whose refusals read differently (another wording, the same kinds)."""

    def decide(self, *args, **kwargs):
        decision = super().decide(*args, **kwargs)
        decision.refusals = [Refusal(r.recipient, r.kind, f"Abgelehnt ({n})", r.consent_id)
                             for n, r in enumerate(decision.refusals)]
        return decision


@pytest.mark.parametrize("router", [Router, Reworded])
def test_the_metrics_label_and_the_fact_do_not_depend_on_the_wording(router):
    clock = FixedClock(NOW)
    engine = new_bus(AGENCIES, router(AGENCIES), clock, timedelta(hours=24),
                           DeliveredSet(timedelta(days=90)), {}, {}, {})

    def refusals_and_outcomes(out):
        labels = sorted(dict(labels)["reason"] for (metric, labels), n
                        in engine.take_counts().items() if metric == "refusals")
        return labels, [decode_fact(o.value).outcome for o in out
                        if o.topic == "hub.facts" and o.key.startswith(b"event|")]

    revoked = consent(revoked=NOW - timedelta(days=1))
    engine.stores.consents.table["ab" * 32] = {"EW-1": revoked.to_json()}
    out = engine.handle(Incoming(OUTBOX, 0, 1, get_codec().encode(event())))
    assert refusals_and_outcomes(out) == (["consent_revoked"], [Outcome.ROUTED])

    # no consent at all: held, then refused when the window ends
    engine.stores.consents.table.clear()
    out = engine.handle(Incoming(OUTBOX, 0, 2, get_codec().encode(event())))
    assert refusals_and_outcomes(out) == ([], [Outcome.HELD])
    clock.advance(hours=25)
    out = engine.handle(Tick(0))
    assert refusals_and_outcomes(out) == (["no_consent"], [Outcome.REFUSED_NO_CONSENT])
