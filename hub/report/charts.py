"""Inline SVG bar charts for the report (pure: data in, SVG text out, no scripts).

Every bar carries its value as text and a ``<title>`` (tooltip); a withheld value is drawn
as a hatched outline bar labelled as such, never as zero.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from html import escape

from hub.report.model import Shown
from hub.report.names import SUPPRESSED, SUPPRESSED_SHORT, number

COLOURS = ("#2f6f9f", "#e08a1e", "#3a9d5d", "#8a5fb0")  # distinguishable in greyscale too
_ids = itertools.count(1)

Series = tuple[str, Sequence[Shown]]


def _label(text: str, limit: int = 13) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series],
              fmt: Callable[[float], str] = number, unit: str = "") -> str:
    """A grouped bar chart: one group per category, one bar per series."""
    chart_id = f"c{next(_ids)}"
    n_series = max(len(series), 1)
    bar_w = 18 if n_series > 1 else 26
    group_w = max(n_series * bar_w + 24, 84)  # room for a label like "KW 48/2026"
    left, top, plot_h, bottom = 48, 28, 150, 46
    legend_h = 18 * len(series) if len(series) > 1 else 0
    width = max(560, left + group_w * len(categories) + 12)
    height = top + plot_h + bottom + legend_h
    known = [v.value for _, values in series for v in values if v.value is not None]
    peak = max(known, default=0) or 1
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-labelledby="{chart_id}-t">',
           f'<title id="{chart_id}-t">{escape(title)}</title>',
           f'<defs><pattern id="{chart_id}-h" width="6" height="6" '
           f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/>'
           f'</pattern></defs>',
           f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" '
           f'stroke="#555"/>']
    for fraction in (0.5, 1.0) if known else ():
        y = top + plot_h - plot_h * fraction
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{left - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end" class="axis">{escape(fmt(peak * fraction))}</text>')
    for i, category in enumerate(categories):
        x0 = left + 10 + i * group_w
        for j, (name, values) in enumerate(series):
            v = values[i]
            x = x0 + j * bar_w
            tip = f"{category}, {name}: " if len(series) > 1 else f"{category}: "
            if v.suppressed:
                h = plot_h * 0.35
                tip += SUPPRESSED[v.suppression]
                out.append(f'<rect x="{x}" y="{top + plot_h - h:.1f}" width="{bar_w - 3}" '
                           f'height="{h:.1f}" fill="url(#{chart_id}-h)" stroke="#888" '
                           f'class="suppressed"><title>{escape(tip)}</title></rect>'
                           f'<text x="{x + (bar_w - 3) / 2:.1f}" y="{top + plot_h - h - 3:.1f}"'
                           f' text-anchor="middle" class="value">'
                           f'{escape(SUPPRESSED_SHORT[v.suppression])}</text>')
                continue
            if v.value is None:
                continue
            h = plot_h * v.value / peak
            tip += f"{fmt(v.value)}{unit}"
            out.append(f'<rect x="{x}" y="{top + plot_h - h:.1f}" width="{bar_w - 3}" '
                       f'height="{max(h, 0.5):.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
                       f'<title>{escape(tip)}</title></rect>'
                       f'<text x="{x + (bar_w - 3) / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                       f'text-anchor="middle" class="value">{escape(fmt(v.value))}</text>')
        cx = x0 + (n_series * bar_w) / 2
        out.append(f'<text x="{cx:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'class="axis"><title>{escape(category)}</title>'
                   f'{escape(_label(category))}</text>')
    if len(series) > 1:
        for j, (name, _) in enumerate(series):
            y = top + plot_h + bottom - 8 + j * 18
            out.append(f'<rect x="{left}" y="{y - 10}" width="12" height="12" '
                       f'fill="{COLOURS[j % len(COLOURS)]}"/>'
                       f'<text x="{left + 18}" y="{y}" class="axis">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
