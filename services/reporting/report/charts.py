"""Simple horizontal bar charts as inline SVG, for the quarterly report (no JavaScript).

Pure: text in, text out. Each chart is an `<svg role="img">` named by its `<title>` and
described by its `<desc>`; the report prints the same figures in a table beside it, so the
chart is never the only way to read them. A figure without a value (suppressed, or no data)
gets no bar, only its label (such as "suppressed" or "no data"), so a chart never shows more
than the table does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Bar", "Series", "bar_chart"]

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by hue and
# lightness as well; every bar also carries its value as text.
SERIES_COLOURS = ("#1d70b8", "#505a5f", "#00703c", "#912b88")
TEXT = "#0b0c0c"
MUTED = "#505a5f"
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"


@dataclass(frozen=True)
class Bar:
    """One bar: its length on the scale (None: no bar) and the text printed beside it."""

    value: float | None
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    bars: Sequence[Bar]


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exponent + 1))  # pragma: no cover - the loop always returns


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The chart's geometry, in pixels: row labels on the left, room for each bar's value text
# on the right; one group of bars per category.
LABEL_WIDTH = 250
VALUE_ROOM = 90
BAR_HEIGHT = 16
BAR_GAP = 3
GROUP_GAP = 12


@dataclass(frozen=True)
class _Frame:
    """Where a chart's parts go: ``top`` is the first group's top, ``top_value`` the value at
    the scale's end."""

    width: int
    top: int
    group_height: int
    top_value: float

    @property
    def plot_width(self) -> int:
        return self.width - LABEL_WIDTH - VALUE_ROOM


def _legend(series: Sequence[Series]) -> list[str]:
    parts = []
    x = LABEL_WIDTH
    for i, s in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        parts.append(f'<rect x="{x}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="18" fill="{TEXT}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return parts


def _bar(frame: _Frame, category: str, series_name: str, i: int, bar: Bar, bar_y: int) -> list[str]:
    """The i-th series' bar of a category with its value beside it; a bar without a value
    is only its label, in italics."""
    text_y = bar_y + BAR_HEIGHT - 4
    if bar.value is None:
        return [
            f'<text x="{LABEL_WIDTH + 4}" y="{text_y}" fill="{MUTED}" font-style="italic">{escape(bar.label)}</text>'
        ]
    top_value = frame.top_value
    length = 0.0 if top_value <= 0 else max(0.0, min(bar.value / top_value, 1.0)) * frame.plot_width
    colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
    return [
        f'<rect x="{LABEL_WIDTH}" y="{bar_y}" width="{length:.1f}" height="{BAR_HEIGHT}" fill="{colour}">'
        f"<title>{escape(f'{category}, {series_name}: {bar.label}')}</title></rect>",
        f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{text_y}" fill="{TEXT}">{escape(bar.label)}</text>',
    ]


def _group(frame: _Frame, c: int, category: str, series: Sequence[Series], y: int) -> list[str]:
    """The c-th category's label and one bar per series, from ``y`` down."""
    label_y = y + frame.group_height / 2 + 4
    parts = [
        f'<text x="{LABEL_WIDTH - 8}" y="{label_y:.1f}" text-anchor="end" fill="{TEXT}">'
        f"<title>{escape(category)}</title>{escape(_clip(category, 36))}</text>"
    ]
    for i, s in enumerate(series):
        parts += _bar(frame, category, s.name, i, s.bars[c], y + i * (BAR_HEIGHT + BAR_GAP))
    return parts


def _axes(frame: _Frame, axis_bottom: int, percent: bool) -> list[str]:
    """The zero line, the scale's two ends, and a dashed line at its end."""
    top, end_x = frame.top, LABEL_WIDTH + frame.plot_width
    end = f"{frame.top_value:.0%}" if percent else f"{frame.top_value:g}"
    return [
        f'<line x1="{LABEL_WIDTH}" y1="{top - 2}" x2="{LABEL_WIDTH}" y2="{axis_bottom}" '
        f'stroke="{TEXT}" stroke-width="1"/>',
        f'<text x="{LABEL_WIDTH}" y="{axis_bottom + 14}" fill="{MUTED}">0</text>',
        f'<text x="{end_x}" y="{axis_bottom + 14}" text-anchor="end" fill="{MUTED}">{end}</text>',
        f'<line x1="{end_x}" y1="{top - 2}" x2="{end_x}" y2="{axis_bottom}" '
        f'stroke="#b1b4b6" stroke-width="1" stroke-dasharray="3 3"/>',
    ]


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    scale_max: float | None = None,
    percent: bool = False,
    width: int = 700,
) -> str:
    """An SVG bar chart: one group of bars per category, one bar per series.

    ``scale_max`` fixes the scale (1.0 for rates); otherwise it is the largest value rounded
    up. ``percent`` labels the axis end as a percentage.
    """
    for s in series:
        if len(s.bars) != len(categories):
            raise ValueError(f"series {s.name!r} has {len(s.bars)} bars for {len(categories)} categories")
    legend_height = 24 if len(series) > 1 else 0
    values = [b.value for s in series for b in s.bars if b.value is not None]
    frame = _Frame(
        width=width,
        top=8 + legend_height,
        group_height=len(series) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP,
        top_value=scale_max if scale_max is not None else _nice_ceiling(max(values, default=0.0)),
    )
    height = frame.top + len(categories) * (frame.group_height + GROUP_GAP) + 24
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id={quoteattr(chart_id)} class="chart" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)} font-size="12">',
        f"<title id={quoteattr(title_id)}>{escape(title)}</title>",
        f"<desc id={quoteattr(desc_id)}>{escape(description)}</desc>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    if legend_height:
        parts += _legend(series)
    y = frame.top
    for c, category in enumerate(categories):
        parts += _group(frame, c, category, series, y)
        y += frame.group_height + GROUP_GAP
    parts += _axes(frame, y - GROUP_GAP + 4, percent)
    parts.append("</svg>")
    return "".join(parts)
