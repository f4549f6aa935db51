"""Spelling variants and look-alikes on the real broker, as the Jobcenter sends them: the
youth office consents for each youth; the Jobcenter asks the youth office to take a
handover over, typing the youth as its own software holds them. A variant reaches the youth
office (at once when the linkage stage links it, after the trust office confirms a possible
match); a youth nobody consented for never does, however alike."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from hub.core.topics import LINKAGE_REVIEWS_TOPIC
from hub.kafka_io import latest_values, producer
from hub.linkage.records import Action, Outcome, Review
from hub.operator_views import linkage_decisions
from hub.tail import Tail
from tests.exports import (
    CONSENT_COLUMNS,
    JOBCENTER_COLUMNS,
    consent_row,
    jobcenter_row,
    write_export,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.kafka

YOUTH, JOBCENTER = "jugendamt-luenen", "jobcenter-kreis-unna"
# (kind, consented youth as the youth office writes it, as the Jobcenter writes it)
VARIANTS = [
    ("phonetic family name", ("Marlene", "Meyer", "14.03.2008"), ("Marlene", "Meier", None)),
    ("phonetic given name", ("Sophie", "Brandner", "02.05.2008"), ("Sofie", "Brandner", None)),
    ("typing error, family name", ("Konstantin", "Hagedorn", "19.07.2008"),
     ("Konstantin", "Hagedron", None)),
    ("part of a double name", ("Anna-Lena", "Wiesinger", "08.01.2009"),
     ("Anna", "Wiesinger", None)),
    ("names swapped", ("Jonte", "Kallweit", "21.02.2009"), ("Kallweit", "Jonte", None)),
    ("day and month swapped", ("Ilvy", "Sonnberg", "04.09.2008"), ("Ilvy", "Sonnberg",
                                                                    "09.04.2008")),
    ("wrong digit in the day", ("Malte", "Trenkel", "13.10.2008"), ("Malte", "Trenkel",
                                                                     "18.10.2008")),
    ("Cyrillic against Latin", ("Олена", "Бондаренко", "27.11.2008"),
     ("Olena", "Bondarenko", None)),
]
# youths nobody consented for, each like a consented one
LOOK_ALIKES = [
    ("twin with another given name", ("Ronja", "Feldkamp", "11.06.2008"),
     ("Tjark", "Feldkamp", None)),
    ("twin one letter apart", ("Lena", "Obermeyer", "06.08.2009"), ("Lina", "Obermeyer", None)),
    ("namesake born in another year", ("Finja", "Rautenberg", "17.12.2008"),
     ("Finja", "Rautenberg", "17.12.2007")),
    ("another name in Cyrillic, same birthday", ("Ірина", "Коваленко", "03.03.2009"),
     ("Дмитро", "Ткаченко", None)),
    ("transliterated alike", ("伟", "王", "05.05.2009"), ("伟", "汪", None)),
]


def inbox_ids(bootstrap: str) -> set[str]:
    return {r.value["id"] for r in Tail(bootstrap, [f"agency.{YOUTH}.inbox"],
                                        from_beginning=True, timeout=1.0) if r.value}


def test_variants_reach_the_youth_office_and_look_alikes_never(worker, topics, tmp_path,
                                                                pseudonym_key):
    from connectors.ingest import convert_file
    from hub.agencies import load_agencies

    tag = uuid.uuid4().hex[:6]
    cases = VARIANTS + LOOK_ALIKES
    consents = [consent_row(**{"Einwilligungs-ID": f"EW-{tag}-{i}"}, Vorname=g, Nachname=f,
                            Geburtsdatum=b, Wohnort="Lünen", Zweck="Übergang Schule-Beruf",
                            Empfaenger=f"{YOUTH},{JOBCENTER}", Gueltig_ab="01.11.2026",
                            Erfasst_am="01.11.2026")
                for i, (_, (g, f, b), _) in enumerate(cases)]
    consent_file = write_export(tmp_path / f"einwilligungen_{YOUTH}.csv", consents,
                                columns=CONSENT_COLUMNS)
    (tmp_path / "jc").mkdir()
    requests = [jobcenter_row(**{"BG-Nummer": f"BG{tag}{i}", "Uebergabe-ID": f"UE-{tag}-{i}"},
                              Vorname=g2, Nachname=f2, Geburtsdatum=b2 or b,
                              Zielstelle=YOUTH, Wohnort="Lünen", Datum="10.11.2026")
                for i, (_, (_g, _f, b), (g2, f2, b2)) in enumerate(cases)]
    request_file = write_export(tmp_path / "jc" / f"{JOBCENTER}_export.csv", requests,
                                columns=JOBCENTER_COLUMNS)
    # the look-alikes' own youths are consented; the look-alikes themselves are not
    for path in (consent_file, request_file):
        result = topics.hub("ingest", str(path))
        assert result.returncode == 0, result.stderr

    asked = convert_file(request_file, load_agencies(), pseudonym_key).events
    by_kind = {kind: event for (kind, _, _), event in zip(cases, asked, strict=True)}

    def decided():
        known = linkage_decisions(topics.bootstrap)
        return known if all(e.subject in known for e in asked) else None

    known = wait_for(decided, 60, "the linkage decisions of every request", interval=1)
    outcomes = {kind: known[e.subject].outcome for kind, e in by_kind.items()}
    # the trust office confirms each possible match of a variant, rejects those of look-alikes
    now = datetime.now(UTC)
    variant_kinds = {kind for kind, _, _ in VARIANTS}
    kp = producer(topics.bootstrap, "test-trust-office")
    for kind, event in by_kind.items():
        d = known[event.subject]
        if d.outcome is Outcome.POSSIBLE:
            action = Action.CONFIRM if kind in variant_kinds else Action.REJECT
            review = Review(action, d.pseudonym, d.candidate, "trust-office", now)
            kp.send(LINKAGE_REVIEWS_TOPIC, key=review.key, value=review.to_bytes())
    kp.flush()
    kp.close()

    variant_ids = {by_kind[kind].id for kind, _, _ in VARIANTS}
    look_alike_ids = {by_kind[kind].id for kind, _, _ in LOOK_ALIKES}
    delivered = wait_for(lambda: (ids := inbox_ids(topics.bootstrap)) >= variant_ids and ids,
                         90, "every variant in the youth office's inbox", interval=1)
    assert not delivered & look_alike_ids, json.dumps(
        {k: o.value for k, o in outcomes.items()})
    linked = sum(outcomes[k] is Outcome.SAME for k, _, _ in VARIANTS)
    assert linked >= 0.6 * len(VARIANTS), outcomes
    assert all(outcomes[k] is not Outcome.SAME for k, _, _ in LOOK_ALIKES), outcomes


def test_a_linked_child_is_one_child_for_the_audit_and_the_erasure(worker, topics, tmp_path,
                                                                    pseudonym_key):
    """`hub audit` of either spelling shows both; `hub erase` of one erases both, their
    encodings and the linkage decisions included."""
    from connectors.ingest import convert_file
    from hub.agencies import load_agencies

    tag = uuid.uuid4().hex[:6]
    consent_file = write_export(tmp_path / f"einwilligungen_{YOUTH}.csv", [consent_row(
        **{"Einwilligungs-ID": f"EW-{tag}"}, Vorname="Henrike", Nachname="Wallmeyer",
        Geburtsdatum="29.01.2008", Wohnort="Lünen", Zweck="Übergang Schule-Beruf",
        Empfaenger=f"{YOUTH},{JOBCENTER}", Gueltig_ab="01.11.2026", Erfasst_am="01.11.2026")],
        columns=CONSENT_COLUMNS)
    (tmp_path / "jc").mkdir()
    request_file = write_export(tmp_path / "jc" / f"{JOBCENTER}_export.csv", [jobcenter_row(
        **{"BG-Nummer": f"BG{tag}", "Uebergabe-ID": f"UE-{tag}"}, Vorname="Henrike",
        Nachname="Wallmeier", Geburtsdatum="29.01.2008", Zielstelle=YOUTH, Wohnort="Lünen")],
        columns=JOBCENTER_COLUMNS)
    for path in (consent_file, request_file):
        assert topics.hub("ingest", str(path)).returncode == 0
    agencies = load_agencies()
    (granted,) = convert_file(consent_file, agencies, pseudonym_key).events
    (asked,) = convert_file(request_file, agencies, pseudonym_key).events
    wait_for(lambda: asked.id in inbox_ids(topics.bootstrap), 60,
             "the variant's request in the youth office's inbox", interval=1)

    audit = topics.hub("audit", "--subject", asked.subject, "--timeout", "2")
    assert audit.returncode == 0, audit.stderr
    assert f"one child with {granted.subject}" in audit.stderr
    assert "consent.granted" in audit.stdout and "handover.requested" in audit.stdout

    erased = topics.hub("erase", "--subject", asked.subject, "--reference", f"VS/{tag}",
                        "--yes", "--wait", "90")
    assert erased.returncode == 0, erased.stdout + erased.stderr
    assert granted.subject in erased.stdout  # named as erased too

    def forgotten():
        decided = linkage_decisions(topics.bootstrap)
        encodings = latest_values(topics.bootstrap, "hub.linkage", "unna-hub-test")
        left = [s for s in (granted.subject, asked.subject)
                if s in decided or s.encode() in encodings]
        return not left or None
    wait_for(forgotten, 90, "both spellings gone from the linkage topics", interval=1)
