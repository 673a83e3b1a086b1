"""Pure decisions of the scheduled sweeps: follow-up steps, timely-filing priority, authorization forecasts.

Plain values in, values out, ``today``/``now`` always passed in (billing-rules.md §5.1, §8.3, §9.2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from backoffice.authorizations.rules import REMAINING_ALERT
from backoffice.deadlines.follow_up import next_follow_up
from backoffice.work.rules import MAX_PRIORITY

REAUTH_LEAD_DAYS = 14  # re-authorization lead time; payer reviews take 3-14 days (§8.3)
USAGE_WINDOW_DAYS = 28  # forecast usage from the last 4 weeks of sessions
FILING_PASSED_GRACE_DAYS = 30  # a passed deadline stays on top this long (proof of timely filing, write-off)
REQUEUE_AFTER = timedelta(minutes=2)
MAX_AUTOMATED_ATTEMPTS = 5  # past this the sweeper stops re-enqueueing a failing automated item


def sla_breach_note(due_at: datetime, tz: ZoneInfo) -> str:
    """The escalation note of a breached item: its due time in the practice's zone."""
    return f"SLA breached: due {due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}"


class FollowUpAction(StrEnum):
    NONE = "none"
    STATUS_REQUEST = "status_request"  # an automated 276 claim status request
    CALL_PAYER = "call_payer"  # a person calls: the automated request did not resolve it


def checks_due(submitted_on: date, today: date, *, payer_kind: str, electronic: bool = True, limit: int = 100) -> int:
    """How many status checks are due by ``today`` (0 before the first check day, §9.2 timers)."""
    count = 0
    while (
        count < limit
        and next_follow_up(submitted_on, payer_kind=payer_kind, electronic=electronic, attempts=count) <= today
    ):
        count += 1
    return count


def follow_up_action(*, checks_due: int, checks_made: int, has_open_item: bool) -> FollowUpAction:
    """The next follow-up step for an unpaid claim.

    Nothing before the first check day or while a follow-up item is still being worked; the first check is
    an automated status request; a later check that is due after an earlier one did not bring the 835 is a
    call to the payer.
    """
    if checks_due <= checks_made or has_open_item:
        return FollowUpAction.NONE
    return FollowUpAction.STATUS_REQUEST if checks_made == 0 else FollowUpAction.CALL_PAYER


def acknowledgment_missing(*, status: str, accepted_at: datetime | None, status_category: str | None,
                           ack_due: date, today: date) -> bool:  # fmt: skip
    """A submitted claim with no 999/277CA answer after its acknowledgment day (§9.2: alert after 2 business days)."""
    return status == "submitted" and accepted_at is None and status_category is None and today > ack_due


def filing_priority(days_left: int) -> int:
    """Priority of work on an unbilled charge near its filing deadline: the fewer days left, the higher;
    a passed deadline is the maximum. 60 days left → 940, 7 → 993, 0 or passed → 1000."""
    return MAX_PRIORITY - max(days_left, 0)


def filing_note(days_left: int, deadline: date) -> str:
    """The interaction text logged when an item crosses a filing alert threshold."""
    if days_left < 0:
        return f"Timely filing: deadline passed {-days_left} days ago (deadline {deadline.isoformat()})"
    return f"Timely filing: {days_left} days left (deadline {deadline.isoformat()})"


def filing_alert_is_new(threshold: int, previous: int | None) -> bool:
    """Log once per threshold crossed: only a tighter threshold than the last one logged is new."""
    return previous is None or threshold < previous


# --- authorization watch (§8.3) ---


@dataclass(frozen=True)
class AuthForecast:
    """When an authorization stops covering sessions (``on``) and why ("expires" or "runs out")."""

    on: date
    cause: str
    per_week: float
    upcoming: int


def weekly_rate(past_session_days: Iterable[date], today: date, window_days: int = USAGE_WINDOW_DAYS) -> float:
    """Sessions per week over the ``window_days`` before today (today excluded)."""
    start = today - timedelta(days=window_days)
    count = sum(1 for day in past_session_days if start <= day < today)
    return count * 7 / window_days


def exhaustion_date(remaining: int, upcoming_days: Sequence[date], per_week: float, today: date) -> date | None:
    """The day the last authorized unit is used: scheduled sessions first, then the recent weekly rate.

    None when the units outlast both the schedule and any usage (no recent sessions).
    """
    if remaining <= 0:
        return today
    upcoming = sorted(day for day in upcoming_days if day >= today)
    if len(upcoming) >= remaining:
        return upcoming[remaining - 1]
    if per_week <= 0:
        return None
    left = remaining - len(upcoming)
    start = upcoming[-1] if upcoming else today
    return start + timedelta(days=math.ceil(left * 7 / per_week))


def authorization_forecast(
    *,
    end_date: date,
    remaining: int,
    past_session_days: Iterable[date],
    upcoming_days: Sequence[date],
    today: date,
    lead_days: int = REAUTH_LEAD_DAYS,
    alert_at_remaining: int = REMAINING_ALERT,
) -> AuthForecast | None:
    """The forecast if the authorization ends or runs out within ``lead_days`` of today, or when only
    ``alert_at_remaining`` or fewer visits/units are left (§8.3 trigger 1, whatever the pace); else None.
    ``remaining`` is what is left once the sessions held but not billed yet are counted."""
    per_week = weekly_rate(past_session_days, today)
    runs_out = exhaustion_date(remaining, upcoming_days, per_week, today)
    upcoming = sum(1 for day in upcoming_days if today <= day <= end_date)
    if runs_out is not None and runs_out < end_date:
        forecast = AuthForecast(runs_out, "runs out", round(per_week, 2), upcoming)
    else:
        forecast = AuthForecast(end_date, "expires", round(per_week, 2), upcoming)
    if forecast.on <= today + timedelta(days=lead_days):
        return forecast
    if remaining <= alert_at_remaining:
        return AuthForecast(forecast.on, "runs low", round(per_week, 2), upcoming)
    return None


def reauthorized(
    forecast: AuthForecast, cpt_codes: Sequence[str], others: Iterable[tuple[date, date, Sequence[str]]]
) -> bool:
    """Whether another authorization ``(start, end, cpts)`` of the same patient and payer already takes over:
    it covers a CPT of this one (or either lists none) on the first day this one no longer covers."""
    stops = forecast.on + timedelta(days=1)
    return any(
        start <= stops and end >= stops and (not cpt_codes or not cpts or set(cpt_codes) & set(cpts))
        for start, end, cpts in others
    )


def reauth_due_day(forecast_on: date, today: date, lead_days: int = REAUTH_LEAD_DAYS) -> date:
    """The re-authorization is due ``lead_days`` before the forecast date, never before today."""
    return max(forecast_on - timedelta(days=lead_days), today)


def reauth_reason(number: str, forecast: AuthForecast, *, authorized: int, used: int) -> str:
    """The work-item reason: authorization number (not PHI) and the forecast date."""
    if forecast.cause == "runs low":
        return (
            f"authorization {number} has {max(authorized - used, 0)} left ({used} of {authorized} used, "
            f"{forecast.upcoming} scheduled); ask for more before it runs out"
        )
    if forecast.cause == "expires":
        return f"authorization {number} expires {forecast.on.isoformat()} ({used} of {authorized} used)"
    return (
        f"authorization {number} forecast to run out {forecast.on.isoformat()} "
        f"({used} of {authorized} used, {forecast.upcoming} scheduled, ~{forecast.per_week:g}/week)"
    )
