"""`hub audit --letter` on the real broker: a family's consent and event go through the
worker, and the access letter names the agency that received it and the consent, read
back from the consent ledger (hub.consent)."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import wait_for
from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row

pytestmark = pytest.mark.kafka


def test_the_access_letter_of_a_family(worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:6]
    person = {"Vorname": f"Lea{tag}", "Nachname": "Beispiel", "Geburtsdatum": "02.09.2020"}
    consents = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv",
                            [consent_row(**{"Einwilligungs-ID": f"EW-{tag}"}, **person)],
                            columns=CONSENT_COLUMNS)
    events = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(Vorgangsnummer=f"JA-{tag}", **person,
                         **{"Uebergabe-ID": f"UE-{tag}"})])
    for path in (consents, events):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    pseudonym = topics.hub("pseudonym", person["Vorname"], "Beispiel",
                           "02.09.2020").stdout.strip()
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
    consent = re.search(r'<section id="einwilligungen">(.*?)</section>', text, re.S).group(1)
    assert re.search(rf"In Kraft am .*EW-{tag}.*Übergang Kita-Schule.*Grundschule "
                     r"Kamen-Mitte.*15\.09\.2026 bis 31\.08\.2027", consent, re.S)
    assert person["Vorname"] not in text and text.count(pseudonym) == 1
