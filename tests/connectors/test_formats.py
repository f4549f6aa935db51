"""Every export format becomes pseudonymised events; bad rows report every problem."""

from datetime import date

import pytest

from connectors.envelopes import life_phase
from connectors.ingest import convert_file
from hub.agencies import load_agencies
from hub.contract.vocabulary import EventType
from hub.errors import InputError
from hub.paths import PROJECT_ROOT
from tests.exports import (
    CONSENT_COLUMNS,
    HEALTH_COLUMNS,
    JOBCENTER_COLUMNS,
    SCHOOL_COLUMNS,
    consent_row,
    health_row,
    jobcenter_row,
    school_row,
    write_export,
    youth_office_row,
)

EXAMPLES = PROJECT_ROOT / "connectors" / "examples"


@pytest.fixture(scope="module")
def agencies():
    return load_agencies()


@pytest.fixture
def convert(tmp_path, agencies, pseudonym_key):
    def run(rows, name="jugendamt-kamen_export.csv", columns=None, **kwargs):
        path = write_export(tmp_path / name, rows, **({"columns": columns} if columns else {}))
        return convert_file(path, agencies, pseudonym_key, **kwargs)
    return run


# ------------------------------------------------------------------ youth office
def test_handover_request_becomes_an_event(convert, pseudonym_key):
    result = convert([youth_office_row()])
    assert result.topic == "agency.jugendamt-kamen.outbox" and not result.rejected
    (event,) = result.events
    assert event.type is EventType.HANDOVER_REQUESTED
    assert event.source == "jugendamt-kamen"
    assert event.recipient == "grundschule-kamen-mitte"
    assert event.correlation_id == event.payload.handover_id == "UE-KAM-0001"
    assert (event.municipality, event.life_phase, event.purpose) == (
        "kamen", "grundschule", "uebergang_kita_schule")
    assert event.key_id == pseudonym_key.key_id
    assert event.time.isoformat() == "2026-09-16T00:00:00+00:00"


def test_no_identifying_data_in_the_event(convert):
    text = convert([youth_office_row()]).events[0].model_dump_json()
    for secret in ("Tom", "Beispiel", "02.09.2020", "2020-09-02"):
        assert secret not in text


def test_reimport_gives_the_same_ids(convert):
    rows = [youth_office_row(), youth_office_row(
        Vorgangsnummer="JA-2", Ereignis="Angebot angenommen", Angebot="Sprachförderung",
        Zielstelle="", **{"Uebergabe-ID": ""})]
    first, second = convert(rows), convert(rows)
    assert [e.id for e in first.events] == [e.id for e in second.events]
    assert len({e.id for e in first.events}) == 2


def test_duplicate_rows_in_one_file_are_published_once(convert):
    result = convert([youth_office_row(), youth_office_row()])
    assert len(result.events) == 1 and result.duplicates == 1


def test_a_bad_row_reports_every_problem_and_the_rest_goes_on(convert):
    bad = youth_office_row(Datum="31.02.2026", Wohnort="Dortmund", Zweck="Irgendwas",
                           Vorname="", Zielstelle="jugendamt-nirgendwo",
                           Geburtsdatum="2020-09-02")
    result = convert([youth_office_row(), bad])
    assert len(result.events) == 1
    (rejection,) = result.rejected
    assert rejection.line == 3
    joined = " | ".join(rejection.problems)
    for expected in ("Datum '31.02.2026' is not a date", "Wohnort 'Dortmund'",
                     "Zweck 'Irgendwas'", "Vorname is empty", "Geburtsdatum is not a date"):
        assert expected in joined
    assert "2020-09-02" not in joined  # the birth date is identifying: never echoed


def test_a_name_with_no_letter_is_a_row_error_and_nothing_is_published(convert):
    result = convert([youth_office_row(Vorname="😀", Nachname="--"),
                      youth_office_row(Vorgangsnummer="JA-2", Wohnort="Atlantis", Vorname="?")])
    assert not result.events
    first, second = result.rejected
    assert first.problems == (
        "Vorname has no letter or digit (in any script): no pseudonym can be computed",
        "Nachname has no letter or digit (in any script): no pseudonym can be computed")
    assert "Wohnort 'Atlantis' is not a known town" in " | ".join(second.problems)
    assert any(p.startswith("Vorname has no letter") for p in second.problems)


def test_names_in_other_scripts_are_not_merged(convert):
    """Two children born on one day, names in Cyrillic and Chinese: before transliteration
    both lost every letter and shared one pseudonym."""
    result = convert([youth_office_row(Vorname="Олена", Nachname="Бондаренко"),
                      youth_office_row(Vorgangsnummer="JA-2", Vorname="伟", Nachname="王"),
                      youth_office_row(Vorgangsnummer="JA-3", Vorname="伟", Nachname="汪")])
    assert not result.rejected
    assert len({event.subject for event in result.events}) == 3
    text = " ".join(event.model_dump_json() for event in result.events)
    for name in ("Олена", "Бондаренко", "olena", "伟", "wang"):
        assert name not in text


def test_unknown_event_word_is_a_row_error(convert):
    result = convert([youth_office_row(Ereignis="Übergabe vielleicht")])
    assert "Ereignis 'Übergabe vielleicht' is not a known event" in result.rejected[0].problems


def test_unknown_recipient_is_a_row_error(convert):
    result = convert([youth_office_row(Zielstelle="jugendamt-atlantis")])
    assert "recipient 'jugendamt-atlantis' is not a known agency id" in \
        result.rejected[0].problems


def test_agency_must_be_known(convert):
    with pytest.raises(InputError, match="not an agency"):
        convert([youth_office_row()], name="jugendamt-atlantis_export.csv")
    with pytest.raises(InputError, match="cannot tell the agency"):
        convert([youth_office_row()], name="daten.csv")
    with pytest.raises(InputError, match="has no outbox"):
        convert([youth_office_row()], name="kreis-unna-statistik_export.csv")


# ------------------------------------------------------------------------ school
def test_school_rows(convert):
    rows = [school_row(Klasse="Igelgruppe"),
            school_row(Ereignis="Angebot angenommen", Bezug="Sprachförderung",
                       Datum="08.10.2026")]
    result = convert(rows, name="grundschule-kamen-mitte_export.csv", columns=SCHOOL_COLUMNS)
    accepted, offer = result.events
    assert accepted.type is EventType.HANDOVER_ACCEPTED
    assert accepted.payload.handover_id == "UE-KAM-0001" and accepted.recipient is None
    assert offer.type is EventType.OFFER_ACCEPTED
    assert offer.payload.offer_category == "Sprachförderung"
    assert result.conversion.format == "school"
    assert "Igelgruppe" not in accepted.model_dump_json()  # the class is not published


def test_a_daycare_uses_the_school_format(convert):
    result = convert([school_row()], name="kita-kamen-regenbogen_export.csv",
                     columns=SCHOOL_COLUMNS)
    assert result.events[0].source == "kita-kamen-regenbogen"


def test_school_handover_request_needs_a_recipient(convert):
    result = convert([school_row(Ereignis="Übergabe angefragt")],
                     name="grundschule-kamen-mitte_export.csv", columns=SCHOOL_COLUMNS)
    assert any("Zielstelle" in p for p in result.rejected[0].problems)


# ------------------------------------------------------------------------ health
def test_health_screening_and_steps(convert):
    rows = [health_row(),
            health_row(**{"Untersuchungs-Nr": "GA-2", "Art": "Angebot angenommen",
                          "Ergebnis": "Familienhebamme", "Zweck": "Frühe Hilfen"}),
            health_row(**{"Untersuchungs-Nr": "GA-3", "Art": "Übergabe angenommen",
                          "Ergebnis": "", "Bezug": "UE-KAM-0007"})]
    result = convert(rows, name="gesundheitsamt-kreis-unna_export.csv",
                     columns=HEALTH_COLUMNS)
    screening, offer, handover = result.events
    assert screening.type is EventType.SCREENING_COMPLETED
    assert (screening.payload.screening_kind, screening.payload.support_category) == (
        "schuleingangsuntersuchung", "foerderbedarf_sprache")
    assert offer.payload.offer_category == "Familienhebamme"
    assert handover.correlation_id == "UE-KAM-0007"


def test_health_unknown_art_and_result_are_row_errors(convert):
    rows = [health_row(Art="Impfung"), health_row(Ergebnis="sieht gut aus")]
    result = convert(rows, name="gesundheitsamt-kreis-unna_export.csv",
                     columns=HEALTH_COLUMNS)
    assert not result.events
    assert "neither a known examination nor a known event" in result.rejected[0].problems[0]
    assert "Ergebnis 'sieht gut aus' is not a known examination result" in \
        result.rejected[1].problems


@pytest.mark.parametrize("town", ["Fröndenberg/Ruhr", "Froendenberg", "FRÖNDENBERG",
                                  "fröndenberg / ruhr"])
def test_town_spellings(convert, town):
    result = convert([health_row(Gemeinde=town)], name="gesundheitsamt-kreis-unna_export.csv",
                     columns=HEALTH_COLUMNS)
    assert result.events[0].municipality == "froendenberg"


# --------------------------------------------------------------------- jobcenter
def test_jobcenter_household_members_get_their_own_ids(convert):
    rows = [jobcenter_row(), jobcenter_row(Vorname="Lea", Geburtsdatum="01.01.2011")]
    result = convert(rows, name="jobcenter-kreis-unna_export.csv", columns=JOBCENTER_COLUMNS)
    assert len(result.events) == 2 and not result.duplicates
    assert result.events[0].recipient == "jugendamt-luenen"
    assert result.events[0].life_phase == "uebergang_beruf"
    assert result.events[1].life_phase == "sek1"


# ----------------------------------------------------------------------- consent
def consent(convert, rows, name="einwilligungen_jugendamt-kamen.csv"):
    return convert(rows, name=name, columns=CONSENT_COLUMNS)


def test_consent_grant(convert):
    (event,) = consent(convert, [consent_row()]).events
    assert event.type is EventType.CONSENT_GRANTED
    assert event.payload.recipients == ("grundschule-kamen-mitte", "jugendamt-kamen")
    assert (event.payload.valid_from, event.payload.valid_to) == (date(2026, 9, 15),
                                                                 date(2027, 8, 31))
    assert event.correlation_id == event.payload.consent_id == "EW-1"


def test_only_the_latest_consent_state_is_published(convert):
    rows = [consent_row(Status="widerrufen", Erfasst_am="20.10.2026"),  # listed first
            consent_row(),
            consent_row(**{"Einwilligungs-ID": "EW-2"})]
    result = consent(convert, rows)
    by_id = {e.payload.consent_id: e for e in result.events}
    assert by_id["EW-1"].type is EventType.CONSENT_REVOKED
    assert by_id["EW-1"].payload.effective_at.date() == date(2026, 10, 20)
    assert by_id["EW-2"].type is EventType.CONSENT_GRANTED
    assert len(result.events) == 2
    assert result.conversion.summary.superseded == 1


def test_a_consent_with_a_bad_row_is_held_back_entirely(convert):
    rows = [consent_row(), consent_row(Status="zurückgezogen", Erfasst_am="20.10.2026")]
    result = consent(convert, rows)
    assert not result.events  # the grant must not go out: its withdrawal is unreadable
    assert len(result.rejected) == 2
    assert any("none of its rows is published" in p for r in result.rejected
               for p in r.problems)


def test_a_consent_for_a_name_with_no_letter_is_refused(convert):
    result = consent(convert, [consent_row(Nachname="☺")])
    assert not result.events
    assert result.rejected[0].problems == (
        "Nachname has no letter or digit (in any script): no pseudonym can be computed",)


def test_consent_with_unknown_recipient_and_open_end(convert):
    result = consent(convert, [consent_row(Empfaenger="jugendamt-kamen, schule-x",
                                           Gueltig_bis="")])
    assert "recipient 'schule-x' is not a known agency id" in result.rejected[0].problems
    (ok,) = consent(convert, [consent_row(Gueltig_bis="")]).events
    assert ok.payload.valid_to is None


def test_any_agency_can_export_consents(convert):
    result = consent(convert, [consent_row()], name="einwilligungen_jobcenter-kreis-unna.csv")
    assert result.events[0].source == "jobcenter-kreis-unna"


# ------------------------------------------------------------- format selection
def test_format_must_match_the_agency_kind(convert):
    with pytest.raises(InputError, match="is a school export, but jugendamt-kamen is a "
                                         "youth_office agency"):
        convert([school_row()], name="jugendamt-kamen_export.csv", columns=SCHOOL_COLUMNS)


def test_unknown_format_fails_as_a_whole(convert):
    with pytest.raises(InputError, match="unknown export format"):
        convert([{"A": "1"}], columns=("A", "B", "C"))


def test_a_format_with_missing_columns_names_them(convert):
    columns = [c for c in JOBCENTER_COLUMNS if c != "Maßnahme"]
    with pytest.raises(InputError, match="missing columns: Maßnahme"):
        convert([jobcenter_row()], name="jobcenter-kreis-unna_export.csv", columns=columns)


# ------------------------------------------------------------- the example set
def test_every_example_export(agencies, pseudonym_key):
    results = {p.name: convert_file(p, agencies, pseudonym_key)
               for p in sorted(EXAMPLES.glob("*.csv"))}
    assert all(not r.rejected for r in results.values())
    counts = {name: len(r.events) for name, r in results.items()}
    assert counts == {
        "einwilligungen_jobcenter-kreis-unna.csv": 1,
        "einwilligungen_jugendamt-kamen.csv": 4,  # Sofia's grant superseded by withdrawal
        "gesundheitsamt-kreis-unna_export.csv": 4,
        "grundschule-kamen-mitte_export.csv": 3,
        "jobcenter-kreis-unna_export.csv": 2,
        "jugendamt-kamen_export.csv": 7,  # JA 0104 exported twice
    }
    subjects = {}
    for result in results.values():
        for event in result.events:
            subjects.setdefault(event.subject, set()).add(event.source)
    # Mia (Schröder/Schroeder) and Leon (Yılmaz/Yilmaz) are each one subject across agencies
    assert {"jugendamt-kamen", "gesundheitsamt-kreis-unna"} in subjects.values() or any(
        {"jugendamt-kamen", "gesundheitsamt-kreis-unna"} <= s for s in subjects.values())
    leon = [s for s in subjects.values()
            if {"jugendamt-kamen", "grundschule-kamen-mitte", "gesundheitsamt-kreis-unna"} <= s]
    assert leon, subjects


@pytest.mark.parametrize(("birth", "at", "phase"), [
    (date(2026, 5, 3), date(2026, 10, 1), "rund_um_geburt"),
    (date(2025, 2, 14), date(2026, 2, 13), "rund_um_geburt"),
    (date(2025, 2, 14), date(2026, 2, 14), "kleinkind"),
    (date(2023, 1, 9), date(2026, 1, 9), "kita"),
    (date(2020, 9, 2), date(2026, 9, 16), "grundschule"),
    (date(2014, 1, 1), date(2026, 1, 1), "sek1"),
    (date(2009, 6, 23), date(2026, 11, 3), "uebergang_beruf"),
    (date(2000, 1, 1), date(2026, 1, 1), None),
])
def test_life_phase_from_age(birth, at, phase):
    assert life_phase(birth, at) == phase


def test_each_child_brings_its_linkage_encodings_once(convert, pseudonym_key, agencies,
                                                      tmp_path):
    from connectors.ingest import Conversion
    from hub.contract.linkage import Encodings

    path = write_export(tmp_path / "jugendamt-kamen_export.csv", [
        youth_office_row(),
        youth_office_row(Vorgangsnummer="JA-2", Ereignis="Angebot angenommen",
                         Angebot="Sprachförderung", Zielstelle="", **{"Uebergabe-ID": ""}),
        youth_office_row(Vorgangsnummer="JA-3", Vorname="Ida"),
    ])
    outcomes = [o for o in Conversion(path, agencies, pseudonym_key).outcomes()
                if o.kind == "event"]
    assert [o.encodings is not None for o in outcomes] == [True, False, True]
    first = Encodings.from_bytes(outcomes[0].encodings)
    assert first.given.exact != Encodings.from_bytes(outcomes[2].encodings).given.exact
    assert "Tom" not in repr(outcomes[0])  # the person is never shown
