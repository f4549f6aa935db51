"""The access letter's German comes from the audit record's typed fields: every decision
and every reason kind has a sentence, the English text is not read for a typed record,
and records of the earlier format (no typed fields) still read, in the same sentences."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.agencies import load_agencies
from hub.audit import ALREADY_DELIVERED, AUDIT_VERSION, audit_record, audit_records
from hub.consent.ledger import ConsentState, check
from hub.contract.vocabulary import EventType, Purpose
from hub.core.reasons import AuditDecision, NoteKind, ReasonKind
from hub.handover.machine import Step, apply_step
from hub.report.letter import build_letter, explain
from hub.report.letter.legacy import RULES, read_reason
from hub.report.letter.sentences import (
    DECISION_SENTENCES,
    DECISIONS,
    NOTE_SENTENCES,
    REASON_SENTENCES,
    explain_kind,
)
from hub.routing.erasure import erasure_params, erasure_summary, held_erased
from hub.routing.notices import ERASURE_NOTICE, REVOCATION_NOTICE
from hub.routing.rules import Router
from tests.handover import flow
from tests.hub.test_engine_reasons import CASES, consent, ctx, event
from tests.report.test_letter import CONSENTS, RECORDS, RETENTION, TODAY

AGENCIES = load_agencies()
NAMES = {a.id: a.name for a in AGENCIES}
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
TYPED = ("audit_version", "reason_kind", "reason_params")


def agency(agency_id: str) -> str:
    return NAMES.get(agency_id, agency_id)


# --------------------------------------------------------------- every kind has German
@pytest.mark.parametrize("kind", list(ReasonKind))
def test_every_reason_kind_has_a_german_sentence(kind):
    assert kind in REASON_SENTENCES, f"ReasonKind.{kind.name} has no sentence in the letter"


@pytest.mark.parametrize("kind", list(NoteKind))
def test_every_note_kind_has_a_german_sentence(kind):
    assert kind in NOTE_SENTENCES, f"NoteKind.{kind.name} has no sentence in the letter"


@pytest.mark.parametrize("decision", list(AuditDecision))
def test_every_decision_has_a_german_word_and_sentence(decision):
    assert DECISIONS.get(decision) and DECISION_SENTENCES.get(decision)


def test_the_kinds_are_told_apart_by_their_values():
    assert not {k.value for k in ReasonKind} & {k.value for k in NoteKind}


# ------------------------------------------------ what the hub writes, typed and as text
def produced() -> list[tuple[AuditDecision, str, dict, str]]:
    """(decision, reason kind, parameters, English text) of every reason the hub's
    producers write: the consent check, the router, the handover tracker, the erasure."""
    out = []
    router = Router(AGENCIES)
    for envelope, context in CASES.values():
        for final in (False, True):
            d = router.decide(envelope, "agency.jugendamt-kamen.outbox", context, final=final)
            out += [(AuditDecision.REFUSED, r.kind, r.params, r.reason) for r in d.refusals]
            if d.hold:
                out.append((AuditDecision.HELD, d.hold_kind, d.hold_params, d.hold))
    after = check([consent()], "uebergang_kita_schule", "jugendamt-kamen",
                  datetime(2027, 9, 1, tzinfo=UTC), NOW)  # after the consent ended
    out.append((AuditDecision.REFUSED, after.kind, after.params, after.reason))
    family = router.decide(event(etype=EventType.OFFER_ACCEPTED),
                           "agency.jugendamt-kamen.outbox", ctx(), final=True)
    out += [(AuditDecision.REFUSED, r.kind, r.params, r.reason) for r in family.refusals]
    granted = flow.consent("jugendamt-kamen", "ab" * 32, ["jugendamt-kamen"], NOW)
    statistics = event().model_copy(update={"purpose": Purpose.STATISTIK})
    for envelope in (granted, statistics, event(etype=EventType.OFFER_MADE)):
        d = router.decide(envelope, None, ctx(consent()))
        out.append((AuditDecision.NOT_ROUTED, d.not_routed_kind, d.not_routed_params,
                    d.not_routed))
    out += [(AuditDecision.ANOMALY, a.kind, {"handover_id": a.handover_id, **a.params},
             f"handover {a.handover_id}: {a.reason}") for a in anomalies()]
    out += [
        (AuditDecision.DUPLICATE, NoteKind.ALREADY_DELIVERED, {}, ALREADY_DELIVERED),
        (AuditDecision.DELIVERED, NoteKind.REVOCATION_NOTICE, {}, REVOCATION_NOTICE),
        (AuditDecision.DELIVERED, NoteKind.ERASURE_NOTICE, {"reference": "VS-2026/0042"},
         f"{ERASURE_NOTICE} (reference VS-2026/0042)"),
        (AuditDecision.ERASED, NoteKind.HELD_ERASED, {"reference": "VS-2026/0042"},
         held_erased("VS-2026/0042")),
        (AuditDecision.ERASED, NoteKind.ERASURE,
         erasure_params("VS-2026/0042", 2, 1, 1, ["grundschule-kamen-mitte"]),
         erasure_summary("VS-2026/0042", 2, 1, 1, ["grundschule-kamen-mitte"])),
    ]
    return out


def anomalies():
    """One handover anomaly of each kind, from the tracker."""
    t = NOW - timedelta(days=3)

    def step(name, sender="grundschule-kamen-mitte", hours=0, recipient=None):
        return Step("UE-KAM-0020", name, sender, "ab" * 32, "uebergang_kita_schule", "kamen",
                    t + timedelta(hours=hours), recipient)

    school = "grundschule-kamen-mitte"
    request = step("requested", "kita-kamen-regenbogen", recipient=school)
    runs = [
        [step("accepted"), request],  # before the request; the request after the step
        [request, step("requested", "jugendamt-kamen", 1, school)],  # requested again
        [request, step("accepted", "jugendamt-kamen", 1)],  # the wrong agency
        [request, step("accepted", hours=1), step("declined", hours=2)],  # answered twice
        [request, step("accepted", hours=1), step("completed", hours=2),
         step("completed", hours=3)],  # completed twice
        [request, step("declined", hours=1), step("completed", hours=2)],
        [request, step("completed", hours=1)],
    ]
    found = []
    for run in runs:
        h = None
        for s in run:
            outcome = apply_step(h, s)
            h = outcome.handover
            found += outcome.anomalies
    return found


def linkage_records() -> list[dict]:
    """The audit records of the linkage stage: a link, a possible match, and each of the
    trust office's decisions (written in format 2 only: no legacy text to read back)."""
    from connectors.encodings import encode
    from hub.clock import FixedClock
    from hub.linkage.records import Action, Review
    from hub.linkage.stage import LinkageStage

    def raw(given, family):
        return encode(b"k" * 32, given, family, date(2015, 4, 9)).to_bytes()

    stage = LinkageStage(FixedClock(NOW))
    records = stage.on_encodings("p-mia", raw("Mia", "Meyer"))
    records += stage.on_encodings("p-lena", raw("Lena", "Schmidt"))
    records += stage.on_encodings("p-mia-2", raw("Mia", "Meier"))  # linked
    records += stage.on_encodings("p-lina", raw("Lina", "Schmidt"))  # possible
    for action in (Action.CONFIRM, Action.UNLINK, Action.REJECT):
        records += stage.on_review(Review(action, "p-lina", "p-lena", "anna", NOW))
    return [json.loads(r.value) for r in records if r.topic == "hub.audit"]


def undecided_match() -> tuple[AuditDecision, str, dict, str]:
    """The refusal of a possible match the trust office did not decide (written since
    format 2 only: no earlier text to read back)."""
    from types import SimpleNamespace

    from hub.routing.deciding import undecided

    envelope, context = CASES[ReasonKind.NO_CONSENT]
    d = undecided(Router(AGENCIES).decide(envelope, "agency.jugendamt-kamen.outbox", context,
                                          final=True),
                  SimpleNamespace(review_window=timedelta(days=14)))
    (r,) = d.refusals
    return AuditDecision.REFUSED, r.kind, r.params, r.reason


def test_every_kind_is_written_by_a_producer():
    kinds = {kind for _, kind, _, _ in produced()}
    kinds |= {NoteKind(r["reason_kind"]) for r in linkage_records()}
    kinds.add(undecided_match()[1])
    assert kinds == set(ReasonKind) | set(NoteKind)


def test_an_undecided_possible_match_reads_in_german():
    decision, kind, params, text = undecided_match()
    german = explain_kind(decision, kind, params, text, agency)
    assert not german.verbatim and "innerhalb von 14 Tagen" in german.text


def test_linkage_records_read_in_german_without_the_other_pseudonym():
    records = linkage_records()
    assert len(records) == 5
    for record in records:
        german = explain_kind(record["decision"], record["reason_kind"],
                              record["reason_params"], record["reason"], agency)
        assert german.text and not german.verbatim
        assert "p-lena" not in german.text and "p-mia" not in german.text
    letter = build_letter("p-lina", records, [], AGENCIES, TODAY, RETENTION)
    assert "Zuordnung geprüft" in letter and "p-lena" not in letter


@pytest.mark.parametrize("decision, kind, params, text", produced(),
                         ids=lambda v: v.value if isinstance(v, AuditDecision) else None)
def test_a_typed_reason_and_its_text_give_the_same_german(decision, kind, params, text):
    typed = explain_kind(decision, kind, params, text, agency)
    assert not typed.verbatim and typed.text
    assert "UE-KAM-0020" not in typed.text  # the agencies' handover ids are not needed
    # a record of the earlier format, with the text alone, reads the same
    assert explain(text, agency, decision) == typed
    # and the typed one never reads the text
    assert explain_kind(decision, kind, params, "reworded", agency) == typed


def test_the_legacy_reader_has_one_rule_per_text_the_hub_wrote():
    texts = [text for _, _, _, text in produced()]
    matched = {id(rule) for text in texts for rule in RULES if rule[0].fullmatch(text)}
    assert len(matched) == len(RULES) == 26
    assert read_reason("a reason nobody translated yet") is None


def test_an_unknown_kind_or_a_missing_parameter_shows_the_text():
    assert explain_kind("refused", "a_kind_of_a_newer_hub", {}, "some text").verbatim
    missing = explain_kind("refused", "consent_revoked", {"consent_id": "EW-1"}, "some text")
    assert missing.verbatim and missing.text == "some text"
    assert explain_kind("delivered", None, {}, "").text == ""


# ------------------------------------------------------------------ the typed record
def typed(record: dict) -> dict:
    """``record`` (format 1) as the hub writes it now: kinds and parameters added, the text
    reworded (the letter must not read it)."""
    decision, text = record["decision"], record["reason"]
    found = read_reason(text) if text else None
    kind, params = (found[0], found[1]) if found else (None, {})
    return {**record, "audit_version": AUDIT_VERSION, "reason_kind": kind,
            "reason_params": params, "reason": f"reworded {text}" if text else ""} \
        if decision else record


def test_a_letter_of_typed_records_is_the_letter_of_the_old_ones():
    old = build_letter(RECORDS[0]["subject"], RECORDS, CONSENTS, AGENCIES, TODAY, RETENTION)
    new = build_letter(RECORDS[0]["subject"], [typed(r) for r in RECORDS], CONSENTS,
                       AGENCIES, TODAY, RETENTION)
    assert new == old
    assert "reworded" not in new


def test_old_and_new_records_mix_in_one_letter():
    mixed = [typed(r) if n % 2 else r for n, r in enumerate(RECORDS)]
    old = build_letter(RECORDS[0]["subject"], RECORDS, CONSENTS, AGENCIES, TODAY, RETENTION)
    assert build_letter(RECORDS[0]["subject"], mixed, CONSENTS, AGENCIES, TODAY,
                        RETENTION) == old


def test_the_audit_record_carries_the_typed_fields_beside_the_text():
    envelope, context = CASES[ReasonKind.CONSENT_REVOKED]
    decision = Router(AGENCIES).decide(envelope, "agency.jugendamt-kamen.outbox", context)
    (record,) = audit_records(envelope, decision, NOW)
    assert record["audit_version"] == 2
    assert record["decision"] == "refused"
    assert record["reason_kind"] == "consent_revoked"
    assert record["reason_params"] == {"consent_id": "EW-1", "revoked_on": "2026-11-23"}
    assert record["reason"] == "consent EW-1 was revoked on 2026-11-23"
    plain = audit_record(envelope, AuditDecision.DELIVERED, NOW, "jugendamt-kamen")
    assert (plain["reason"], plain["reason_kind"], plain["reason_params"]) == ("", None, {})


def test_consents_are_shown_the_same_for_both_formats():
    # a consent's date fields in the parameters are ISO dates, shown as German dates
    state = ConsentState("EW-9", "fruehe_hilfen", ("jugendamt-kamen",), date(2026, 3, 1),
                         None, datetime(2026, 3, 1, tzinfo=UTC), NOW - timedelta(days=2))
    verdict = check([state], "fruehe_hilfen", "jugendamt-kamen", NOW, NOW)
    german = explain_kind("refused", verdict.kind, verdict.params, verdict.reason, agency)
    assert german.text.startswith("Die Einwilligung EW-9 wurde am 22.11.2026 widerrufen")


def test_every_record_the_engine_writes_is_typed_and_reads_in_german(pseudonym_key):
    from hub.clock import FixedClock
    from hub.routing.messages import Tick
    from tests.district_samples import CONSENT_FILES, EVENT_FILES
    from tests.hub.test_engine import by_topic, feed, new_engine

    clock = FixedClock(NOW)
    engine = new_engine(clock)
    outputs = feed(engine, EVENT_FILES + CONSENT_FILES, pseudonym_key)
    outputs += feed(engine, EVENT_FILES, pseudonym_key, offset=1000)  # duplicates
    clock.advance(days=20)  # held events refused, a handover stalls
    outputs += engine.handle(Tick(0))
    _, audit = by_topic(outputs)
    assert {r["decision"] for r in audit} >= {"delivered", "refused", "held", "duplicate",
                                              "not_routed"}
    for record in audit:
        assert record["audit_version"] == AUDIT_VERSION
        assert AuditDecision(record["decision"])
        assert (record["reason_kind"] is None) == (record["reason"] == "")
        german = explain_kind(record["decision"], record["reason_kind"],
                              record["reason_params"], record["reason"], agency)
        assert not german.verbatim
        assert german == explain(record["reason"], agency, record["decision"])
