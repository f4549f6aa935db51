"""The family's access letter (Art. 15 GDPR) as one printable, self-contained HTML file
(pure: audit records, consent states and the agency list in, German HTML out).

``hub audit --subject PSEUDONYM --letter --out auskunft.html`` writes it for the trust
office, which hands it to the family: which agency received which kind of event when,
under which consent and purpose; what was refused or held and why (in plain German, the
hub's internal reason text only where no German sentence is known for it); which consents
are in force and which were revoked or ended; and what an erasure request would do.

It shows the pseudonym once and consent ids (they are on the family's consent forms), but
no event ids, audit ids, offsets or partitions, and nothing of another child: records of
another subject are dropped. Styles are inline, there is no script and nothing is loaded
from the network; a print stylesheet lays it out on A4, readable in black and white.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from html import escape
from zoneinfo import ZoneInfo

from connectors.vocabulary import PURPOSE_WORDS
from hub.agencies import load_agencies
from hub.audit import (
    ANOMALY,
    AUDIT_TOPIC,
    DELIVERED,
    DUPLICATE,
    ERASED,
    HELD,
    NOT_ROUTED,
    REFUSED,
)
from hub.consent.ledger import ConsentState
from hub.deadletter import DLQ_TOPIC
from hub.report import names
from hub.topics import DAY_MS, TopicSpec, plan_topics

LOCAL_TIME = ZoneInfo("Europe/Berlin")
TITLE = "Auskunft nach Art. 15 DSGVO"
EMPTY = "Zu diesem Kind sind keine Verarbeitungen verzeichnet."
HUB_NAME = "Datendrehscheibe (Hub) der Präventionskette"
HUB_SOURCE = "hub"  # the sender of the hub's own events (handover.stalled)

DECISIONS = {
    DELIVERED: "übermittelt",
    REFUSED: "nicht übermittelt",
    HELD: "zurückgehalten",
    DUPLICATE: "nicht erneut übermittelt",
    NOT_ROUTED: "an keine Stelle weitergegeben",
    ANOMALY: "Unstimmigkeit vermerkt",
    ERASED: "gelöscht",
}
DECISION_SENTENCES = {
    DELIVERED: "Die Meldung wurde an die genannte Stelle übermittelt, weil eine Einwilligung "
               "die Weitergabe für diesen Zweck an diese Stelle erlaubte.",
    REFUSED: "Die Meldung wurde der genannten Stelle nicht übermittelt; der Grund steht "
             "daneben.",
    HELD: "Die Meldung wurde vorläufig zurückgehalten, zum Beispiel weil die passende "
          "Einwilligung noch nicht eingegangen war. Sie wird entschieden, sobald das "
          "Fehlende eingeht; geht es nicht innerhalb der Wartezeit ein, wird sie nicht "
          "übermittelt.",
    DUPLICATE: "Die Stelle hatte diese Meldung bereits erhalten (etwa weil eine Liste zweimal "
               "eingelesen wurde); sie wurde nicht ein zweites Mal übermittelt.",
    NOT_ROUTED: "Die Meldung ist für keine andere Stelle bestimmt und wurde an keine Stelle "
                "weitergegeben; sie fließt höchstens ohne Pseudonym in die anonyme Statistik "
                "des Kreises ein.",
    ANOMALY: "Ein Schritt einer Übergabe passte nicht zu ihrem bisherigen Verlauf (zum "
             "Beispiel eine Antwort vor der Anfrage). Das wird nur vermerkt.",
    ERASED: "Auf einen Antrag auf Löschung hin hat der Hub vergessen, was er zu Ihrem Kind "
            "aufbewahrte; eine noch zurückgehaltene Meldung wurde dabei verworfen.",
}
STEPS = {"requested": "angefragt", "accepted": "angenommen", "declined": "abgelehnt",
         "completed": "abgeschlossen"}


# ------------------------------------------------------------------------ retention
@dataclass(frozen=True)
class Retention:
    """After how many days the hub's topics that are not compacted delete a record."""

    outboxes: float
    inboxes: float
    audit: float
    dead_letters: float

    @classmethod
    def of_topics(cls, specs: Iterable[TopicSpec]) -> Retention:
        """From the planned topics (:func:`hub.topics.plan_topics`)."""
        days: dict[str, float] = {}
        for spec in specs:
            kind = {AUDIT_TOPIC: "audit", DLQ_TOPIC: "dead_letters"}.get(spec.name)
            if spec.name.startswith("agency."):
                kind = {"outbox": "outboxes", "inbox": "inboxes"}.get(spec.name.split(".")[-1])
            if kind and kind not in days and "retention.ms" in spec.config:
                days[kind] = int(spec.config["retention.ms"]) / DAY_MS
        missing = [k for k in ("outboxes", "inboxes", "audit", "dead_letters") if k not in days]
        if missing:
            raise ValueError(f"the topic plan gives no retention for {', '.join(missing)}")
        return cls(**days)

    @classmethod
    def declared(cls, audit_retention_days: float | None = None) -> Retention:
        """As ``deploy/topics.yaml`` declares it, ``hub.audit``'s from
        ``HUB_AUDIT_RETENTION_DAYS`` (``audit_retention_days``; None: its default)."""
        return cls.of_topics(plan_topics(load_agencies(),
                                         audit_retention_days=audit_retention_days))


# ------------------------------------------------------------------------ formats
def _instant(value) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except (TypeError, ValueError):
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


DATE_ONLY, INSTANT = "date", "instant"
"""The values of an audit record's ``event_time_precision`` (the event's ``time_precision``)."""


def when(value, precision: str | None = None) -> str:
    """A time in German format, Europe/Berlin. ``precision`` ``date`` (the event knew only
    its day: ``value`` is midnight UTC of it) shows that day alone, ``instant`` the time of
    day as well. Unknown precision (audit records and consents from before the contract
    said it): exactly midnight UTC is taken for a date-only export row, its date only. A
    value that is no time is shown as it is."""
    dt = _instant(value)
    if dt is None:
        return str(value or "–")
    utc = dt.astimezone(UTC)
    if precision == DATE_ONLY or (precision != INSTANT and utc.time() == clock_time(0)):
        return utc.strftime("%d.%m.%Y")
    return dt.astimezone(LOCAL_TIME).strftime("%d.%m.%Y, %H:%M Uhr")


def day(value) -> str:
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    try:
        return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
    except ValueError:
        return str(value)


def long_day(value: date) -> str:
    return f"{value.day}. {names.MONTHS[value.month - 1]} {value.year}"


def purpose(value: str | None) -> str:
    return PURPOSE_WORDS.get(value or "", value or "–")


def days(value: float, dative: bool = True) -> str:
    """``730 Tagen`` (after ...), or ``730 Tage`` (back)."""
    number = names.number(value, 0 if float(value).is_integer() else 1)
    return f"{number} {'Tag' if value == 1 else 'Tagen' if dative else 'Tage'}"


# ------------------------------------------------------------------------ reasons
_Rule = tuple[re.Pattern, Callable[..., str]]


def _reason_rules(agency: Callable[[str], str]) -> list[_Rule]:
    def rule(pattern: str, text: Callable[..., str]) -> _Rule:
        return re.compile(pattern), text

    return [
        rule(r"consent (?P<c>.+) was revoked on (?P<d>\S+)",
             lambda c, d: f"Die Einwilligung {c} wurde am {day(d)} widerrufen; danach wird "
                          "nichts mehr übermittelt."),
        rule(r"event on (?P<e>\S+) is before consent (?P<c>.+) is valid \(from (?P<f>\S+)\)",
             lambda e, c, f: f"Das Ereignis vom {day(e)} liegt vor dem Beginn der "
                             f"Einwilligung {c} (gültig ab {day(f)})."),
        rule(r"event on (?P<e>\S+) is after consent (?P<c>.+) ended \((?P<t>\S+)\)",
             lambda e, c, t: f"Das Ereignis vom {day(e)} liegt nach dem Ende der "
                             f"Einwilligung {c} (gültig bis {day(t)})."),
        rule(r"no consent covers purpose (?P<p>\S+) for (?P<r>\S+)",
             lambda p, r: f"Keine Einwilligung erlaubte die Weitergabe an {agency(r)} für den "
                          f"Zweck „{purpose(p)}“."),
        rule(r"no consent of the family covers purpose (?P<p>\S+)",
             lambda p: f"Keine Einwilligung der Familie erlaubte eine Weitergabe für den "
                       f"Zweck „{purpose(p)}“."),
        rule(r"unknown recipient '(?P<r>.*)'",
             lambda r: f"Die genannte Empfangsstelle „{r}“ nimmt an der Präventionskette "
                       "nicht teil."),
        rule(r"(?P<r>\S+) has no inbox \(kind (?P<k>\S+)\)",
             lambda r, k: f"{agency(r)} erhält keine Meldungen zu einzelnen Kindern, nur "
                          "anonyme Statistik."),
        rule(r"(?P<t>\S+) names no recipient",
             lambda t: "Die Meldung nannte keine Stelle, an die sie gehen sollte."),
        rule(r"handover .+ was never requested",
             lambda: "Zu dieser Antwort auf eine Übergabe ist keine Übergabeanfrage "
                     "eingegangen."),
        rule(r"handover .+ not requested yet",
             lambda: "Die Anfrage zu dieser Übergabe war noch nicht eingegangen; die Meldung "
                     "wartete auf sie."),
        rule(r"already delivered to this recipient",
             lambda: "Die Stelle hatte diese Meldung bereits erhalten."),
        rule(r"revocation notice: the consent was withdrawn",
             lambda: "Die Stelle wurde benachrichtigt, dass die Einwilligung widerrufen ist, "
                     "damit sie die erhaltenen Meldungen nicht weiter verwendet."),
        rule(r"erasure notice: the child's data was erased on request \(reference "
             r"(?P<ref>.+)\)",
             lambda ref: f"Die Stelle wurde benachrichtigt, dass die Daten Ihres Kindes auf "
                         f"Ihren Antrag (Aktenzeichen {ref}) gelöscht wurden, damit sie sie "
                         "auch in ihrem eigenen System löscht."),
        rule(r"held, never delivered: erased on request (?P<ref>.+)",
             lambda ref: f"Die zurückgehaltene Meldung wurde mit der Löschung (Aktenzeichen "
                         f"{ref}) verworfen und keiner Stelle übermittelt."),
        rule(r"erased on request (?P<ref>.+?): .*",
             lambda ref: f"Der Hub hat auf Ihren Antrag (Aktenzeichen {ref}) alles gelöscht, "
                         "was er zu Ihrem Kind aufbewahrte; die Stellen, die Meldungen "
                         "erhalten hatten, wurden benachrichtigt."),
        rule(r"consent: recorded in the consent ledger",
             lambda: "Im Einwilligungsverzeichnis des Hubs vermerkt."),
        rule(r"purpose (?P<p>\S+): analytics only",
             lambda p: f"Meldungen für den Zweck „{purpose(p)}“ gehen an keine Stelle; sie "
                       "fließen nur anonym in die Statistik ein."),
        rule(r"(?P<t>[a-z_]+\.[a-z_]+): analytics only",
             lambda t: f"Meldungen der Art „{names.event_type(t)}“ gehen an keine Stelle; sie "
                       "fließen nur anonym in die Statistik ein."),
        # handover anomalies ("handover <id>: <what did not fit>"); the id is not shown
        rule(r"handover .+?: (?P<s>\S+) before the handover was requested",
             lambda s: f"Die Übergabe wurde als „{STEPS.get(s, s)}“ gemeldet, bevor sie "
                       "angefragt war."),
        rule(r"handover .+?: requested again by (?P<r>\S+)",
             lambda r: f"Die Übergabe wurde von {agency(r)} ein zweites Mal angefragt."),
        rule(r"handover .+?: request arrived after the (?P<s>\S+) step",
             lambda s: f"Die Anfrage kam erst an, nachdem die Übergabe schon als "
                       f"„{STEPS.get(s, s)}“ gemeldet war."),
        rule(r"handover .+?: (?P<s>\S+) by (?P<by>\S+), but (?P<asked>\S+) was asked",
             lambda s, by, asked: f"Die Übergabe wurde von {agency(by)} als "
                                  f"„{STEPS.get(s, s)}“ gemeldet, angefragt war aber "
                                  f"{agency(asked)}."),
        rule(r"handover .+?: (?P<s>\S+) after it was already (?P<a>\S+)",
             lambda s, a: f"Die Übergabe wurde als „{STEPS.get(s, s)}“ gemeldet, obwohl sie "
                          f"schon „{STEPS.get(a, a)}“ war."),
        rule(r"handover .+?: completed twice",
             lambda: "Die Übergabe wurde zweimal als abgeschlossen gemeldet."),
        rule(r"handover .+?: completed after it was declined",
             lambda: "Die Übergabe wurde als abgeschlossen gemeldet, obwohl sie abgelehnt "
                     "war."),
        rule(r"handover .+?: completed without being accepted",
             lambda: "Die Übergabe wurde als abgeschlossen gemeldet, ohne angenommen worden "
                     "zu sein."),
    ]


@dataclass(frozen=True)
class Reason:
    text: str
    verbatim: bool = False  # no German sentence is known: the hub's own text


def explain(reason: str | None, agency: Callable[[str], str] = str) -> Reason:
    """The German sentence for a reason of the audit trail; an unknown reason verbatim."""
    reason = (reason or "").strip()
    if not reason:
        return Reason("")
    for pattern, text in _reason_rules(agency):
        match = pattern.fullmatch(reason)
        if match:
            return Reason(text(**match.groupdict()))
    return Reason(reason, verbatim=True)


# ------------------------------------------------------------------------ the letter
@dataclass(frozen=True)
class _Row:
    record: dict
    at: datetime | None  # when the hub decided
    event_at: datetime | None

    def get(self, name: str) -> str:
        value = self.record.get(name)
        return "" if value is None else str(value)

    @property
    def precision(self) -> str | None:
        """The event time's precision (``date``, ``instant``); None in older records."""
        value = self.record.get("event_time_precision")
        return value if value in (DATE_ONLY, INSTANT) else None


def _agency_names(agencies) -> dict[str, str]:
    if isinstance(agencies, Mapping):
        return {str(k): str(v) for k, v in agencies.items()}
    return {a.id: a.name for a in agencies}


def _own_rows(subject: str, audit_records: Iterable[dict]) -> list[_Row]:
    """The subject's records (others dropped), each decision once, in the order decided."""
    seen: set = set()
    rows = []
    for record in audit_records:
        if not isinstance(record, Mapping) or record.get("subject") != subject:
            continue
        key = record.get("audit_id") or tuple(sorted((k, str(v)) for k, v in record.items()))
        if key in seen:
            continue
        seen.add(key)
        rows.append(_Row(dict(record), _instant(record.get("time")),
                         _instant(record.get("event_time"))))
    never = datetime.min.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.at or never, r.event_at or never))


def _consent_status(state: ConsentState, today: date) -> tuple[bool, str]:
    """(in force today, what the family reads)."""
    revoked = state.revoked_at
    if revoked is not None and revoked.astimezone(LOCAL_TIME).date() <= today:
        return False, f"widerrufen am {when(revoked)}"
    note = f"; widerrufen mit Wirkung ab {when(revoked)}" if revoked is not None else ""
    if state.valid_to is not None and state.valid_to < today:
        return False, f"beendet am {day(state.valid_to)}{note}"
    if state.valid_from > today:
        return False, f"noch nicht gültig (ab {day(state.valid_from)}){note}"
    return True, f"in Kraft{note}"


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

    ``audit_records``: dicts as :func:`hub.records.family_history` returns them (records of
    another subject are dropped); ``consents``: the subject's consent states; ``agencies``:
    an :class:`~hub.agencies.AgencyDirectory` (or a mapping id -> name) for display names;
    ``today``: the date of the letter, against which a consent is in force or not;
    ``retention``: the topics' retention for the erasure paragraph (None: as
    ``deploy/topics.yaml`` and the default ``HUB_AUDIT_RETENTION_DAYS`` declare it).
    """
    if isinstance(today, datetime):
        today = today.astimezone(LOCAL_TIME).date()
    retention = retention or Retention.declared()
    known = _agency_names(agencies)

    def agency(agency_id: str | None) -> str:
        if not agency_id:
            return "–"
        if agency_id == HUB_SOURCE:
            return HUB_NAME
        return known.get(agency_id, agency_id)

    rows = _own_rows(subject, audit_records)
    states = sorted(consents, key=lambda s: (s.valid_from, s.consent_id))
    by_consent = {s.consent_id: s for s in states}
    e = escape

    def reason_cell(row: _Row) -> str:
        decision = row.get("decision")
        if decision == NOT_ROUTED and row.get("type") == "consent.revoked":
            return ('<td class="reason">Der Widerruf wurde im Einwilligungsverzeichnis des '
                    "Hubs vermerkt.</td>")
        if decision == NOT_ROUTED and row.get("type") == "consent.granted":
            return ('<td class="reason">Die Einwilligung wurde im Einwilligungsverzeichnis '
                    "des Hubs vermerkt.</td>")
        reason = explain(row.get("reason"), agency)
        if decision == DUPLICATE and not reason.verbatim:
            reason = Reason(f"{agency(row.get('recipient'))} hatte diese Meldung bereits "
                            "erhalten; sie wurde nicht noch einmal übermittelt.")
        if reason.verbatim:
            text = (f'Vermerk des Hubs (ohne Übersetzung): <span class="verbatim" lang="en">'
                    f"{e(reason.text)}</span>")
        else:
            text = e(reason.text) or "–"
        if decision == HELD:
            text += " " + e(_later(row, rows, agency))
        return f'<td class="reason">{text}</td>'

    def event_cells(row: _Row) -> str:
        return (f'<td class="when">{_when_cell(row.get("time"), INSTANT)}</td>'
                f'<td>{e(names.event_type(row.get("type")))}</td>'
                f'<td class="when">{_when_cell(row.get("event_time"), row.precision)}</td>'
                f'<td>{e(agency(row.get("sender")))}</td>')

    delivered = [r for r in rows if r.get("decision") == DELIVERED]
    withheld = [r for r in rows if r.get("decision") in (REFUSED, HELD)]
    others = [r for r in rows if r.get("decision") not in (DELIVERED, REFUSED, HELD)]

    parts = [f"""<!DOCTYPE html>
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
"""]
    if not rows and not states:
        parts.append(f'<section id="ergebnis"><p class="empty">{EMPTY}</p></section>\n')
    else:
        parts.append(_summary(delivered, withheld, agency))
        parts.append(_section(
            "uebermittlungen", "Welche Stellen Meldungen erhalten haben",
            ["Übermittelt am", "Meldung", "Ereignis vom", "Von", "An", "Zweck", "Einwilligung"],
            [f"<tr>{event_cells(r)}<td>{e(agency(r.get('recipient')))}</td>"
             f"<td>{e(_purpose_of(r, by_consent))}</td>"
             f"<td>{e(r.get('consent_id') or '–')}</td></tr>" for r in delivered],
            "Keine Stelle hat über den Hub Meldungen zu Ihrem Kind erhalten."))
        parts.append(_section(
            "nicht-uebermittelt", "Was nicht übermittelt oder zurückgehalten wurde, und warum",
            ["Entschieden am", "Meldung", "Ereignis vom", "Von", "An", "Entscheidung",
             "Begründung"],
            [f"<tr>{event_cells(r)}<td>{e(agency(r.get('recipient')))}</td>"
             f"<td>{e(DECISIONS.get(r.get('decision'), r.get('decision')))}</td>"
             f"{reason_cell(r)}</tr>" for r in withheld],
            "Keine Meldung zu Ihrem Kind wurde abgelehnt oder zurückgehalten."))
        if others:
            parts.append(_section(
                "weitere", "Weitere Vermerke",
                ["Vermerkt am", "Meldung", "Ereignis vom", "Von", "An", "Vermerk",
                 "Erläuterung"],
                [f"<tr>{event_cells(r)}<td>{e(agency(r.get('recipient')))}</td>"
                 f"<td>{e(DECISIONS.get(r.get('decision'), r.get('decision')))}</td>"
                 f"{reason_cell(r)}</tr>" for r in others], ""))
        parts.append(_legend(rows))
        parts.append(_consents(states, today, agency))
    parts.append(_erasure(delivered, retention, agency))
    parts.append(f"""</main>
<footer>
<p>Erstellt am {e(long_day(today))} aus dem Protokoll und dem Einwilligungsverzeichnis des
Hubs. Zeiten in deutscher Zeit (Europa/Berlin); bei Ereignissen, die eine Stelle nur mit
Datum gemeldet hat, steht nur das Datum. Bei Fragen wenden Sie sich an die
Vertrauensstelle.</p>
</footer>
</body>
</html>
""")
    return "".join(parts)


def _when_cell(value, precision: str | None = None) -> str:
    """:func:`when` for a narrow column: "Uhr" stays with its time."""
    return escape(when(value, precision)).replace(" Uhr", "&nbsp;Uhr")


def _purpose_of(row: _Row, by_consent: Mapping[str, ConsentState]) -> str:
    state = by_consent.get(row.get("consent_id"))
    return purpose(state.purpose) if state else "–"


def _later(held: _Row, rows: list[_Row], agency: Callable[[str], str]) -> str:
    """What became of a held event afterwards."""
    event_id = held.get("event_id")
    later = [r for r in rows if event_id and r.get("event_id") == event_id
             and r.get("decision") in (DELIVERED, REFUSED)
             and (held.at is None or r.at is None or r.at >= held.at)]
    if not later:
        return "Bis zu dieser Auskunft wurde sie nicht weiter entschieden."
    sent = [agency(r.get("recipient")) for r in later if r.get("decision") == DELIVERED]
    refused = [agency(r.get("recipient")) for r in later if r.get("decision") == REFUSED]
    said = []
    if sent:
        said.append(f"übermittelt an {', '.join(dict.fromkeys(sent))}")
    if refused:
        said.append(f"nicht übermittelt an {', '.join(dict.fromkeys(refused))}")
    return f"Später entschieden: {'; '.join(said)}."


def _summary(delivered: list[_Row], withheld: list[_Row], agency) -> str:
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


def _legend(rows: list[_Row]) -> str:
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
        active, status = _consent_status(state, today)
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


def _erasure(delivered: list[_Row], retention: Retention, agency) -> str:
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
