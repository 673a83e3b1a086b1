"""Pure follow-up timers for submitted claims (billing-rules.md §9.2 suggested timers, configurable per payer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from backoffice.calendars import is_business_day
from backoffice.deadlines.rules import next_business_day, payer_kind_of, positive_days
from backoffice.orgs.rules import PayerKind
from backoffice.work.rules import add_business_days

SECTION_FOLLOW_UP = "billing-rules §9.2"
ACKNOWLEDGMENT_BUSINESS_DAYS = 2  # 999/277CA expected within 1-2 business days; alert when missing after 2
MEDICARE_FIRST_CHECK_DAYS = 30  # no ERA by day 30: clean claims must be paid by then (§7.4 payment ceiling)
ELECTRONIC_FIRST_CHECK_DAYS = 30  # commercial electronic: §9.2 says 21-30; its table says 30
PAPER_FIRST_CHECK_DAYS = 45
REPEAT_DAYS = 14
ESCALATE_AFTER_DAYS = 60  # "escalate at 60 days" (§9.2 table, an industry example)


@dataclass(frozen=True)
class FollowUpTimer:
    """When to check first (calendar days after submission), how often to repeat, and the rule's source."""

    first_check_days: int
    repeat_days: int
    basis: str


def follow_up_timer(*, payer_kind: str, electronic: bool) -> FollowUpTimer:
    """The default status-check timer for a payer kind and submission channel."""
    kind = payer_kind_of(payer_kind)
    if kind is PayerKind.MEDICARE:
        first, why = MEDICARE_FIRST_CHECK_DAYS, "Medicare: status check when no ERA by day 30"
    elif electronic:
        first, why = ELECTRONIC_FIRST_CHECK_DAYS, "electronic claim: status check when no ERA by day 30 (21-30)"
    else:
        first, why = PAPER_FIRST_CHECK_DAYS, "paper claim: status check when no ERA by day 45"
    return FollowUpTimer(first, REPEAT_DAYS, f"{why}, then every {REPEAT_DAYS} days ({SECTION_FOLLOW_UP})")


def next_follow_up(
    submitted_on: date,
    *,
    payer_kind: str,
    electronic: bool,
    attempts: int,
    first_check_days: int | None = None,
) -> date:
    """The day of the next status check after ``attempts`` checks so far, on a business day.

    Check n (0-based) is nominally first_check + 14·n days after submission; each is moved to the next
    business day on its own, so a weekend never shifts the later checks. ``first_check_days`` is the payer's
    override of the default.
    """
    if attempts < 0:
        raise ValueError("attempts must be 0 or more")
    timer = follow_up_timer(payer_kind=payer_kind, electronic=electronic)
    first = timer.first_check_days if first_check_days is None else positive_days(first_check_days, "first_check_days")
    return next_business_day(submitted_on + timedelta(days=first + timer.repeat_days * attempts))


def acknowledgment_due(submitted_on: date) -> date:
    """The business day by which the 999/277CA acknowledgment should have arrived; alert if it has not."""
    return add_business_days(submitted_on, ACKNOWLEDGMENT_BUSINESS_DAYS, is_business_day)


def escalation_due(submitted_on: date) -> date:
    """The business day an unpaid, unresolved claim is escalated: 60 days after submission."""
    return next_business_day(submitted_on + timedelta(days=ESCALATE_AFTER_DAYS))
