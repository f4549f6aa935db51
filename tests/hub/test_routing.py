"""The router's decision for one event (no Kafka)."""

from datetime import UTC, datetime

import pytest

from hub.agencies import load_agencies
from hub.contract.models import PAYLOAD_MODELS, Envelope
from hub.contract.vocabulary import EventType
from hub.routing.rules import Router

OUTBOX = "agency.jugendamt-kamen.outbox"


def event(etype=EventType.HANDOVER_REQUESTED, recipient="grundschule-kamen-mitte",
          source="jugendamt-kamen", **payload):
    if not payload:
        payload = ({"handover_id": "UE-1"} if etype.value.startswith("handover")
                   else {"offer_category": "Familienhebamme"})
    return Envelope(
        id="0210678a-1c07-5f21-aa08-977ab8dbc55b", type=etype, source=source,
        time=datetime(2026, 9, 16, tzinfo=UTC), subject="ab" * 32, key_id="k1",
        municipality="kamen", life_phase="grundschule", purpose="uebergang_kita_schule",
        recipient=recipient, correlation_id=payload.get("handover_id"),
        payload=PAYLOAD_MODELS[etype](**payload),
    )


@pytest.fixture(scope="module")
def router():
    return Router(load_agencies())


def test_handover_request_goes_to_its_recipient(router):
    decision = router.decide(event(), OUTBOX)
    assert [(d.recipient, d.topic) for d in decision.deliveries] == [
        ("grundschule-kamen-mitte", "agency.grundschule-kamen-mitte.inbox")]
    assert not decision.refusals and not decision.rejected


def test_unknown_recipient_is_refused_with_a_reason(router):
    decision = router.decide(event(recipient="jugendamt-atlantis"), OUTBOX)
    assert not decision.deliveries
    assert [(r.recipient, r.reason) for r in decision.refusals] == [
        ("jugendamt-atlantis", "unknown recipient 'jugendamt-atlantis'")]


def test_statistics_office_has_no_inbox(router):
    decision = router.decide(event(recipient="kreis-unna-statistik"), OUTBOX)
    assert not decision.deliveries
    assert "has no inbox" in decision.refusals[0].reason


def test_request_without_recipient_is_refused(router):
    decision = router.decide(event(recipient=None), OUTBOX)
    assert not decision.deliveries and "names no recipient" in decision.refusals[0].reason


def test_event_on_another_agencys_outbox_is_rejected(router):
    decision = router.decide(event(source="jugendamt-luenen"), OUTBOX)
    assert not decision.deliveries
    assert "is not its outbox" in decision.rejected[0]


def test_offers_have_no_route_yet(router):
    decision = router.decide(event(EventType.OFFER_MADE, recipient=None), OUTBOX)
    assert not decision.deliveries and not decision.refusals and not decision.rejected


def test_policies_slot_in_per_recipient():
    def no_schools(envelope, recipient):
        return "schools closed" if recipient.startswith("grundschule") else None

    router = Router(load_agencies(), policies=[no_schools])
    decision = router.decide(event(), OUTBOX)
    assert not decision.deliveries
    assert decision.refusals[0].reason == "schools closed"
