"""A family's rights on the real broker: the access letter names the agency that received
the child's event and the consent (read back from hub.consent), and a withdrawn consent
reaches, as a notice, every agency that received events of the child under it."""

from __future__ import annotations

import re
import uuid

import pytest

from hub.records import family_history
from hub.tail import Tail
from tests.conftest import wait_for
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row

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
