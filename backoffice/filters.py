"""Jinja filters: pure formatting functions, registered on the app and unit-tested."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from backoffice.work import rules


def money(value: Decimal | int | float | None) -> str:
    """$1,234.50; negatives as -$12.00; None as an em dash."""
    if value is None:
        return "—"
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def local_datetime(value: datetime | None, tz_name: str, fmt: str = "%b %d %H:%M") -> str:
    """A UTC timestamp shown in ``tz_name``."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz_name)).strftime(fmt)


def short_date(value: date | None) -> str:
    return value.strftime("%m/%d/%Y") if value else "—"


def label(value: str | None) -> str:
    """'in_progress' → 'In progress'; known work kinds get their product label."""
    if not value:
        return ""
    if value in rules.KIND_LABELS:
        return rules.KIND_LABELS[value]
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def init_app(app: Flask) -> None:
    def _org_tz() -> str:
        return current_app.config["BACKOFFICE_SETTINGS"].timezone

    app.add_template_filter(money)
    app.add_template_filter(short_date)
    app.add_template_filter(label)
    app.add_template_filter(lambda v, fmt="%b %d %H:%M": local_datetime(v, _org_tz(), fmt), "localtime")
    # Views pass ``now`` so one page renders against one instant.
    app.add_template_filter(lambda item, now: rules.sla_status(item.due_at, now, state=item.state), "sla")
    app.add_template_filter(rules.countdown, "countdown")
