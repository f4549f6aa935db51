"""The report as one self-contained HTML file (pure: a :class:`Report` in, text out).

Styles and charts are inline, nothing is loaded from the network, so the file opens offline
and can be mailed or put on a projector. Every figure in a table carries a ``data-key``
(what it is) so the file can be checked by a machine as well as read by people. A small
inline script marks the page ``data-rendered="ok"`` once it has been laid out without a
script error, for automated checks in a headless browser.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape

from hub.contract.vocabulary import LifePhase
from hub.report import names
from hub.report.charts import bar_chart
from hub.report.model import Report, Section, Shown

TABLE_SUPPRESSED = {"primary": "unterdrückt (< k)", "complementary": "unterdrückt (Schutz)"}

STYLE = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#1d1d1d;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #2f6f9f;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-top:1.6rem;color:#2f4f6f}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th:first-child,td.label{text-align:left}th{background:#eef3f8}
tr.total td{font-weight:bold;background:#f6f6f6}
td.suppressed{color:#777;font-style:italic;background:repeating-linear-gradient(45deg,#fff,
#fff 4px,#f0f0f0 4px,#f0f0f0 8px)}
.scroll{overflow-x:auto}.note{color:#555;font-size:.9rem}
nav a{margin-right:.8rem}
svg.chart{display:block;margin:.5rem 0;max-width:100%;height:auto}
svg .chart-title{font-weight:bold;font-size:13px}svg .axis{font-size:11px;fill:#333}
svg .value{font-size:10px;fill:#222}
@media print{nav{display:none}section.town{page-break-before:always}}
"""

SCRIPT = """
(function () {
  var body = document.body, errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message || e));
    body.setAttribute("data-rendered", "error: " + errors.join("; "));
  });
  window.addEventListener("load", function () {
    var charts = document.querySelectorAll("svg.chart"), empty = 0;
    for (var i = 0; i < charts.length; i++) {
      var box = charts[i].getBBox();
      if (!(box.width > 0 && box.height > 0)) { empty++; }
    }
    body.setAttribute("data-charts", String(charts.length));
    if (!errors.length) {
      body.setAttribute("data-rendered", empty ? "error: " + empty + " empty charts" : "ok");
    }
  });
})();
"""


def _cell(shown: Shown, key: str, fmt: Callable[[float], str] = names.number) -> str:
    if shown.suppressed:
        return (f'<td class="suppressed" data-key="{escape(key)}" '
                f'data-suppressed="{shown.suppression}" '
                f'title="{escape(names.SUPPRESSED[shown.suppression])}">'
                f'{TABLE_SUPPRESSED[shown.suppression]}</td>')
    text = "–" if shown.value is None else fmt(shown.value)
    return f'<td data-key="{escape(key)}">{text}</td>'


def _days(value: float) -> str:
    return names.number(value, 1)


def _table(header: Iterable[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def render(report: Report) -> str:
    title = (f"Präventionskette Kreis Unna – Bericht {names.day(report.start)} bis "
             f"{names.day(report.end)}")
    parts = [
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>",
        '<body data-rendered="pending">',
        f"<header><h1>Präventionskette Kreis Unna</h1><p>Zeitraum "
        f"<strong>{names.day(report.start)} bis {names.day(report.end)}</strong> · erstellt "
        f"am {report.generated_at.strftime('%d.%m.%Y %H:%M')} · Datengrundlage: "
        f"{names.number(report.cells_read)} anonyme Auswertungszellen</p></header>",
        _about(report),
    ]
    if not report.has_data:
        parts.append('<p class="note" id="no-data">Für diesen Zeitraum liegen keine '
                     'Auswertungen vor.</p>')
    else:
        parts.append(_overview(report))
        parts.append("<nav>" + "".join(
            f'<a href="#town-{s.municipality}">{escape(names.municipality(s.municipality))}'
            f"</a>" for s in report.sections) + "</nav>")
        parts.extend(_section(report, s) for s in report.sections)
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _about(report: Report) -> str:
    k = f"k = {report.k}" if report.k else "k"
    return (
        '<section class="note"><p>Die Zahlen stammen aus den anonymen Auswertungen des '
        "Datenknotens. Sie enthalten keine Namen, Pseudonyme oder Fallnummern. Kinder werden je "
        "Woche gezählt: Dasselbe Kind kann in mehreren Wochen vorkommen, deshalb werden Wochen "
        "nicht addiert. Angebote und Übergaben sind Ereignisse und lassen sich über den "
        "Zeitraum summieren.</p>"
        f"<p>Datenschutz: Eine Zelle mit weniger als {k} Kindern wird nicht veröffentlicht "
        "(<em>unterdrückt (&lt; k)</em>). Damit sie sich nicht aus Zeilen- oder "
        "Spaltensummen zurückrechnen lässt, werden weitere Zellen zurückgehalten "
        "(<em>unterdrückt (Schutz)</em>). Summen, zu denen eine unterdrückte Zelle gehört, "
        "werden ebenfalls nicht gezeigt. In Diagrammen sind solche Werte schraffiert.</p>"
        "</section>")


def _overview(report: Report) -> str:
    rows = []
    for s in report.sections:
        t = s.municipality
        rows.append(
            f'<tr><td class="label"><a href="#town-{t}">'
            f"{escape(names.municipality(t))}</a></td>"
            + _cell(s.period_handovers("handovers"), f"overview|{t}|handovers")
            + _cell(s.period_handovers("stalled"), f"overview|{t}|stalled")
            + _cell(s.period_handovers("bounces"), f"overview|{t}|bounces")
            + _cell(s.period_handovers("ping_pong"), f"overview|{t}|ping_pong")
            + _cell(s.refusal_share(), f"overview|{t}|refusal_share", names.percent)
            + "</tr>")
    return ('<section id="overview"><h2>Überblick</h2>'
            + _table(["Kommune", "Übergaben angefragt", "davon gestockt", "Rückläufer",
                      "Pingpong", "Ablehnung mangels Einwilligung"], rows)
            + '<p class="note">Übergaben nach Monat der Anfrage; die Ablehnungsquote bezieht '
            "sich auf die Stellen mit Sitz in der Kommune.</p></section>")


def _section(report: Report, s: Section) -> str:
    town = s.municipality
    head = (f'<section class="town" id="town-{town}" data-municipality="{town}">'
            f"<h2>{escape(names.municipality(town))}</h2>")
    if s.empty:
        return head + '<p class="note">Keine Daten im Zeitraum.</p></section>'
    return head + _reached(s) + _offers(s) + _handovers(report, s) + _refusals(s) + \
        "</section>"


def _reached(s: Section) -> str:
    weeks = sorted({w for _, w in s.reached})
    if not weeks:
        return ""
    chart = bar_chart("Erreichte Kinder je Woche",
                      [names.week(w) for w in weeks],
                      [("Kinder", [s.reached[(None, w)] for w in weeks])])
    rows = []
    for phase in [p.value for p in LifePhase] + [None]:
        label = names.life_phase(phase) if phase else "Alle Lebensphasen"
        cls = ' class="total"' if phase is None else ""
        rows.append(f'<tr{cls}><td class="label">{escape(label)}</td>' + "".join(
            _cell(s.reached[(phase, w)], f"reached|{s.municipality}|{w}|{phase or 'all'}")
            for w in weeks) + "</tr>")
    return ("<h3>Erreichte Familien je Lebensphase</h3>" + chart
            + _table(["Kinder je Woche"] + [names.week(w) for w in weeks], rows))


def _offers(s: Section) -> str:
    if not s.offers:
        return ""
    weeks = sorted({w for row in s.offers for w in row.offers})
    chart = bar_chart("Angenommene Angebote im Zeitraum",
                      [row.category for row in s.offers],
                      [("Angebote", [row.offers_total for row in s.offers])])
    rows = []
    for row in s.offers:
        key = f"{s.municipality}|{row.category}"
        rows.append(f'<tr><td class="label">{escape(row.category)}</td>' + "".join(
            _cell(row.offers[w], f"offers|{key}|{w}") for w in weeks)
            + _cell(row.offers_total, f"offers-total|{key}") + "</tr>")
    return ("<h3>Angenommene Angebote</h3>" + chart
            + _table(["Angebotsart"] + [names.week(w) for w in weeks] + ["Zeitraum"], rows))


HANDOVER_COLUMNS = (
    ("handovers", "Übergaben", names.number), ("accepted", "angenommen", names.number),
    ("declined", "abgelehnt", names.number), ("completed", "abgeschlossen", names.number),
    ("open", "offen", names.number), ("stalled", "gestockt", names.number),
    ("bounces", "Rückläufer", names.number), ("ping_pong", "Pingpong", names.number),
    ("median_days_to_answer", "Antwort Median (Tage)", _days),
    ("p90_days_to_answer", "Antwort 90 % (Tage)", _days),
    ("median_days_to_completion", "Abschluss Median (Tage)", _days),
    ("p90_days_to_completion", "Abschluss 90 % (Tage)", _days),
)


def _handovers(report: Report, s: Section) -> str:
    if not s.handovers:
        return ""
    totals = {row.month: row for row in s.handovers
              if row.from_kind is None and row.to_kind is None}
    months = sorted(totals)
    parts = ["<h3>Übergaben zwischen Stellen</h3>"]
    if months:
        def series(name):
            return [totals[m].values[name] for m in months]
        labels = [names.month(m) for m in months]
        parts.append(bar_chart("Stockende Übergaben und Rückläufer je Monat", labels, [
            ("Übergaben", series("handovers")), ("gestockt", series("stalled")),
            ("Rückläufer", series("bounces")), ("Pingpong", series("ping_pong"))]))
        parts.append(bar_chart("Tage bis zur Antwort und bis zum Abschluss (Median)", labels, [
            ("Antwort", series("median_days_to_answer")),
            ("Abschluss", series("median_days_to_completion"))], fmt=_days, unit=" Tage"))
    rows = []
    for row in s.handovers:
        if row.from_kind is None and row.to_kind is None:
            label, cls = f"{names.month(row.month)}: alle Stellen", ' class="total"'
        else:
            label = (f"{names.agency_kind(row.from_kind) if row.from_kind else 'alle'} → "
                     f"{names.agency_kind(row.to_kind) if row.to_kind else 'alle'}")
            cls = ""
        key = (f"handover|{s.municipality}|{row.month}|{row.from_kind or 'all'}|"
               f"{row.to_kind or 'all'}")
        rows.append(f'<tr{cls}><td class="label">{escape(label)}</td>'
                    + "".join(_cell(row.values[name], f"{key}|{name}", fmt)
                              for name, _, fmt in HANDOVER_COLUMNS) + "</tr>")
    parts.append(_table(["Monat der Anfrage / von → an"] +
                        [title for _, title, _ in HANDOVER_COLUMNS], rows))
    parts.append('<p class="note">Gestockt: Antwort oder Abschluss kam nicht bis zur Frist '
                 "(Standard 14 bzw. 90 Tage). Rückläufer: erneute Anfrage, nachdem eine "
                 "Stelle abgelehnt hatte. Pingpong: dritte oder weitere Übergabe eines "
                 "Kindes zwischen denselben zwei Stellen binnen 90 Tagen.</p>")
    return "".join(parts)


def _refusals(s: Section) -> str:
    if not s.refusals:
        return ""
    weeks = sorted({w for row in s.refusals for w in row.shares})
    chart = bar_chart("Anteil mangels Einwilligung abgelehnter Meldungen",
                      [names.week(w) for w in weeks],
                      [(row.agency, [row.shares.get(w, Shown(None)) for w in weeks])
                       for row in s.refusals], fmt=names.percent)
    rows = []
    for row in s.refusals:
        key = f"{s.municipality}|{row.agency}"
        rows.append(f'<tr><td class="label">{escape(row.agency)} '
                    f"({escape(names.agency_kind(row.agency_kind))})</td>" + "".join(
                        _cell(row.shares.get(w, Shown(None)), f"refusal|{key}|{w}",
                              names.percent) for w in weeks)
                    + _cell(row.share_total, f"refusal-total|{key}", names.percent)
                    + "</tr>")
    return ("<h3>Ablehnungen mangels Einwilligung</h3>" + chart
            + _table(["Stelle"] + [names.week(w) for w in weeks] + ["Zeitraum"], rows)
            + '<p class="note">Ein hoher Anteil zeigt, dass Einwilligungen dort nicht '
            "eingeholt werden, wo die Familie angetroffen wird.</p>")
