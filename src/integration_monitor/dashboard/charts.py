"""Inline SVG charts: status timelines, line charts and stacked bars.

Each chart is an ``<svg role="img">`` with a title and a description, and every page that
shows one also offers the same figures as a table. Lines differ by dash pattern and bars by
legend text as well as by colour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from integration_monitor.dashboard.formatting import local_time
from integration_monitor.dashboard.palette import FAILURE_KINDS, MUTED_TEXT, SERIES, TIMELINE

WIDTH = 960
PLOT_LEFT = 64
PLOT_RIGHT = 16
PLOT_TOP = 12
DASHES = ("", "6 4", "2 3", "10 3 2 3")

# Hatching and dots set the not-ready and mixed timeline states apart without colour.
_TIMELINE_PATTERNS = (
    '<pattern id="{id}-not-ready" width="8" height="8" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="8" height="8" fill="{not_ready}"/>'
    '<line x1="0" y1="0" x2="0" y2="8" stroke="#ffffff" stroke-width="3"/></pattern>'
    '<pattern id="{id}-mixed" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="6" height="6" fill="{mixed}"/><circle cx="3" cy="3" r="1.4" fill="#ffffff"/></pattern>'
)


@dataclass(frozen=True)
class TimelineBar:
    start: dt.datetime
    end: dt.datetime
    state: str
    tooltip: str


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[dt.datetime, float | None]]


def _x(moment: dt.datetime, start: dt.datetime, end: dt.datetime, left: float, width: float) -> float:
    span = (end - start).total_seconds() or 1.0
    return left + width * (moment - start).total_seconds() / span


def _open_svg(chart_id: str, height: int, title: str, description: str) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-title">{escape(title)}</title><desc id="{chart_id}-desc">{escape(description)}</desc>'
    )


def timeline_svg(chart_id: str, bars: Sequence[TimelineBar], start: dt.datetime, end: dt.datetime,
                 title: str, description: str, tick_label: Callable[[dt.datetime], str]) -> Markup:
    """Return a horizontal bar of coloured, patterned segments with a time axis under it."""
    height = 58
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    parts = [_open_svg(chart_id, height, title, description),
             "<defs>" + _TIMELINE_PATTERNS.format(id=chart_id, **TIMELINE) + "</defs>"]
    for bar in bars:
        x0 = _x(max(bar.start, start), start, end, PLOT_LEFT, plot_width)
        x1 = _x(min(bar.end, end), start, end, PLOT_LEFT, plot_width)
        fill = {"not_ready": f"url(#{chart_id}-not-ready)", "mixed": f"url(#{chart_id}-mixed)"}.get(
            bar.state, TIMELINE.get(bar.state, TIMELINE["no_result"]))
        opacity = ' fill-opacity="0.45"' if bar.state == "no_result" else ""
        parts.append(f'<rect x="{x0:.1f}" y="4" width="{max(x1 - x0, 0.5):.1f}" height="28" fill="{fill}"{opacity}>'
                     f'<title>{escape(bar.tooltip)}</title></rect>')
    parts.append(_time_axis(start, end, 36, tick_label))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart_svg(chart_id: str, series: Sequence[Series], start: dt.datetime, end: dt.datetime, *,
                   y_max: float, y_label: Callable[[float], str], title: str, description: str,
                   tick_label: Callable[[dt.datetime], str], y_min: float = 0.0) -> Markup:
    """Return a line chart. A missing value breaks the line instead of joining across the gap."""
    height, plot_height = 220, 170
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    span = (y_max - y_min) or 1.0

    def y(value: float) -> float:
        return PLOT_TOP + plot_height * (1 - (min(max(value, y_min), y_max) - y_min) / span)

    parts = [_open_svg(chart_id, height, title, description)]
    for step in range(5):
        value = y_min + span * step / 4
        parts.append(f'<line x1="{PLOT_LEFT}" x2="{WIDTH - PLOT_RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="#d0d7de" stroke-width="1"/>'
                     f'<text x="{PLOT_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="12" '
                     f'fill="{MUTED_TEXT}">{escape(y_label(value))}</text>')
    for index, item in enumerate(series):
        colour, dash = SERIES[index % len(SERIES)], DASHES[index % len(DASHES)]
        dash_attribute = f' stroke-dasharray="{dash}"' if dash else ""
        for run in _runs(item.points):
            coordinates = " ".join(f"{_x(moment, start, end, PLOT_LEFT, plot_width):.1f},{y(value):.1f}"
                                   for moment, value in run)
            if len(run) == 1:
                moment, value = run[0]
                parts.append(f'<circle cx="{_x(moment, start, end, PLOT_LEFT, plot_width):.1f}" cy="{y(value):.1f}" '
                             f'r="2" fill="{colour}"/>')
            else:
                parts.append(f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2"'
                             f'{dash_attribute}><title>{escape(item.label)}</title></polyline>')
    parts.append(_time_axis(start, end, PLOT_TOP + plot_height + 4, tick_label))
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars_svg(chart_id: str, buckets: Sequence[tuple[dt.datetime, dt.datetime, dict[str, int]]],
                     start: dt.datetime, end: dt.datetime, *, title: str, description: str,
                     kind_label: Callable[[str], str], tick_label: Callable[[dt.datetime], str]) -> Markup:
    """Return one stacked bar per time bucket, one colour per failure kind, each with a tooltip."""
    height, plot_height = 200, 150
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    highest = max((sum(counts.values()) for _start, _end, counts in buckets), default=0) or 1
    parts = [_open_svg(chart_id, height, title, description)]
    for step in range(3):
        value = highest * step / 2
        y = PLOT_TOP + plot_height * (1 - step / 2)
        parts.append(f'<line x1="{PLOT_LEFT}" x2="{WIDTH - PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>'
                     f'<text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
                     f'fill="{MUTED_TEXT}">{value:.0f}</text>')
    for bucket_start, bucket_end, counts in buckets:
        x0 = _x(max(bucket_start, start), start, end, PLOT_LEFT, plot_width)
        x1 = _x(min(bucket_end, end), start, end, PLOT_LEFT, plot_width)
        width = max((x1 - x0) * 0.8, 1.0)
        base = PLOT_TOP + plot_height
        for kind in sorted(counts):
            size = plot_height * counts[kind] / highest
            base -= size
            colour = FAILURE_KINDS.get(kind, MUTED_TEXT)
            parts.append(f'<rect x="{x0:.1f}" y="{base:.1f}" width="{width:.1f}" height="{size:.1f}" fill="{colour}">'
                         f'<title>{escape(kind_label(kind))}: {counts[kind]} ({escape(tick_label(bucket_start))})'
                         f'</title></rect>')
    parts.append(_time_axis(start, end, PLOT_TOP + plot_height + 4, tick_label))
    parts.append("</svg>")
    return Markup("".join(parts))


def _runs(points: Sequence[tuple[dt.datetime, float | None]]) -> list[list[tuple[dt.datetime, float]]]:
    runs: list[list[tuple[dt.datetime, float]]] = [[]]
    for moment, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((moment, value))
    return [run for run in runs if run]


def _time_axis(start: dt.datetime, end: dt.datetime, top: float, tick_label: Callable[[dt.datetime], str]) -> str:
    """Return tick marks at local midnights, or every 6 local hours for spans up to two days."""
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    span = end - start
    step = dt.timedelta(hours=6) if span <= dt.timedelta(days=2) else dt.timedelta(days=1)
    label_every = 1 if span <= dt.timedelta(days=8) else 5
    local_start = local_time(start)
    if step < dt.timedelta(days=1):
        tick = local_start.replace(minute=0, second=0, microsecond=0)
        tick = tick.replace(hour=tick.hour - tick.hour % 6)
    else:
        tick = local_start.replace(hour=0, minute=0, second=0, microsecond=0)
    parts = [f'<line x1="{PLOT_LEFT}" x2="{WIDTH - PLOT_RIGHT}" y1="{top:.1f}" y2="{top:.1f}" stroke="{MUTED_TEXT}"/>']
    count = 0
    while tick <= end:
        if tick >= start:
            x = _x(tick, start, end, PLOT_LEFT, plot_width)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{top + 5:.1f}" stroke="{MUTED_TEXT}"/>')
            if count % label_every == 0:
                parts.append(f'<text x="{x:.1f}" y="{top + 18:.1f}" text-anchor="middle" font-size="12" '
                             f'fill="{MUTED_TEXT}">{escape(tick_label(tick))}</text>')
            count += 1
        tick = (tick + step).astimezone(tick.tzinfo)
    return "".join(parts)
