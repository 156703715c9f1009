"""Charts as server-side SVG: pure functions from labelled numbers to markup, no script and no internet.

The SVG is drawn here rather than by a JavaScript library because the pages run no script at all
(the CSP forbids it) and must work offline; a bar chart is a few rectangles. Colours and fonts come
from classes styled in ``static/app.css`` (no style attributes: the CSP forbids inline styles).
Every label is XML-escaped; each chart carries ``role="img"``, an ``aria-label`` and a ``<title>``,
and the page puts a table with the same numbers after it (WCAG 1.1.1: a text alternative).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
Formatter = Callable[[float], str]


def _x(text: object) -> str:
    """Text safe inside an XML element or a double-quoted attribute."""
    return escape(str(text), quote=True)


def _num(value: float) -> str:
    """A coordinate with at most one decimal (small markup, same picture)."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _domain(values: Sequence[float]) -> tuple[float, float]:
    """The value range a chart spans: always includes zero, never empty."""
    low, high = min([0.0, *values]), max([0.0, *values])
    return (low, high) if high > low else (low, low + 1.0)


def _open(chart_id: str, title: str, width: int, height: int) -> list[str]:
    """The opening of an accessible SVG image."""
    return [f'<svg xmlns="{SVG_NS}" id="{_x(chart_id)}" class="chart" viewBox="0 0 {width} {height}" '
            f'role="img" aria-label="{_x(title)}" aria-describedby="{_x(chart_id)}-desc" '
            f'preserveAspectRatio="xMinYMin meet">',
            f"<title>{_x(title)}</title>"]


def bar_chart(items: Sequence[tuple[str, float]], *, chart_id: str, title: str, describe: str,
              fmt: Formatter = str, width: int = 560, bar: int = 22, gap: int = 8, label_width: int = 150,
              value_width: int = 110) -> Markup:
    """Horizontal bars, one per (label, value), with the label left and the formatted value right."""
    height = max(1, len(items)) * (bar + gap) + gap
    low, high = _domain([v for _l, v in items])
    span_px = width - label_width - value_width - 10
    scale = span_px / (high - low)
    zero = label_width + (0 - low) * scale
    parts = _open(chart_id, title, width, height)
    parts.append(f'<desc id="{_x(chart_id)}-desc">{_x(describe)}</desc>')
    for n, (label, value) in enumerate(items):
        y = gap + n * (bar + gap)
        left, right = sorted((zero, label_width + (value - low) * scale))
        kind = "bar negative" if value < 0 else "bar"
        parts.append(f'<g class="row"><text class="label" x="{label_width - 8}" y="{_num(y + bar * 0.7)}" '
                     f'text-anchor="end">{_x(label)}</text>'
                     f'<rect class="{kind}" x="{_num(left)}" y="{y}" width="{_num(max(right - left, 1.0))}" '
                     f'height="{bar}"/>'
                     f'<text class="value" x="{_num(max(right, zero) + 6)}" y="{_num(y + bar * 0.7)}">'
                     f"{_x(fmt(value))}</text></g>")
    parts.append(f'<line class="axis" x1="{_num(zero)}" y1="0" x2="{_num(zero)}" y2="{height}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(items: Sequence[tuple[str, float]], *, chart_id: str, title: str, describe: str,
                 fmt: Formatter = str, width: int = 480, height: int = 220, top: int = 24, bottom: int = 28,
                 side: int = 8) -> Markup:
    """Vertical columns over time, one per (label, value): the label under each, the top value over the tallest."""
    count = max(1, len(items))
    low, high = _domain([v for _l, v in items])
    plot = height - top - bottom
    scale = plot / (high - low)
    zero = top + high * scale
    step = (width - 2 * side) / count
    column = step * 0.7
    parts = _open(chart_id, title, width, height)
    parts.append(f'<desc id="{_x(chart_id)}-desc">{_x(describe)}</desc>')
    peak = max(range(len(items)), key=lambda i: items[i][1], default=None)
    for n, (label, value) in enumerate(items):
        x = side + n * step + (step - column) / 2
        y1, y2 = sorted((zero, zero - value * scale))
        kind = "bar negative" if value < 0 else "bar"
        parts.append(f'<g class="col"><rect class="{kind}" x="{_num(x)}" y="{_num(y1)}" width="{_num(column)}" '
                     f'height="{_num(max(y2 - y1, 1.0))}"><title>{_x(label)}: {_x(fmt(value))}</title></rect>'
                     f'<text class="label" x="{_num(x + column / 2)}" y="{height - 8}" text-anchor="middle">'
                     f"{_x(label)}</text>")
        if n == peak and value > 0:
            # Anchored at the column's outer edge near the sides, so a long amount is never cut off.
            anchor, at = (("start", x) if n < count / 3 else ("end", x + column) if n >= 2 * count / 3
                          else ("middle", x + column / 2))
            parts.append(f'<text class="value" x="{_num(at)}" y="{_num(y1 - 6)}" '
                         f'text-anchor="{anchor}">{_x(fmt(value))}</text>')
        parts.append("</g>")
    parts.append(f'<line class="axis" x1="{side}" y1="{_num(zero)}" x2="{width - side}" y2="{_num(zero)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
