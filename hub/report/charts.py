"""Inline SVG bar charts for the report (pure: data in, SVG text out, no scripts).

Every bar carries its value as text and a ``<title>`` (tooltip); a withheld value is drawn
as a hatched outline bar labelled as such, never as zero.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from hub.report.model import Shown
from hub.report.names import SUPPRESSED, SUPPRESSED_SHORT, number

COLOURS = ("#2f6f9f", "#e08a1e", "#3a9d5d", "#8a5fb0")  # distinguishable in greyscale too
_ids = itertools.count(1)

Series = tuple[str, Sequence[Shown]]


def _label(text: str, limit: int = 13) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class _Frame:
    """Where a chart's parts go: its size, the plot area and the width of a bar and a group."""

    chart_id: str
    n_series: int
    bar_w: int
    group_w: int
    left: int
    top: int
    plot_h: int
    bottom: int
    width: int
    height: int
    peak: float

    @property
    def base(self) -> int:
        """The y of the plot's baseline."""
        return self.top + self.plot_h


def _frame(categories: Sequence[str], series: Sequence[Series], peak: float) -> _Frame:
    n_series = max(len(series), 1)
    bar_w = 18 if n_series > 1 else 26
    group_w = max(n_series * bar_w + 24, 84)  # room for a label like "KW 48/2026"
    left, top, plot_h, bottom = 48, 28, 150, 46
    legend_h = 18 * len(series) if len(series) > 1 else 0
    width = max(560, left + group_w * len(categories) + 12)
    height = top + plot_h + bottom + legend_h
    return _Frame(f"c{next(_ids)}", n_series, bar_w, group_w, left, top, plot_h, bottom,
                  width, height, peak)


def _head(f: _Frame, title: str, known: bool, fmt: Callable[[float], str]) -> list[str]:
    """The SVG's opening, its title, the hatch pattern, the baseline and the grid lines."""
    out = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{f.width}" '
           f'height="{f.height}" viewBox="0 0 {f.width} {f.height}" role="img" '
           f'aria-labelledby="{f.chart_id}-t">',
           f'<title id="{f.chart_id}-t">{escape(title)}</title>',
           f'<defs><pattern id="{f.chart_id}-h" width="6" height="6" '
           f'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           f'<line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/>'
           f'</pattern></defs>',
           f'<text x="{f.left}" y="16" class="chart-title">{escape(title)}</text>',
           f'<line x1="{f.left}" y1="{f.base}" x2="{f.width - 8}" y2="{f.base}" '
           f'stroke="#555"/>']
    for fraction in (0.5, 1.0) if known else ():
        y = f.base - f.plot_h * fraction
        out.append(f'<line x1="{f.left}" y1="{y:.1f}" x2="{f.width - 8}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{f.left - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end" class="axis">{escape(fmt(f.peak * fraction))}</text>')
    return out


def _bar(f: _Frame, x: float, j: int, v: Shown, tip: str, fmt: Callable[[float], str],
         unit: str) -> str | None:
    """One bar with its value and tooltip: hatched when withheld, None when there is none."""
    if v.suppressed:
        h = f.plot_h * 0.35
        tip += SUPPRESSED[v.suppression]
        return (f'<rect x="{x}" y="{f.base - h:.1f}" width="{f.bar_w - 3}" '
                f'height="{h:.1f}" fill="url(#{f.chart_id}-h)" stroke="#888" '
                f'class="suppressed"><title>{escape(tip)}</title></rect>'
                f'<text x="{x + (f.bar_w - 3) / 2:.1f}" y="{f.base - h - 3:.1f}"'
                f' text-anchor="middle" class="value">'
                f'{escape(SUPPRESSED_SHORT[v.suppression])}</text>')
    if v.value is None:
        return None
    h = f.plot_h * v.value / f.peak
    tip += f"{fmt(v.value)}{unit}"
    return (f'<rect x="{x}" y="{f.base - h:.1f}" width="{f.bar_w - 3}" '
            f'height="{max(h, 0.5):.1f}" fill="{COLOURS[j % len(COLOURS)]}">'
            f'<title>{escape(tip)}</title></rect>'
            f'<text x="{x + (f.bar_w - 3) / 2:.1f}" y="{f.base - h - 3:.1f}" '
            f'text-anchor="middle" class="value">{escape(fmt(v.value))}</text>')


def _group(f: _Frame, i: int, category: str, series: Sequence[Series],
           fmt: Callable[[float], str], unit: str) -> list[str]:
    """The bars of one category, one per series, and the category's label below them."""
    out = []
    x0 = f.left + 10 + i * f.group_w
    for j, (name, values) in enumerate(series):
        tip = f"{category}, {name}: " if len(series) > 1 else f"{category}: "
        bar = _bar(f, x0 + j * f.bar_w, j, values[i], tip, fmt, unit)
        if bar is not None:
            out.append(bar)
    cx = x0 + (f.n_series * f.bar_w) / 2
    out.append(f'<text x="{cx:.1f}" y="{f.base + 16}" text-anchor="middle" '
               f'class="axis"><title>{escape(category)}</title>'
               f'{escape(_label(category))}</text>')
    return out


def _legend(f: _Frame, series: Sequence[Series]) -> list[str]:
    """A colour key naming each series, when there are several."""
    out = []
    if len(series) > 1:
        for j, (name, _) in enumerate(series):
            y = f.base + f.bottom - 8 + j * 18
            out.append(f'<rect x="{f.left}" y="{y - 10}" width="12" height="12" '
                       f'fill="{COLOURS[j % len(COLOURS)]}"/>'
                       f'<text x="{f.left + 18}" y="{y}" class="axis">{escape(name)}</text>')
    return out


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series],
              fmt: Callable[[float], str] = number, unit: str = "") -> str:
    """A grouped bar chart: one group per category, one bar per series."""
    known = [v.value for _, values in series for v in values if v.value is not None]
    f = _frame(categories, series, peak=max(known, default=0) or 1)
    out = _head(f, title, bool(known), fmt)
    for i, category in enumerate(categories):
        out += _group(f, i, category, series, fmt, unit)
    out += _legend(f, series)
    out.append("</svg>")
    return "".join(out)
