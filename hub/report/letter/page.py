"""The access letter as one HTML page: its sections, put together from the rows
(:mod:`hub.report.letter.rows`), the German sentences and the consents."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from html import escape

from hub.audit import DELIVERED, DUPLICATE, HELD, NOT_ROUTED, REFUSED
from hub.consent.ledger import ConsentState
from hub.report import names
from hub.report.letter.formats import (
    INSTANT,
    LOCAL_TIME,
    day,
    days,
    long_day,
    purpose,
    when,
    when_cell,
)
from hub.report.letter.retention import Retention
from hub.report.letter.rows import (
    HUB_NAME,
    Row,
    agency_namer,
    consent_status,
    later,
    own_rows,
    purpose_of,
)
from hub.report.letter.sentences import DECISION_SENTENCES, DECISIONS, Reason

TITLE = "Auskunft nach Art. 15 DSGVO"
EMPTY = "Zu diesem Kind sind keine Verarbeitungen verzeichnet."


STYLE = """
@page{size:A4;margin:18mm 16mm 20mm 18mm}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;font-size:10.5pt;line-height:1.45;
color:#000;background:#fff;max-width:190mm;margin:0 auto;padding:1.2rem}
header{border-bottom:2pt solid #000;padding-bottom:.5rem;margin-bottom:1rem}
.from{margin:0;font-size:9.5pt}
h1{font-size:18pt;margin:.6rem 0 .4rem}
h2{font-size:13pt;border-bottom:1pt solid #000;padding-bottom:2pt;margin:1.6rem 0 .5rem;
break-after:avoid;page-break-after:avoid}
h3{font-size:11pt;margin:1rem 0 .3rem;break-after:avoid;page-break-after:avoid}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.3rem 0}
dl.meta dt{font-weight:bold}dl.meta dd{margin:0}
.pseudonym{font-family:"DejaVu Sans Mono","Courier New",monospace;font-size:9pt;
word-break:break-all}
table{border-collapse:collapse;width:100%;font-size:9pt;margin:.4rem 0 .8rem}
th,td{border:.75pt solid #000;padding:2pt 4pt;text-align:left;vertical-align:top}
th{background:#e8e8e8;font-weight:bold}
thead{display:table-header-group}
tr{break-inside:avoid;page-break-inside:avoid}
td.when{width:11%}td.reason{width:34%}
.verbatim{font-family:"DejaVu Sans Mono","Courier New",monospace;font-size:8.5pt}
.note{font-size:9.5pt}
p.empty{border:1pt dashed #000;padding:.5rem .7rem;font-style:italic}
dl.legend dt{font-weight:bold;margin-top:.3rem}dl.legend dd{margin:0 0 0 1.2rem}
ul.recipients{margin:0;padding-left:1rem}
footer{margin-top:2rem;border-top:1pt solid #000;padding-top:.4rem;font-size:9pt}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
section{break-inside:auto}
a{color:#000;text-decoration:none}
}
"""


def build_letter(subject: str, audit_records: Iterable[dict],
                 consents: Iterable[ConsentState], agencies, today: date,
                 retention: Retention | None = None) -> str:
    """The access letter for the child ``subject`` as HTML.

    ``audit_records``: dicts as :func:`hub.operator_views.family_history` returns them (records of
    another subject are dropped); ``consents``: the subject's consent states; ``agencies``:
    an :class:`~hub.agencies.AgencyDirectory` (or a mapping id -> name) for display names;
    ``today``: the date of the letter, against which a consent is in force or not;
    ``retention``: the topics' retention for the erasure paragraph (None: as
    ``deploy/topics.yaml`` and the default ``HUB_AUDIT_RETENTION_DAYS`` declare it).
    """
    if isinstance(today, datetime):
        today = today.astimezone(LOCAL_TIME).date()
    retention = retention or Retention.declared()
    page = _Page(agency_namer(agencies), own_rows(subject, audit_records),
                 sorted(consents, key=lambda s: (s.valid_from, s.consent_id)))
    parts = [_head(subject, today, retention)]
    if not page.rows and not page.states:
        parts.append(f'<section id="ergebnis"><p class="empty">{EMPTY}</p></section>\n')
    else:
        parts += page.sections(today)
    parts.append(_erasure(page.delivered, retention, page.agency))
    parts.append(_foot(today))
    return "".join(parts)


class _Page:
    """The sections of one letter that show the child's rows and consents."""

    def __init__(self, agency: Callable[[str | None], str], rows: list[Row],
                 states: list[ConsentState]):
        self.agency, self.rows, self.states = agency, rows, states
        self.by_consent = {s.consent_id: s for s in states}
        self.delivered = [r for r in rows if r.get("decision") == DELIVERED]
        self.withheld = [r for r in rows if r.get("decision") in (REFUSED, HELD)]
        self.others = [r for r in rows if r.get("decision") not in (DELIVERED, REFUSED, HELD)]

    def sections(self, today: date) -> list[str]:
        e, agency = escape, self.agency
        parts = [_summary(self.delivered, self.withheld, agency), _section(
            "uebermittlungen", "Welche Stellen Meldungen erhalten haben",
            ["Übermittelt am", "Meldung", "Ereignis vom", "Von", "An", "Zweck", "Einwilligung"],
            [f"<tr>{self.event_cells(r)}<td>{e(agency(r.get('recipient')))}</td>"
             f"<td>{e(purpose_of(r, self.by_consent))}</td>"
             f"<td>{e(r.get('consent_id') or '–')}</td></tr>" for r in self.delivered],
            "Keine Stelle hat über den Hub Meldungen zu Ihrem Kind erhalten."), _section(
            "nicht-uebermittelt", "Was nicht übermittelt oder zurückgehalten wurde, und warum",
            ["Entschieden am", "Meldung", "Ereignis vom", "Von", "An", "Entscheidung",
             "Begründung"], [self.decision_row(r) for r in self.withheld],
            "Keine Meldung zu Ihrem Kind wurde abgelehnt oder zurückgehalten.")]
        if self.others:
            parts.append(_section(
                "weitere", "Weitere Vermerke",
                ["Vermerkt am", "Meldung", "Ereignis vom", "Von", "An", "Vermerk",
                 "Erläuterung"], [self.decision_row(r) for r in self.others], ""))
        parts.append(_legend(self.rows))
        parts.append(_consents(self.states, today, agency))
        return parts

    def event_cells(self, row: Row) -> str:
        return (f'<td class="when">{when_cell(row.get("time"), INSTANT)}</td>'
                f'<td>{escape(names.event_type(row.get("type")))}</td>'
                f'<td class="when">{when_cell(row.get("event_time"), row.precision)}</td>'
                f'<td>{escape(self.agency(row.get("sender")))}</td>')

    def decision_row(self, row: Row) -> str:
        decision = row.get("decision")
        return (f"<tr>{self.event_cells(row)}<td>{escape(self.agency(row.get('recipient')))}"
                f"</td><td>{escape(DECISIONS.get(decision, decision))}</td>"
                f"{self.reason_cell(row)}</tr>")

    def reason_cell(self, row: Row) -> str:
        decision = row.get("decision")
        if decision == NOT_ROUTED and row.get("type") == "consent.revoked":
            return ('<td class="reason">Der Widerruf wurde im Einwilligungsverzeichnis des '
                    "Hubs vermerkt.</td>")
        if decision == NOT_ROUTED and row.get("type") == "consent.granted":
            return ('<td class="reason">Die Einwilligung wurde im Einwilligungsverzeichnis '
                    "des Hubs vermerkt.</td>")
        reason = row.reason(self.agency)
        if decision == DUPLICATE and not reason.verbatim:
            reason = Reason(f"{self.agency(row.get('recipient'))} hatte diese Meldung bereits "
                            "erhalten; sie wurde nicht noch einmal übermittelt.")
        if reason.verbatim:
            text = (f'Vermerk des Hubs (ohne Übersetzung): <span class="verbatim" lang="en">'
                    f"{escape(reason.text)}</span>")
        else:
            text = escape(reason.text) or "–"
        if decision == HELD:
            text += " " + escape(later(row, self.rows, self.agency))
        return f'<td class="reason">{text}</td>'


def _head(subject: str, today: date, retention: Retention) -> str:
    e = escape
    return f"""<!DOCTYPE html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{TITLE}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<p class="from">Präventionskette „Kein Kind zurücklassen“ im Kreis Unna<br>
{HUB_NAME}, über die Vertrauensstelle</p>
<h1>{TITLE}</h1>
<dl class="meta">
<dt>Datum</dt><dd>{e(long_day(today))}</dd>
<dt>Pseudonym des Kindes</dt><dd class="pseudonym">{e(subject)}</dd>
</dl>
</header>
<main>
<section id="einleitung">
<p>Sie haben Auskunft darüber verlangt, welche Daten zu Ihrem Kind in der
Datendrehscheibe („Hub“) der Präventionskette verarbeitet werden. Der Hub leitet kurze
Meldungen wie „Übergabe angefragt“ zwischen den beteiligten Stellen weiter, aber nur,
wenn eine Einwilligung von Ihnen das für den Zweck und die Stelle erlaubt. Namen,
Geburtsdaten und Anschriften erreichen den Hub nie: Er kennt Ihr Kind nur unter dem oben
genannten Pseudonym, das sich ohne einen geheimen Schlüssel nicht auf Ihr Kind
zurückführen lässt. Jede Entscheidung des Hubs wird in einem Protokoll festgehalten; diese
Auskunft gibt wieder, was dieses Protokoll (es reicht
{e(days(retention.audit, dative=False))} zurück) und das Einwilligungsverzeichnis des
Hubs zu Ihrem Kind enthalten.</p>
</section>
"""


def _foot(today: date) -> str:
    return f"""</main>
<footer>
<p>Erstellt am {escape(long_day(today))} aus dem Protokoll und dem Einwilligungsverzeichnis des
Hubs. Zeiten in deutscher Zeit (Europa/Berlin); bei Ereignissen, die eine Stelle nur mit
Datum gemeldet hat, steht nur das Datum. Bei Fragen wenden Sie sich an die
Vertrauensstelle.</p>
</footer>
</body>
</html>
"""


def _summary(delivered: list[Row], withheld: list[Row], agency) -> str:
    recipients = sorted({agency(r.get("recipient")) for r in delivered})
    refused = sum(1 for r in withheld if r.get("decision") == REFUSED)
    held = sum(1 for r in withheld if r.get("decision") == HELD)
    text = (f"Übermittlungen: {len(delivered)}"
            + (f" an {len(recipients)} Stelle{'n' * (len(recipients) != 1)}"
               if recipients else "")
            + f". Nicht übermittelt: {refused}. Zurückgehalten: {held}.")
    return f'<section id="ueberblick"><p><strong>Überblick.</strong> {escape(text)}</p></section>\n'


def _section(anchor: str, title: str, header: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return (f'<section id="{anchor}"><h2>{escape(title)}</h2>'
                f'<p class="note">{escape(empty)}</p></section>\n')
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return (f'<section id="{anchor}"><h2>{escape(title)}</h2>'
            f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</section>\n")


def _legend(rows: list[Row]) -> str:
    shown = [d for d in DECISIONS if any(r.get("decision") == d for r in rows)]
    if not shown:
        return ""
    items = "".join(f"<dt>{escape(DECISIONS[d])}</dt><dd>{escape(DECISION_SENTENCES[d])}</dd>"
                    for d in shown)
    return (f'<section id="erlaeuterung"><h3>Was die Entscheidungen bedeuten</h3>'
            f'<dl class="legend">{items}</dl></section>\n')


def _consents(states: list[ConsentState], today: date, agency) -> str:
    in_force, not_in_force = [], []
    for state in states:
        active, status = consent_status(state, today)
        recipients = "".join(f"<li>{escape(agency(r))}</li>" for r in state.recipients)
        valid = (f"{day(state.valid_from)} bis {day(state.valid_to)}" if state.valid_to
                 else f"ab {day(state.valid_from)}, unbefristet")
        row = (f"<tr><td>{escape(state.consent_id)}</td><td>{escape(purpose(state.purpose))}</td>"
               f'<td><ul class="recipients">{recipients}</ul></td><td>{escape(valid)}</td>'
               f'<td class="when">{escape(when(state.recorded_at))}</td>'
               f"<td>{escape(status)}</td></tr>")
        (in_force if active else not_in_force).append(row)
    header = "".join(f"<th>{h}</th>" for h in (
        "Einwilligung", "Zweck", "Empfangende Stellen", "Gültig", "Erfasst am", "Stand"))

    def table(rows: list[str], empty: str) -> str:
        if not rows:
            return f'<p class="note">{empty}</p>'
        return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    return ('<section id="einwilligungen"><h2>Einwilligungen</h2>'
            '<p class="note">Die Nummer der Einwilligung steht auch auf Ihrem '
            "Einwilligungsformular.</p>"
            f"<h3>In Kraft am {escape(day(today))}</h3>"
            + table(in_force, "Keine Einwilligung ist in Kraft.")
            + "<h3>Widerrufen, beendet oder noch nicht gültig</h3>"
            + table(not_in_force, "Keine.")
            + "</section>\n")


def _erasure(delivered: list[Row], retention: Retention, agency) -> str:
    recipients = sorted({agency(r.get("recipient")) for r in delivered})
    which = f" (bisher: {', '.join(recipients)})" if recipients else ""
    return f"""<section id="loeschung">
<h2>Was ein Antrag auf Löschung bewirken würde</h2>
<p>Sie können verlangen, dass die Daten Ihres Kindes gelöscht werden. Den Antrag stellen
Sie bei der Vertrauensstelle; sie nennt Ihnen ein Aktenzeichen, unter dem Sie nach dem
Stand fragen können. Auf den Antrag hin</p>
<ul>
<li>vergisst der Hub Ihr Kind in allem, was er je Kind aufbewahrt: das
Einwilligungsverzeichnis, zurückgehaltene Meldungen, den Stand von Übergaben und die
Vermerke darüber, welche Stelle welche Meldung erhalten hat;</li>
<li>bekommt jede Stelle, die Meldungen zu Ihrem Kind erhalten hat{escape(which)}, eine
Nachricht mit dem Aktenzeichen, damit sie die Daten auch in ihrem eigenen System löschen
kann;</li>
<li>bleibt Ihr Kind in der anonymen Statistik des Kreises mitgezählt, aber ohne
Pseudonym: die veröffentlichten Zahlen ändern sich nicht;</li>
<li>verfallen Meldungen, die der Hub nur befristet aufbewahrt, erst mit dem Ende ihrer
Aufbewahrungsfrist: in den Ausgangsfächern der Stellen (was sie dem Hub senden) nach
{escape(days(retention.outboxes))}, in ihren Eingangsfächern (was der Hub ihnen zustellt) nach
{escape(days(retention.inboxes))}, in der Ablage für nicht verarbeitbare Meldungen nach
{escape(days(retention.dead_letters))} und im Protokoll der Entscheidungen nach
{escape(days(retention.audit))}.</li>
</ul>
<p>Die anonymen Zahlen der Kreisstatistik enthalten weder das Pseudonym noch andere
Angaben, die auf Ihr Kind zurückführen.</p>
</section>
"""
