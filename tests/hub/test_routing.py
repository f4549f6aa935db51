"""The router's decision for one event (no Kafka)."""

from datetime import UTC, date, datetime

import pytest

from hub.agencies import load_agencies
from hub.consent.ledger import ConsentState
from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.vocabulary import EventType
from hub.routing.rules import Router, RoutingContext

OUTBOX = "agency.jugendamt-kamen.outbox"
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def event(etype=EventType.HANDOVER_REQUESTED, recipient="grundschule-kamen-mitte",
          source="jugendamt-kamen", purpose="uebergang_kita_schule", day=date(2026, 9, 16),
          **payload):
    if not payload:
        payload = ({"handover_id": "UE-1"} if etype.value.startswith("handover")
                   else {"offer_category": "Familienhebamme"})
    return Envelope(
        id="0210678a-1c07-5f21-aa08-977ab8dbc55b", type=etype, source=source,
        time=datetime(day.year, day.month, day.day, tzinfo=UTC), subject="ab" * 32,
        key_id="k1", municipality="kamen", life_phase="grundschule", purpose=purpose,
        recipient=recipient, correlation_id=payload.get("handover_id"),
        payload=PAYLOAD_MODELS[etype](**payload),
    )


def consent(recipients=("grundschule-kamen-mitte", "jugendamt-kamen", "kita-kamen-regenbogen"),
            purpose="uebergang_kita_schule", valid_from=date(2026, 9, 15), revoked=None):
    return ConsentState("EW-1", purpose, tuple(recipients), valid_from, date(2027, 8, 31),
                        datetime(2026, 9, 15, tzinfo=UTC), revoked)


def ctx(*consents, requester=None, seen=()):
    return RoutingContext(NOW, consents, requester, lambda r, i: (r, i) in seen)


@pytest.fixture(scope="module")
def router():
    return Router(load_agencies())


def test_handover_request_with_consent_goes_to_its_recipient(router):
    decision = router.decide(event(), OUTBOX, ctx(consent()))
    assert [(d.recipient, d.topic, d.consent_id) for d in decision.deliveries] == [
        ("grundschule-kamen-mitte", "agency.grundschule-kamen-mitte.inbox", "EW-1")]
    assert not decision.refusals and not decision.hold


def test_without_any_consent_the_event_waits_then_is_refused(router):
    assert "no consent covers" in router.decide(event(), OUTBOX, ctx()).hold
    final = router.decide(event(), OUTBOX, ctx(), final=True)
    assert not final.hold and not final.deliveries
    assert "no consent covers purpose uebergang_kita_schule" in final.refusals[0].reason


def test_revoked_consent_refuses(router):
    revoked = consent(revoked=datetime(2026, 10, 20, tzinfo=UTC))
    decision = router.decide(event(), OUTBOX, ctx(revoked))
    assert decision.refusals[0].reason == "consent EW-1 was revoked on 2026-10-20"


def test_a_revocation_in_the_future_does_not_refuse_yet(router):
    later = consent(revoked=datetime(2026, 12, 1, tzinfo=UTC))
    assert router.decide(event(), OUTBOX, ctx(later)).deliveries


def test_event_before_the_consent_validity_is_refused(router):
    decision = router.decide(event(day=date(2026, 6, 10)), OUTBOX, ctx(consent()))
    assert "before consent EW-1 is valid (from 2026-09-15)" in decision.refusals[0].reason


def test_chain_partners_are_the_consent_recipients_minus_the_sender(router):
    offer = event(EventType.OFFER_ACCEPTED, recipient=None, source="grundschule-kamen-mitte",
                  day=date(2026, 10, 8))
    decision = router.decide(offer, "agency.grundschule-kamen-mitte.outbox", ctx(consent()))
    assert sorted(d.recipient for d in decision.deliveries) == [
        "jugendamt-kamen", "kita-kamen-regenbogen"]


def test_answers_go_to_the_requester_and_wait_for_an_unknown_request(router):
    answer = event(EventType.HANDOVER_ACCEPTED, recipient=None,
                   source="grundschule-kamen-mitte", day=date(2026, 9, 21))
    topic = "agency.grundschule-kamen-mitte.outbox"
    assert router.decide(answer, topic, ctx(consent(), requester="jugendamt-kamen")) \
        .deliveries[0].recipient == "jugendamt-kamen"
    assert "not requested yet" in router.decide(answer, topic, ctx(consent())).hold
    final = router.decide(answer, topic, ctx(consent()), final=True)
    assert "was never requested" in final.refusals[0].reason


def test_a_recipient_that_has_the_event_is_a_duplicate(router):
    seen = {("grundschule-kamen-mitte", event().id)}
    decision = router.decide(event(), OUTBOX, ctx(consent(), seen=seen))
    assert decision.duplicates == ["grundschule-kamen-mitte"] and not decision.deliveries


def test_unknown_recipient_and_statistics_office_are_refused(router):
    unknown = router.decide(event(recipient="jugendamt-atlantis"), OUTBOX, ctx(consent()))
    assert unknown.refusals[0].reason == "unknown recipient 'jugendamt-atlantis'"
    stats = router.decide(event(recipient="kreis-unna-statistik"), OUTBOX, ctx(consent()))
    assert "has no inbox" in stats.refusals[0].reason


def test_not_routed_types_and_purposes(router):
    offer_made = router.decide(event(EventType.OFFER_MADE, recipient=None), OUTBOX, ctx())
    assert offer_made.not_routed == "offer.made: analytics only"
    stats = router.decide(event(purpose="statistik"), OUTBOX, ctx())
    assert stats.not_routed == "purpose statistik: analytics only"


def test_event_on_another_agencys_outbox_is_rejected(router):
    decision = router.decide(event(source="jugendamt-luenen"), OUTBOX, ctx(consent()))
    assert not decision.deliveries
    assert "is not its outbox" in decision.rejected[0]
