"""Tiny inline-SVG charts (no JavaScript, no CDN: the CSP forbids scripts). Labels are escaped."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH = 480, 18, 6, 140
TEXT = 'font-size="12" fill="#333"'  # presentation attributes, not inline style: the CSP allows them


def bar_chart(values: Sequence[tuple[str, Decimal | int | None]], *, title: str, unit: str = "") -> Markup:
    """A horizontal bar per (label, value); empty values draw no bar. Returns an <svg> safe to embed."""
    numbers = [Decimal(v) for _, v in values if v is not None]
    top = max(numbers, default=Decimal(0)) or Decimal(1)
    height = len(values) * (BAR_HEIGHT + GAP) + GAP
    span = WIDTH - LABEL_WIDTH - 70
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}"'
             f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']  # fmt: skip
    for index, (label, value) in enumerate(values):
        y = GAP + index * (BAR_HEIGHT + GAP)
        parts.append(f'<text x="0" y="{y + 13}" class="chart-label" {TEXT}>{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{LABEL_WIDTH}" y="{y + 13}" class="chart-value" {TEXT}>n/a</text>')
            continue
        length = int(Decimal(span) * Decimal(value) / top) if value > 0 else 0
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" class="chart-bar" fill="#3b6ea5"/>'
        )
        parts.append(f'<text x="{LABEL_WIDTH + length + 4}" y="{y + 13}" class="chart-value" {TEXT}>'
                     f'{escape(str(value))}{escape(unit)}</text>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label and value above is escaped
