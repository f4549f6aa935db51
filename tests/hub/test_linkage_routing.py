"""The router and the linkage stage's decisions, in memory: a variant that came before the
linkage decision is routed once it is known as the consented child, later events of it go
to the child's partition, each recipient sees the child under its own pseudonym, a possible
match waits for the trust office up to the review window, an erasure forgets the link."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.clock import FixedClock
from hub.contract.codec import get_codec
from hub.core.topics import LINKAGE_DECISIONS_TOPIC, LINKED_TOPIC
from hub.linkage.records import LinkDecision, Outcome
from hub.routing.bus import new_bus
from hub.routing.delivered import DeliveredSet
from hub.routing.messages import Incoming, Tick
from hub.routing.rules import Router
from tests.exports import (
    CONSENT_COLUMNS,
    JOBCENTER_COLUMNS,
    consent_row,
    jobcenter_row,
    write_export,
    youth_office_row,
)

AGENCIES = load_agencies()
NOW = datetime(2026, 11, 4, 12, tzinfo=UTC)
YOUTH, JOBCENTER = "jugendamt-luenen", "jobcenter-kreis-unna"
JANA = {"Vorname": "Jana", "Geburtsdatum": "23.06.2009"}


class Router_:
    """The router's bus with a running offset; ``feed`` hands it records and hands the
    forwarded ones back to it, as the worker's consumer would."""

    def __init__(self, clock):
        self.bus = new_bus(AGENCIES, Router(AGENCIES), clock, timedelta(hours=24),
                           DeliveredSet(timedelta(days=90)), {}, {}, {},
                           review_window=timedelta(days=14))
        self.offset = 0
        self.codec = get_codec()

    def handle(self, topic, value, key=None, headers=()):
        self.offset += 1
        out = self.bus.handle(Incoming(topic, 0, self.offset, value, key, headers))
        forwarded = [o for o in out if o.topic == LINKED_TOPIC]
        for o in forwarded:
            out += self.handle(o.topic, o.value, o.key, o.headers)
        return out

    def export(self, path, key):
        converted = convert_file(path, AGENCIES, key)
        out = []
        for event in converted.events:
            out += self.handle(converted.topic, self.codec.encode(event))
        return converted.events, out

    def decide(self, pseudonym, outcome, child):
        decision = LinkDecision(pseudonym, outcome, child, NOW)
        return self.handle(LINKAGE_DECISIONS_TOPIC, decision.to_bytes(), pseudonym.encode())

    def inbox(self, out, agency):
        return [self.codec.decode(o.value) for o in out
                if o.topic == AGENCIES.get(agency).inbox]


@pytest.fixture
def router():
    return Router_(FixedClock(NOW))


@pytest.fixture
def family(tmp_path, pseudonym_key):
    """The youth office's consent for Jana Meyer; the Jobcenter's request for "Jana Meier"."""
    consent = write_export(tmp_path / f"einwilligungen_{YOUTH}.csv", [consent_row(
        **JANA, Nachname="Meyer", Wohnort="Lünen", Zweck="Übergang Schule-Beruf",
        Empfaenger=f"{YOUTH},{JOBCENTER}", Gueltig_ab="01.11.2026", Erfasst_am="01.11.2026")],
        columns=CONSENT_COLUMNS)
    (tmp_path / "jc").mkdir()
    request = write_export(tmp_path / "jc" / f"{JOBCENTER}_export.csv",
                           [jobcenter_row(Nachname="Meier")], columns=JOBCENTER_COLUMNS)
    return consent, request


def test_a_variant_is_routed_once_linked_and_named_as_each_recipient_knows_the_child(
        router, family, pseudonym_key, tmp_path):
    consent, request = family
    (granted,), _ = router.export(consent, pseudonym_key)
    (asked,), out = router.export(request, pseudonym_key)
    child, variant = granted.subject, asked.subject
    assert child != variant and not router.inbox(out, YOUTH)  # held: no consent of its own

    out = router.decide(variant, Outcome.SAME, child)
    (delivered,) = router.inbox(out, YOUTH)
    assert delivered.id == asked.id and delivered.subject == child  # as the youth office knows
    inbox_keys = {o.key for o in out if o.topic == AGENCIES.get(YOUTH).inbox}
    assert inbox_keys == {child.encode()}  # the child's partition reads it back

    # the youth office answers under its own pseudonym: the Jobcenter sees its own
    answer = write_export(tmp_path / f"{YOUTH}_export.csv", [youth_office_row(
        Vorgangsnummer="JA-1", Ereignis="Übergabe angenommen", Datum="05.11.2026",
        Vorname="Jana", Nachname="Meyer", Geburtsdatum="23.06.2009", Wohnort="Lünen",
        Zielstelle="", Zweck="Übergang Schule-Beruf", **{"Uebergabe-ID": "UE-JC-0001"})])
    _, out = router.export(answer, pseudonym_key)
    (told,) = router.inbox(out, JOBCENTER)
    assert told.subject == variant

    # a later event of the variant goes straight to the child's partition, and is one child's
    again = write_export(tmp_path / "jc" / f"{JOBCENTER}_export.csv", [jobcenter_row(
        Nachname="Meier", Ereignis="Angebot unterbreitet", Datum="06.11.2026",
        Maßnahme="Ausbildungsberatung", Zielstelle="", **{"Uebergabe-ID": ""})],
        columns=JOBCENTER_COLUMNS)
    _, out = router.export(again, pseudonym_key)
    assert any(o.topic == LINKED_TOPIC and o.key == child.encode() for o in out)
    audit_subjects = {o.key for o in out if o.topic == "hub.audit"}
    assert audit_subjects == {child.encode()}


def test_a_possible_match_waits_for_the_trust_office_up_to_the_review_window(
        router, family, pseudonym_key):
    consent, request = family
    router.export(consent, pseudonym_key)
    (asked,), _ = router.export(request, pseudonym_key)
    router.decide(asked.subject, Outcome.POSSIBLE, asked.subject)
    clock = router.bus.services.clock
    clock.advance(days=2)  # beyond the hold window: still waiting
    held = router.bus.stores.held
    assert not [o for o in router.bus.handle(Tick(0)) if o.topic == "hub.audit"]
    assert asked.id in [e["id"] for e in held.waiting(asked.subject)]
    clock.advance(days=13)  # beyond the review window: refused
    out = router.bus.handle(Tick(0))
    refused = [json.loads(o.value) for o in out
               if o.topic == "hub.audit" and asked.id.encode() in o.value]
    assert [r["reason_kind"] for r in refused] == ["linkage_undecided"]
    assert asked.id not in [e["id"] for e in held.waiting(asked.subject)]


def test_a_new_child_is_routed_as_before(router, family, pseudonym_key):
    consent, request = family
    router.export(consent, pseudonym_key)
    (asked,), _ = router.export(request, pseudonym_key)
    assert router.decide(asked.subject, Outcome.NEW, asked.subject) == []
    router.bus.services.clock.advance(days=2)
    out = router.bus.handle(Tick(0))  # refused after the hold window, as without linkage
    assert not router.bus.stores.held.waiting(asked.subject) and out


def test_an_erasure_forgets_the_link(router, family, pseudonym_key):
    import json

    consent, request = family
    (granted,), _ = router.export(consent, pseudonym_key)
    (asked,), _ = router.export(request, pseudonym_key)
    router.decide(asked.subject, Outcome.SAME, granted.subject)
    stores = router.bus.stores
    assert stores.identities.child_of(asked.subject) == granted.subject
    request_ = {"id": "a" * 32, "subject": asked.subject, "reference": "AZ-1",
                "requested_by": "op", "requested_at": NOW.isoformat()}
    from hub.routing.messages import Erasure
    out = router.bus.handle(Erasure(Incoming("hub.requests", 0, 99, json.dumps(
        request_).encode(), asked.subject.encode())))
    assert stores.identities.child_of(asked.subject) is None
    assert any(o.topic == LINKAGE_DECISIONS_TOPIC and o.value is None for o in out)


def test_a_variant_before_the_consent_is_routed_when_the_consent_arrives(
        router, family, pseudonym_key):
    """The Jobcenter's variant came first (a child of its own then); the consent that comes
    later is linked to it, and brings the consent to the variant's partition."""
    consent, request = family
    (asked,), out = router.export(request, pseudonym_key)
    assert router.decide(asked.subject, Outcome.NEW, asked.subject) == []
    (granted,), out = router.export(consent, pseudonym_key)
    assert not router.inbox(out, YOUTH)
    out = router.decide(granted.subject, Outcome.SAME, asked.subject)
    (delivered,) = router.inbox(out, YOUTH)
    assert delivered.id == asked.id
    # the youth office gave the consent: it gets the child under that consent's pseudonym
    assert delivered.subject == granted.subject
