"""Children whose names are written in another script, on the real broker: one child's
consent never lets another child's events through (before transliteration, every such
name lost its letters and children born on one day shared a pseudonym)."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.exports import CONSENT_COLUMNS, consent_row, write_export, youth_office_row
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

BIRTH = "17.03.2020"
CONSENTED = {"Vorname": "Олена", "Nachname": "Бондаренко", "Geburtsdatum": BIRTH}
LOOK_ALIKES = [
    {"Vorname": "Ірина", "Nachname": "Коваленко", "Geburtsdatum": BIRTH},  # Cyrillic
    {"Vorname": "يوسف", "Nachname": "حداد", "Geburtsdatum": BIRTH},  # Arabic
    {"Vorname": "伟", "Nachname": "王", "Geburtsdatum": BIRTH},  # Chinese
]


def test_a_consent_for_one_child_does_not_route_a_look_alike(worker, topics, tmp_path):
    tag = uuid.uuid4().hex[:6]
    consents = write_export(tmp_path / "einwilligungen_jugendamt-kamen.csv",
                            [consent_row(**{"Einwilligungs-ID": f"EW-{tag}"}, **CONSENTED)],
                            columns=CONSENT_COLUMNS)
    rows = [youth_office_row(Vorgangsnummer=f"JA-{tag}-{i}", **person,
                             **{"Uebergabe-ID": f"UE-{tag}-{i}"})
            for i, person in enumerate([CONSENTED, *LOOK_ALIKES])]
    events = write_export(tmp_path / "jugendamt-kamen_export.csv", rows)
    for path in (consents, events):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stderr

    subjects = [topics.hub("pseudonym", p["Vorname"], p["Nachname"], BIRTH).stdout.strip()
                for p in [CONSENTED, *LOOK_ALIKES]]
    def decisions(subject):
        result = topics.hub("audit", "--subject", subject, "--json", "--timeout", "1")
        return {(r["type"], r["decision"], r.get("recipient"))
                for r in map(json.loads, result.stdout.splitlines())}

    consented = wait_for(
        lambda: (d := decisions(subjects[0])) and
        ("handover.requested", "delivered", "grundschule-kamen-mitte") in d and d,
        60, "the consented child's request delivered", interval=1)
    assert ("consent.granted", "not_routed", None) in consented
    for subject in subjects[1:]:
        held = wait_for(lambda s=subject: decisions(s) or None, 60,
                        "the look-alike's request decided", interval=1)
        assert held == {("handover.requested", "held", None)}, held
    assert len(set(subjects)) == 4
