"""Business-day calendars: weekends plus US federal holidays (from the maintained ``holidays`` package)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def us_federal_holidays(year: int) -> frozenset[date]:
    """The US federal holidays of ``year`` as observed (a Saturday holiday moves to Friday, Sunday to Monday)."""
    return frozenset(holidays.US(years=[year], observed=True).keys())


def is_business_day(day: date) -> bool:
    """A weekday that is not a US federal holiday."""
    return day.weekday() < 5 and day not in us_federal_holidays(day.year)
