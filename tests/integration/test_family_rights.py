"""A family's rights on the real broker: a withdrawn consent reaches, as a notice, every
agency that received events of the child under it, and the audit says so."""

from __future__ import annotations

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


def test_a_withdrawn_consent_is_a_notice_to_the_agency_that_received_events_under_it(
        worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:6]
    person = {"Vorname": f"Ida{tag}", "Nachname": "Beispiel", "Geburtsdatum": "02.09.2020"}
    consent = {"Einwilligungs-ID": f"EW-{tag}", **person}
    granted = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv",
                           [consent_row(**consent)], columns=CONSENT_COLUMNS)
    request = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(Vorgangsnummer=f"JA-{tag}", **person,
                         **{"Uebergabe-ID": f"UE-{tag}"})])
    for path in (granted, request):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    subject = topics.hub("pseudonym", person["Vorname"], "Beispiel",
                         "02.09.2020").stdout.strip()
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
