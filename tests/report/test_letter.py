"""The family's access letter (Art. 15 GDPR): pure tests of ``build_letter`` on invented
records, the letter in a headless browser (screen and PDF), and the command's clear error."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from html import unescape

import pytest

from hub.agencies import load_agencies
from hub.consent.ledger import ConsentState
from hub.report.letter import EMPTY, TITLE, Retention, build_letter, explain, when
from hub.routing.erasure import erasure_summary, held_erased
from hub.routing.notices import ERASURE_NOTICE, REVOCATION_NOTICE
from hub.settings import AUDIT_RETENTION_DAYS
from hub.topics import DAY_MS, plan_topics
from tests.hub.test_cli import hub
from tests.report.test_report import chromium

CHILD = "c0ffee" + "1" * 58
OTHER = "bad5ad" + "2" * 58
TODAY = date(2026, 11, 24)
RETENTION = Retention(outboxes=14, inboxes=90, audit=730, dead_letters=180)
EVENT_IDS = ["5b0e7f0a-1111-5c3e-9d1a-000000000001", "5b0e7f0a-1111-5c3e-9d1a-000000000002",
             "5b0e7f0a-1111-5c3e-9d1a-000000000003", "5b0e7f0a-1111-5c3e-9d1a-000000000004"]


def record(n: int, decision: str, type: str = "handover.requested", subject: str = CHILD,
           sender: str = "jugendamt-kamen", recipient: str | None = "grundschule-kamen-mitte",
           reason: str = "", consent_id: str | None = None,
           event_time: str = "2026-09-16T00:00:00+00:00",
           time: str = "2026-09-16T10:15:00+00:00", event: int | None = None) -> dict:
    """An audit record as ``hub.audit.audit_record`` writes it."""
    return {"audit_id": f"9a7d3c2b-0000-5000-8000-{n:012d}",
            "event_id": EVENT_IDS[n % len(EVENT_IDS) if event is None else event],
            "type": type, "subject": subject, "sender": sender, "recipient": recipient,
            "decision": decision, "reason": reason, "consent_id": consent_id,
            "event_time": event_time, "time": time}


def consent(cid: str, purpose: str, recipients: tuple[str, ...], valid_from: date,
            valid_to: date | None = None, revoked: datetime | None = None) -> ConsentState:
    recorded = revoked or datetime(valid_from.year, valid_from.month, valid_from.day,
                                   tzinfo=UTC)
    return ConsentState(cid, purpose, recipients, valid_from, valid_to, recorded, revoked)


RECORDS = [
    record(0, "not_routed", type="consent.granted", recipient=None,
           reason="consent: recorded in the consent ledger"),
    # the request of a date-only export row, delivered under the consent
    record(1, "delivered", consent_id="EW-KS-7"),
    # an offer after the family withdrew its early-help consent
    record(2, "refused", type="offer.accepted", recipient="gesundheitsamt-kreis-unna",
           consent_id="EW-FH-3", reason="consent EW-FH-3 was revoked on 2026-10-01",
           event_time="2026-10-20T09:30:00+00:00", time="2026-10-21T08:00:00+00:00"),
    # an offer that waited for a consent, and was then delivered
    record(3, "held", type="offer.completed", recipient=None,
           reason="no consent of the family covers purpose uebergang_kita_schule",
           event_time="2026-11-02T00:00:00+00:00", time="2026-11-02T11:00:00+00:00"),
    record(4, "delivered", type="offer.completed", recipient="jugendamt-kamen",
           sender="grundschule-kamen-mitte", consent_id="EW-KS-7", event=3,
           event_time="2026-11-02T00:00:00+00:00", time="2026-11-03T09:00:00+00:00"),
    record(5, "duplicate", recipient="grundschule-kamen-mitte", event=1,
           reason="already delivered to this recipient", time="2026-11-05T09:00:00+00:00"),
    # another child's record, passed in by mistake
    record(6, "delivered", subject=OTHER, recipient="jobcenter-kreis-unna",
           consent_id="EW-OTHER-1", type="screening.completed"),
]
CONSENTS = [
    consent("EW-KS-7", "uebergang_kita_schule", ("grundschule-kamen-mitte", "jugendamt-kamen"),
            date(2026, 9, 15), date(2027, 8, 31)),
    consent("EW-FH-3", "fruehe_hilfen", ("gesundheitsamt-kreis-unna",), date(2026, 3, 1),
            revoked=datetime(2026, 10, 1, tzinfo=UTC)),
    consent("EW-ST-1", "uebergang_schule_beruf", ("jobcenter-kreis-unna",), date(2025, 1, 1),
            date(2025, 12, 31)),
]


def letter(records=RECORDS, consents=CONSENTS, **kw) -> str:
    return build_letter(CHILD, records, consents, load_agencies(), TODAY,
                        kw.pop("retention", RETENTION))


def section(html: str, anchor: str) -> str:
    found = re.search(rf'<section id="{anchor}">(.*?)</section>', html, re.S)
    assert found, f"no section {anchor}"
    return found.group(1)


def rows(html: str, anchor: str) -> list[str]:
    """The table rows of a section, as text with cells separated by " | "."""
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", section(html, anchor), re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        out.append(" | ".join(unescape(re.sub(r"<[^>]+>", " ", c)).replace("\xa0", " ").strip()
                              for c in cells))
    return out


def test_a_german_letter_with_title_date_and_the_pseudonym_once():
    html = letter()
    assert html.startswith("<!DOCTYPE html>") and '<html lang="de">' in html
    assert f"<h1>{TITLE}</h1>" in html
    assert "24. November 2026" in html
    assert html.count(CHILD) == 1
    for heading in ("Welche Stellen Meldungen erhalten haben",
                    "Was nicht übermittelt oder zurückgehalten wurde, und warum",
                    "Einwilligungen", "In Kraft am 24.11.2026",
                    "Widerrufen, beendet oder noch nicht gültig",
                    "Was ein Antrag auf Löschung bewirken würde"):
        assert heading in html, heading


def test_deliveries_name_the_agencies_the_event_kind_the_consent_and_its_purpose():
    delivered = rows(letter(), "uebermittlungen")
    assert delivered == [
        "16.09.2026, 12:15 Uhr | Übergabe angefragt | 16.09.2026 | Jugendamt der Stadt Kamen"
        " | Grundschule Kamen-Mitte | Übergang Kita-Schule | EW-KS-7",
        "03.11.2026, 10:00 Uhr | Angebot abgeschlossen | 02.11.2026 | Grundschule Kamen-Mitte"
        " | Jugendamt der Stadt Kamen | Übergang Kita-Schule | EW-KS-7",
    ]


def test_refused_and_held_events_say_why_in_german():
    html = letter()
    withheld = rows(html, "nicht-uebermittelt")
    assert len(withheld) == 2
    refused, held = withheld  # in the order decided
    assert "Angebot abgeschlossen" in held and "zurückgehalten" in held
    assert ("Keine Einwilligung der Familie erlaubte eine Weitergabe für den Zweck "
            "„Übergang Kita-Schule“.") in held
    assert "Später entschieden: übermittelt an Jugendamt der Stadt Kamen." in held
    assert "Gesundheitsamt Kreis Unna | nicht übermittelt" in refused
    assert "Die Einwilligung EW-FH-3 wurde am 01.10.2026 widerrufen" in refused
    # the internal English text is not shown where a German sentence is known
    assert "was revoked" not in html and "covers purpose" not in html
    assert "already delivered" not in html and "consent ledger" not in html
    others = rows(html, "weitere")
    assert any("Einwilligung erteilt" in r and "Einwilligungsverzeichnis" in r for r in others)
    assert any("nicht erneut übermittelt" in r and "Grundschule Kamen-Mitte hatte diese "
               "Meldung bereits erhalten" in r for r in others)
    legend = section(html, "erlaeuterung")
    for word in ("übermittelt", "nicht übermittelt", "zurückgehalten",
                 "nicht erneut übermittelt", "an keine Stelle weitergegeben"):
        assert f"<dt>{word}</dt>" in legend


@pytest.mark.parametrize("reason, german", [
    ("no consent covers purpose fruehe_hilfen for jugendamt-unna",
     "Keine Einwilligung erlaubte die Weitergabe an Jugendamt der Kreisstadt Unna für den "
     "Zweck „Frühe Hilfen“."),
    ("event on 2026-09-01 is before consent EW-1 is valid (from 2026-09-15)",
     "Das Ereignis vom 01.09.2026 liegt vor dem Beginn der Einwilligung EW-1 "
     "(gültig ab 15.09.2026)."),
    ("event on 2027-09-01 is after consent EW-1 ended (2027-08-31)",
     "Das Ereignis vom 01.09.2027 liegt nach dem Ende der Einwilligung EW-1 "
     "(gültig bis 31.08.2027)."),
    ("kreis-unna-statistik has no inbox (kind statistics)",
     "Kreis Unna, Planung und Statistik erhält keine Meldungen zu einzelnen Kindern"),
    ("unknown recipient 'jugendamt-dortmund'", "„jugendamt-dortmund“ nimmt an der "
     "Präventionskette nicht teil"),
    ("handover.requested names no recipient", "Die Meldung nannte keine Stelle"),
    ("handover UE-KAM-0020 was never requested", "keine Übergabeanfrage eingegangen"),
    ("handover UE-KAM-0020 not requested yet", "war noch nicht eingegangen"),
    ("purpose statistik: analytics only", "Zweck „Statistik“ gehen an keine Stelle"),
    ("offer.made: analytics only", "Meldungen der Art „Angebot gemacht“ gehen an keine"),
    ("handover UE-KAM-0020: completed without being accepted",
     "ohne angenommen worden zu sein"),
    ("handover UE-KAM-0020: accepted by jugendamt-werne, but jugendamt-kamen was asked",
     "von Jugendamt der Stadt Werne als „angenommen“ gemeldet, angefragt war aber "
     "Jugendamt der Stadt Kamen"),
    # the hub's own notices and an erasure, worded by the router engine
    (REVOCATION_NOTICE, "dass die Einwilligung widerrufen ist"),
    (f"{ERASURE_NOTICE} (reference VS-2026/0042)", "auf Ihren Antrag (Aktenzeichen "
     "VS-2026/0042) gelöscht wurden"),
    (held_erased("VS-2026/0042"), "mit der Löschung (Aktenzeichen VS-2026/0042) verworfen"),
    (erasure_summary("VS-2026/0042", 2, 1, 1, ["grundschule-kamen-mitte"]),
     "auf Ihren Antrag (Aktenzeichen VS-2026/0042) alles gelöscht"),
])
def test_common_reasons_have_german_sentences(reason, german):
    names = {a.id: a.name for a in load_agencies()}
    explained = explain(reason, lambda a: names.get(a, a))
    assert not explained.verbatim
    assert german in explained.text
    assert "UE-KAM-0020" not in explained.text  # the agencies' handover ids are not needed


def test_an_unknown_reason_is_shown_verbatim():
    html = letter([record(1, "refused", reason="a reason nobody translated yet")], [])
    assert "a reason nobody translated yet" in section(html, "nicht-uebermittelt")


def test_no_event_ids_audit_ids_offsets_or_partitions():
    html = letter()
    for r in RECORDS:
        assert r["event_id"] not in html and r["audit_id"] not in html
    for word in ("event_id", "audit_id", "offset", "partition", "Offset", "Partition"):
        assert word not in html


def test_only_the_given_childs_records_appear():
    html = letter()
    assert OTHER not in html
    assert "Jobcenter Kreis Unna" not in section(html, "uebermittlungen")
    assert "Untersuchung abgeschlossen" not in html and "EW-OTHER-1" not in html
    # another child's records alone: nothing is recorded about this one
    alone = letter([r for r in RECORDS if r["subject"] == OTHER], [])
    assert EMPTY in alone and "Jobcenter" not in alone


def test_consents_in_force_and_revoked_or_ended():
    html = letter()
    consents = section(html, "einwilligungen")
    in_force, ended = consents.split("<h3>Widerrufen, beendet oder noch nicht gültig</h3>")
    assert "EW-KS-7" in in_force and "EW-FH-3" not in in_force and "EW-ST-1" not in in_force
    assert "15.09.2026 bis 31.08.2027" in in_force
    assert "Grundschule Kamen-Mitte" in in_force and "Jugendamt der Stadt Kamen" in in_force
    assert "Übergang Kita-Schule" in in_force
    assert re.search(r"EW-FH-3.*Frühe Hilfen.*Gesundheitsamt Kreis Unna.*ab 01\.03\.2026, "
                     r"unbefristet.*widerrufen am 01\.10\.2026", ended, re.S)
    assert re.search(r"EW-ST-1.*Übergang Schule-Beruf.*Jobcenter Kreis Unna.*"
                     r"beendet am 31\.12\.2025", ended, re.S)
    later = letter(consents=[consent("EW-9", "fruehe_hilfen", ("jugendamt-kamen",),
                                     date(2027, 1, 1))])
    assert "noch nicht gültig (ab 01.01.2027)" in section(later, "einwilligungen")


def test_hostile_values_are_escaped():
    hostile = "<script>alert('x')</script>"
    records = [record(1, "refused", reason=hostile, recipient=hostile, sender=hostile,
                      type=hostile, consent_id=hostile, event_time=hostile, time=hostile),
               record(2, "delivered", consent_id=hostile)]
    consents = [ConsentState(hostile, hostile, (hostile,), date(2026, 1, 1), None,
                             datetime(2026, 1, 1, tzinfo=UTC))]
    html = build_letter(CHILD, records, consents, load_agencies(), TODAY, RETENTION)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;" in html
    evil_subject = build_letter("<b>x</b>", [], [], load_agencies(), TODAY, RETENTION)
    assert "<b>x</b>" not in evil_subject and "&lt;b&gt;x&lt;/b&gt;" in evil_subject


def test_a_date_only_time_shows_its_date_and_other_times_berlin_time():
    assert when("2026-09-16T00:00:00+00:00") == "16.09.2026"
    assert when("2026-10-20T09:30:00+00:00") == "20.10.2026, 11:30 Uhr"  # summer time
    assert when("2026-11-24T12:00:00+00:00") == "24.11.2026, 13:00 Uhr"  # winter time
    # midnight in Berlin is not midnight UTC: a real time
    assert when("2026-11-23T23:00:00+00:00") == "24.11.2026, 00:00 Uhr"
    html = letter()
    assert "| Übergabe angefragt | 16.09.2026 |" in rows(html, "uebermittlungen")[0]
    assert "| 20.10.2026, 11:30 Uhr |" in rows(html, "nicht-uebermittelt")[0]


def test_the_empty_state():
    html = letter([], [])
    assert EMPTY in html
    assert "<table" not in html
    assert "Was ein Antrag auf Löschung bewirken würde" in html


def test_erasure_paragraph_with_the_retention_of_the_topics():
    html = letter(retention=Retention(outboxes=7, inboxes=45, audit=365.5, dead_letters=30))
    erasure = re.sub(r"\s+", " ", section(html, "loeschung"))
    assert "Vertrauensstelle" in erasure and "Aktenzeichen" in erasure
    for days in ("nach 7 Tagen", "nach 45 Tagen", "nach 30 Tagen", "nach 365,5 Tagen"):
        assert days in erasure
    assert "Einwilligungsverzeichnis, zurückgehaltene Meldungen, den Stand von Übergaben" in (
        erasure)
    # the agencies that got data are the ones that are told
    assert "(bisher: Grundschule Kamen-Mitte, Jugendamt der Stadt Kamen)" in erasure


def test_the_declared_retention_comes_from_the_topic_file_and_the_setting():
    specs = {s.name: s for s in plan_topics(load_agencies())}
    declared = Retention.declared()
    assert declared.audit == AUDIT_RETENTION_DAYS
    assert declared.inboxes == int(
        specs["agency.jugendamt-kamen.inbox"].config["retention.ms"]) / DAY_MS
    assert declared.outboxes == int(
        specs["agency.jugendamt-kamen.outbox"].config["retention.ms"]) / DAY_MS
    assert declared.dead_letters == int(specs["hub.dlq"].config["retention.ms"]) / DAY_MS
    assert Retention.declared(audit_retention_days=400).audit == 400
    default = build_letter(CHILD, [], [], load_agencies(), TODAY)
    assert f"nach {declared.inboxes:g} Tagen" in re.sub(r"\s+", " ", default)


def test_printable_and_self_contained():
    html = letter()
    assert "@media print" in html and "size:A4" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert "@import" not in html and "url(" not in html and "<img" not in html


def test_the_letter_needs_a_file(tmp_path):
    env = {"HUB_BOOTSTRAP_SERVERS": "127.0.0.1:1", "HUB_HOME": str(tmp_path)}
    result = hub("audit", "--subject", CHILD, "--letter", env=env)
    assert result.returncode == 1
    assert "--out" in result.stderr and "Traceback" not in result.stderr
    result = hub("audit", "--subject", CHILD, "--out", str(tmp_path / "a.html"), env=env)
    assert result.returncode == 1 and "--letter" in result.stderr
    result = hub("audit", "--subject", CHILD, "--letter", "--out",
                 str(tmp_path / "nowhere" / "a.html"), env=env)
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_the_letter_displays_and_prints_in_a_headless_browser(tmp_path):
    page = tmp_path / "auskunft.html"
    page.write_text(letter(), encoding="utf-8")
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(browser + ["--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for heading in (TITLE, "Welche Stellen Meldungen erhalten haben", "Einwilligungen",
                    "Was ein Antrag auf Löschung bewirken würde"):
        assert heading in dom.stdout, heading
    pdf = tmp_path / "auskunft.pdf"
    printed = subprocess.run(browser + ["--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                                        page.as_uri()], capture_output=True, text=True,
                             timeout=120)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert pdf.stat().st_size > 1000 and pdf.read_bytes()[:4] == b"%PDF"
