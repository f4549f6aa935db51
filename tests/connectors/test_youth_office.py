"""Youth-office rows become pseudonymised events; bad rows report every problem."""

from datetime import date

import pytest

from connectors.ingest import convert_file
from connectors.rows import life_phase
from hub.agencies import load_agencies
from hub.contract.vocabulary import EventType
from hub.errors import InputError
from hub.paths import PROJECT_ROOT
from tests.exports import write_export, youth_office_row

EXAMPLE = PROJECT_ROOT / "connectors" / "examples" / "jugendamt-kamen_export.csv"


@pytest.fixture(scope="module")
def agencies():
    return load_agencies()


def convert(tmp_path, rows, agencies, key, name="jugendamt-kamen_export.csv"):
    return convert_file(write_export(tmp_path / name, rows), agencies, key)


def test_handover_request_becomes_an_event(tmp_path, agencies, pseudonym_key):
    result = convert(tmp_path, [youth_office_row()], agencies, pseudonym_key)
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


def test_no_identifying_data_in_the_event(tmp_path, agencies, pseudonym_key):
    result = convert(tmp_path, [youth_office_row()], agencies, pseudonym_key)
    text = result.events[0].model_dump_json()
    for secret in ("Tom", "Beispiel", "02.09.2020", "2020-09-02"):
        assert secret not in text


def test_reimport_gives_the_same_ids(tmp_path, agencies, pseudonym_key):
    rows = [youth_office_row(), youth_office_row(Vorgangsnummer="JA-2", Ereignis="Angebot "
            "angenommen", Angebot="Sprachförderung", Zielstelle="", **{"Uebergabe-ID": ""})]
    first = convert(tmp_path, rows, agencies, pseudonym_key)
    second = convert(tmp_path, rows, agencies, pseudonym_key)
    assert [e.id for e in first.events] == [e.id for e in second.events]
    assert len({e.id for e in first.events}) == 2


def test_duplicate_rows_in_one_file_are_published_once(tmp_path, agencies, pseudonym_key):
    result = convert(tmp_path, [youth_office_row(), youth_office_row()], agencies,
                     pseudonym_key)
    assert len(result.events) == 1 and result.duplicates == 1


def test_a_bad_row_reports_every_problem_and_the_rest_goes_on(tmp_path, agencies,
                                                            pseudonym_key):
    bad = youth_office_row(Datum="31.02.2026", Wohnort="Dortmund", Zweck="Irgendwas",
                           Vorname="", Zielstelle="jugendamt-nirgendwo")
    result = convert(tmp_path, [youth_office_row(), bad], agencies, pseudonym_key)
    assert len(result.events) == 1
    (rejection,) = result.rejected
    assert rejection.line == 3
    joined = " | ".join(rejection.problems)
    for expected in ("Datum '31.02.2026' is not a date", "Wohnort 'Dortmund'",
                     "Zweck 'Irgendwas'", "Vorname is empty", "jugendamt-nirgendwo"):
        assert expected in joined
    assert "Tom" not in rejection.describe(tmp_path / "x.csv")


def test_unknown_event_word_is_a_row_error(tmp_path, agencies, pseudonym_key):
    result = convert(tmp_path, [youth_office_row(Ereignis="Übergabe vielleicht")], agencies,
                     pseudonym_key)
    assert "Ereignis 'Übergabe vielleicht' is not a known event" in result.rejected[0].problems


def test_agency_must_be_known_and_supported(tmp_path, agencies, pseudonym_key):
    with pytest.raises(InputError, match="not an agency"):
        convert(tmp_path, [youth_office_row()], agencies, pseudonym_key,
                name="jugendamt-atlantis_export.csv")
    with pytest.raises(InputError, match="cannot tell the agency"):
        convert(tmp_path, [youth_office_row()], agencies, pseudonym_key, name="daten.csv")


def test_the_bundled_example(agencies, pseudonym_key):
    result = convert_file(EXAMPLE, agencies, pseudonym_key)
    assert len(result.events) == 6 and result.duplicates == 1 and len(result.rejected) == 1
    lina = [e.subject for e in result.events if e.life_phase == "rund_um_geburt"]
    assert len(lina) == 3 and len(set(lina)) == 1  # Özdemir and Oezdemir are one child


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
