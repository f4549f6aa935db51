"""A family's rights on the real broker: the access letter names the agency that received
the child's event and the consent (read back from hub.consent), and a withdrawn consent
reaches, as a notice, every agency that received events of the child under it; an erased
child is forgotten in every compacted topic and table, and every recipient is told."""

from __future__ import annotations

import re
import uuid

import pytest

from hub.operator_views import family_consents, family_history
from hub.tail import Tail
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

SCHOOL_INBOX = "agency.grundschule-kamen-mitte.inbox"


def events_of(bootstrap: str, topic: str, subject: str) -> list[dict]:
    return [r.value for r in Tail(bootstrap, [topic], from_beginning=True, timeout=1.0)
            if r.value and r.value.get("subject") == subject]


def a_family(topics, folder, given: str) -> tuple[str, dict, str]:
    """A child of its own (``given`` + a tag): the youth office's consent for the school
    transition and its handover request to the school, ingested. Returns the tag, the
    consent row's values and the child's pseudonym."""
    tag = uuid.uuid4().hex[:6]
    person = {"Vorname": f"{given}{tag}", "Nachname": "Beispiel", "Geburtsdatum": "02.09.2020"}
    consent = {"Einwilligungs-ID": f"EW-{tag}", **person}
    granted = write_export(folder / "einwilligungen_jugendamt-kamen.csv",
                           [consent_row(**consent)], columns=CONSENT_COLUMNS)
    request = write_export(folder / "jugendamt-kamen_export.csv", [
        youth_office_row(Vorgangsnummer=f"JA-{tag}", **person,
                         **{"Uebergabe-ID": f"UE-{tag}"})])
    for path in (granted, request):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    subject = topics.hub("pseudonym", person["Vorname"], "Beispiel",
                         "02.09.2020").stdout.strip()
    return tag, consent, subject


def test_the_access_letter_of_a_family(worker, topics, tmp_path):
    tag, consent, pseudonym = a_family(topics, tmp_path, "Lea")
    out = tmp_path / "auskunft.html"

    def written():
        result = topics.hub("audit", "--subject", pseudonym, "--letter", "--out", str(out),
                            "--timeout", "1")
        assert result.returncode == 0, result.stdout + result.stderr
        text = out.read_text(encoding="utf-8")
        return (result, text) if "Grundschule Kamen-Mitte" in text else None

    result, text = wait_for(written, 60, "the delivery in the letter", interval=1)
    assert f"wrote the access letter to {out}" in result.stdout
    assert "Auskunft nach Art. 15 DSGVO" in text
    delivered = re.search(r'<section id="uebermittlungen">(.*?)</section>', text, re.S).group(1)
    assert "Übergabe angefragt" in delivered and f"EW-{tag}" in delivered
    assert "Jugendamt der Stadt Kamen" in delivered  # the sender, by its name
    # the consent, read from hub.consent, with its purpose and recipients
    consents = re.search(r'<section id="einwilligungen">(.*?)</section>', text, re.S).group(1)
    assert re.search(rf"In Kraft am .*EW-{tag}.*Übergang Kita-Schule.*Grundschule "
                     r"Kamen-Mitte.*15\.09\.2026 bis 31\.08\.2027", consents, re.S)
    assert consent["Vorname"] not in text and text.count(pseudonym) == 1


def test_a_withdrawn_consent_is_a_notice_to_the_agency_that_received_events_under_it(
        worker, topics, tmp_path):
    tag, consent, subject = a_family(topics, tmp_path, "Ida")
    wait_for(lambda: events_of(topics.bootstrap, SCHOOL_INBOX, subject), 60,
             "the request in the school's inbox", interval=0.5)

    withdrawn_dir = tmp_path / "withdrawn"
    withdrawn_dir.mkdir()
    withdrawn = write_export(withdrawn_dir / "einwilligungen_jugendamt-kamen.csv",
                             [consent_row(**consent, Status="widerrufen",
                                          Erfasst_am="01.10.2026")], columns=CONSENT_COLUMNS)
    result = topics.hub("ingest", str(withdrawn))
    assert result.returncode == 0, result.stdout + result.stderr

    def notices():
        found = [e for e in events_of(topics.bootstrap, SCHOOL_INBOX, subject)
                 if e["type"] == "consent.revoked"]
        return found or None

    (notice,) = wait_for(notices, 60, "the revocation notice in the school's inbox",
                         interval=0.5)
    assert notice["source"] == "hub" and notice["recipient"] == "grundschule-kamen-mitte"
    assert notice["payload"]["consent_id"] == f"EW-{tag}"
    assert notice["payload"]["effective_at"].startswith("2026-10-01")
    # the youth office withdrew it itself: no notice to it
    assert not [e for e in events_of(topics.bootstrap, "agency.jugendamt-kamen.inbox",
                                     subject) if e["type"] == "consent.revoked"]
    audited = [r for r in family_history(topics.bootstrap, subject, timeout=1.0)
               if r["type"] == "consent.revoked" and r["decision"] == "delivered"]
    assert [(r["recipient"], r["consent_id"]) for r in audited] == [
        ("grundschule-kamen-mitte", f"EW-{tag}")]


def latest_state_with(bootstrap: str, subject: str) -> dict[str, list[bytes]]:
    """topic -> the keys whose latest record (the state compaction keeps) holds
    ``subject``, over every compacted topic of the hub and every table changelog."""
    from hub.kafka_io import existing_topics, read_to_end

    needle = subject.encode()
    compacted = sorted(t for t in existing_topics(bootstrap)
                       if t in ("hub.consent", "hub.facts", "hub.linkage")
                       or t.startswith("analytics.") or t.endswith("-changelog"))
    assert {"hub.consent", "hub.linkage"} <= set(compacted)
    assert any(t.endswith("-changelog") for t in compacted)
    found = {}
    for topic in compacted:
        latest: dict[bytes, bytes | None] = {}
        for record in read_to_end(bootstrap, topic, "unna-hub-test"):
            latest[record.key or b""] = record.value
        keys = [k for k, v in latest.items() if v is not None and (needle in k or needle in v)]
        if keys:
            found[topic] = keys
    return found


def test_an_erased_child_is_forgotten_and_every_recipient_is_told(worker, topics, tmp_path):
    tag, consent, subject = a_family(topics, tmp_path, "Eva")
    wait_for(lambda: events_of(topics.bootstrap, SCHOOL_INBOX, subject), 60,
             "the request in the school's inbox", interval=0.5)
    # the child is in the consent ledger, the router's tables and the analytics facts
    before = wait_for(lambda: (lambda f: f if "hub.facts" in f else None)(
        latest_state_with(topics.bootstrap, subject)), 60, "the child's facts")
    assert "hub.consent" in before and any(t.endswith("-changelog") for t in before)
    assert "hub.linkage" in before  # the connector sent the child's linkage encodings

    reference = f"VS-2026/{tag}"
    result = topics.hub("erase", "--subject", subject, "--reference", reference, "--yes",
                        "--wait", "90")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"done: erased on request {reference}: 1 consent(s), 0 held event(s), " \
           "1 handover(s) forgotten; erasure notice to grundschule-kamen-mitte" \
           in result.stdout

    (notice,) = [e for e in events_of(topics.bootstrap, SCHOOL_INBOX, subject)
                 if e["type"] == "subject.erased"]
    assert notice["source"] == "hub" and notice["payload"] == {"reference": reference}
    assert not [e for e in events_of(topics.bootstrap, "agency.jugendamt-kamen.inbox",
                                     subject) if e["type"] == "subject.erased"]
    # nothing left in the latest state of any compacted topic or table (the analytics
    # rewrite their facts a moment later)
    wait_for(lambda: not latest_state_with(topics.bootstrap, subject), 60,
             "no compacted topic or table to hold the pseudonym")
    erased = [r for r in family_history(topics.bootstrap, subject, timeout=1.0)
              if r["decision"] == "erased"]
    assert len(erased) == 1 and reference in erased[0]["reason"]

    # the family consents again: routed as for a child the hub never saw
    again = tmp_path / "again"
    again.mkdir()
    person = {k: consent[k] for k in ("Vorname", "Nachname", "Geburtsdatum")}
    granted = write_export(again / "einwilligungen_jugendamt-kamen.csv", [consent_row(
        **person, **{"Einwilligungs-ID": f"EW2-{tag}"})], columns=CONSENT_COLUMNS)
    request = write_export(again / "jugendamt-kamen_export.csv", [youth_office_row(
        Vorgangsnummer=f"JA2-{tag}", **person, **{"Uebergabe-ID": f"UE2-{tag}"})])
    for path in (granted, request):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr

    def delivered_again():
        return [r for r in family_history(topics.bootstrap, subject, timeout=1.0)
                if r["decision"] == "delivered" and r["consent_id"] == f"EW2-{tag}"]

    (record,) = wait_for(delivered_again, 60, "the new request delivered", interval=0.5)
    assert record["recipient"] == "grundschule-kamen-mitte"
    assert [c.consent_id for c in family_consents(topics.bootstrap, subject)] == [
        f"EW2-{tag}"]
