"""Pure KPI math over plain values (billing-rules.md §9.1): A/R aging buckets, rates, days in A/R."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

# (label, oldest age in days included); ages by date of service, both ends of a bucket included.
AGING_BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("0-30", 30),
    ("31-60", 60),
    ("61-90", 90),
    ("91-120", 120),
    ("120+", None),
)
DAYS_IN_AR_WINDOW = 90  # gross charges of the last 90 days give the average daily charge
CENTS = Decimal("0.01")


def aging_bucket(date_of_service: date, today: date) -> str:
    """The aging bucket of a balance by its date of service (a future date counts as 0 days old)."""
    age = max((today - date_of_service).days, 0)
    for label, oldest in AGING_BUCKETS:
        if oldest is None or age <= oldest:
            return label
    raise AssertionError("unreachable: the last bucket is open-ended")


def bucket_starts(today: date) -> list[tuple[str, date | None]]:
    """Per bucket, the earliest date of service it holds (None: no lower bound), newest bucket first.

    A balance with date of service ``d`` is in the first bucket whose start is ``<= d``.
    """
    return [(label, None if oldest is None else today - timedelta(days=oldest)) for label, oldest in AGING_BUCKETS]


def aging(balances: Iterable[tuple[date, Decimal]], today: date) -> dict[str, Decimal]:
    """Sum open balances per aging bucket (every bucket present, zero when empty)."""
    totals = {label: Decimal("0.00") for label, _ in AGING_BUCKETS}
    for day, amount in balances:
        totals[aging_bucket(day, today)] += amount
    return totals


def rate(part: int, whole: int) -> Decimal | None:
    """``part / whole`` as a percentage with one decimal; None when there is nothing to divide by."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def days_in_ar(total_ar: Decimal, gross_charges: Decimal, window_days: int = DAYS_IN_AR_WINDOW) -> Decimal | None:
    """Total A/R ÷ (gross charges of the last ``window_days`` ÷ ``window_days``), one decimal (§9.1)."""
    if gross_charges <= 0:
        return None
    return (total_ar / (gross_charges / window_days)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def money(amount: Decimal | int | None) -> str:
    """A Decimal amount as the string stored in snapshot JSON (never a float)."""
    return str(Decimal(amount or 0).quantize(CENTS, rounding=ROUND_HALF_UP))
