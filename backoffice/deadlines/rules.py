"""Pure claim-filing deadlines (billing-rules.md §5.1, §5.2) and the pieces every deadline module shares.

Dates in, dates out: no clock is read here, ``today`` is always passed in. Every deadline says which rule
produced it (``Deadline.basis``) because scrubber messages and appeal letters print it. Appeal windows are
in ``appeals.py``, Good Faith Estimates in ``gfe.py`` and follow-up timers in ``follow_up.py``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from backoffice.calendars import is_business_day
from backoffice.orgs.rules import PayerKind
from backoffice.work.rules import add_business_days

# Defaults from billing-rules.md. Payer-specific values come from the payer's row (filing_limit_days,
# appeal_window_days); these apply only when a caller has none.
MEDICARE_FILING_LIMIT_MONTHS = 12  # §5.1, 42 CFR 424.44: "12 months (one calendar year)"
MEDICAID_FILING_LIMIT_MONTHS = 12  # §5.1, 42 CFR 447.45(d): the federal floor; states may be shorter
# §5.1 gives no single commercial default; 90 days is the shortest participating limit it lists (UHC, Cigna,
# Anthem), so an unconfigured payer can only make us file early, never late.
DEFAULT_COMMERCIAL_FILING_LIMIT_DAYS = 90
DEFAULT_SECONDARY_FILING_LIMIT_DAYS = 90  # §5.1 "Secondary claims": 90 days from the primary's EOB/ERA
MEDICARE_REOPENING_MONTHS = 12  # §5.2, 42 CFR 405.980: 1 year for any reason
MEDICARE_REOPENING_GOOD_CAUSE_MONTHS = 48  # §5.2: up to 4 years with good cause

DUE_SOON_DAYS = 14  # filing_status: "due_soon" when 0..14 days are left, both ends included
FILING_ALERT_DAYS: tuple[int, ...] = (60, 30, 14, 7)  # §5.1 timers for unbilled or rejected charges
APPEAL_ALERT_DAYS: tuple[int, ...] = (30, 14, 7)  # §9.2 hard alerts before filing or appeal deadlines

SECTION_FILING = "billing-rules §5.1"
SECTION_CORRECTIONS = "billing-rules §5.2"


@dataclass(frozen=True)
class Deadline:
    """The last day to act (``due``), the day the rule itself lands on (``nominal``) and the rule's citation.

    ``due`` is never before ``nominal``; they differ only when a weekend/holiday extension applied.
    ``starts`` is the day the clock started (date of service, presumed receipt of a notice, ...).
    """

    due: date
    nominal: date
    starts: date
    basis: str

    @property
    def extended(self) -> bool:
        """Whether a weekend or federal holiday pushed ``due`` past ``nominal``."""
        return self.due != self.nominal


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; a day the target month lacks becomes its last day (Feb 29 → Feb 28)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_business_day(day: date) -> date:
    """``day`` itself when it is a business day, else the first business day after it."""
    return add_business_days(day, 0, is_business_day)


TRICARE_FILING_LIMIT_MONTHS = 12
KIND_LABELS = {
    PayerKind.MEDICARE: "Medicare",
    PayerKind.MEDICARE_ADVANTAGE: "Medicare Advantage",
    PayerKind.MEDICAID: "Medicaid",
    PayerKind.MEDICAID_MANAGED_CARE: "Medicaid managed care",
    PayerKind.COMMERCIAL: "Commercial",
    PayerKind.TRICARE: "TRICARE",
    PayerKind.EAP: "Employee assistance programme",
    PayerKind.BH_CARVE_OUT: "Behavioral-health carve-out",
    PayerKind.SELF_PAY: "Self-pay",
}


def payer_kind_of(value: str) -> PayerKind:
    """The PayerKind for ``value``; an unknown kind is an error, never a silent default."""
    try:
        return PayerKind(value)
    except ValueError:
        known = ", ".join(kind.value for kind in PayerKind)
        raise ValueError(f"unknown payer kind {value!r} (known: {known})") from None


def positive_days(value: int, name: str) -> int:
    """``value`` when it is a whole number of days above zero; payer data with 0 or less is an error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of days, 1 or more (got {value!r})")
    return value


def finish(starts: date, nominal: date, basis: str, *, roll: bool, roll_basis: str) -> Deadline:
    """A Deadline on ``nominal``, moved to the next business day when ``roll`` and it is not one."""
    if not roll or is_business_day(nominal):
        return Deadline(due=nominal, nominal=nominal, starts=starts, basis=basis)
    due = next_business_day(nominal)
    why = ("a Saturday", "a Sunday")[nominal.weekday() - 5] if nominal.weekday() >= 5 else "a US federal holiday"
    moved = f"; {nominal.isoformat()} is {why}, so the next business day, {due.isoformat()}, counts"
    return Deadline(due=due, nominal=nominal, starts=starts, basis=f"{basis}{moved} ({roll_basis})")


# --- initial claims (§5.1) ---


def timely_filing_deadline(
    date_of_service: date,
    *,
    payer_kind: str,
    filing_limit_days: int | None,
    weekend_rollover: bool = True,
) -> Deadline:
    """Last day to file a first (clean) claim, counted from the line's "from" date of service.

    Medicare: 12 calendar months, a Feb 29 service due Feb 28 (the payer's day count is ignored: the
    regulation fixes it). Medicaid: the state's ``filing_limit_days``, else the 12-month federal floor.
    Commercial and carve-outs: ``filing_limit_days``, else 90 days. A last day on a weekend or US federal
    holiday moves to the next business day (Medicare always; others unless ``weekend_rollover`` is False).
    """
    kind = payer_kind_of(payer_kind)
    if filing_limit_days is not None:
        positive_days(filing_limit_days, "filing_limit_days")
    if kind is PayerKind.MEDICARE:
        nominal = add_months(date_of_service, MEDICARE_FILING_LIMIT_MONTHS)
        basis = "Medicare: 12 months (one calendar year) after the date of service"
        if (date_of_service.month, date_of_service.day) == (2, 29):
            basis += "; a service on Feb 29 is due Feb 28 of the next year"
        return finish(
            date_of_service,
            nominal,
            f"{basis} (42 CFR 424.44; {SECTION_FILING})",
            roll=True,
            roll_basis=f"Medicare: the next workday counts, {SECTION_FILING}",
        )
    medicaid = kind in (PayerKind.MEDICAID, PayerKind.MEDICAID_MANAGED_CARE)
    label = KIND_LABELS[kind]
    if medicaid and filing_limit_days is None:
        nominal = add_months(date_of_service, MEDICAID_FILING_LIMIT_MONTHS)
        basis = (
            f"{label}: 12 months after the date of service, the federal floor; store the state's or plan's limit "
            f"(42 CFR 447.45(d); {SECTION_FILING})"
        )
    elif kind is PayerKind.MEDICARE_ADVANTAGE and filing_limit_days is None:
        nominal = add_months(date_of_service, MEDICARE_FILING_LIMIT_MONTHS)
        basis = (
            f"{label}: without a contract limit, Medicare's 12 months for a non-contracted provider "
            f"(42 CFR 422.214; {SECTION_FILING}); store the plan's contract limit"
        )
    elif kind is PayerKind.TRICARE and filing_limit_days is None:
        nominal = add_months(date_of_service, TRICARE_FILING_LIMIT_MONTHS)
        basis = f"{label}: one year after the date of service (32 CFR 199.7(d); {SECTION_FILING})"
    else:
        if filing_limit_days is None:
            nominal = date_of_service + timedelta(days=DEFAULT_COMMERCIAL_FILING_LIMIT_DAYS)
            basis = (
                f"{label}: default {DEFAULT_COMMERCIAL_FILING_LIMIT_DAYS} days after the date of service, the "
                f"shortest participating limit in {SECTION_FILING}; store the contract's limit"
            )
        else:
            nominal = date_of_service + timedelta(days=filing_limit_days)
            basis = (
                f"{label}: the payer's limit of {filing_limit_days} days after the date of service ({SECTION_FILING})"
            )
    return finish(
        date_of_service,
        nominal,
        basis,
        roll=weekend_rollover,
        roll_basis=f"payer setting; {SECTION_FILING} gives this rule for Medicare",
    )


def secondary_filing_deadline(
    primary_adjudicated_on: date, *, filing_limit_days: int | None = None, weekend_rollover: bool = True
) -> Deadline:
    """Last day to file a secondary claim: the payer's days (default 90) after the primary's EOB/ERA date."""
    days = DEFAULT_SECONDARY_FILING_LIMIT_DAYS if filing_limit_days is None else filing_limit_days
    positive_days(days, "filing_limit_days")
    source = "default" if filing_limit_days is None else "the payer's limit of"
    return finish(
        primary_adjudicated_on,
        primary_adjudicated_on + timedelta(days=days),
        f"Secondary claim: {source} {days} days after the primary payer's EOB/ERA date ({SECTION_FILING})",
        roll=weekend_rollover,
        roll_basis=f"payer setting; {SECTION_FILING} gives this rule for Medicare",
    )


# --- corrected/replacement claims and Medicare reopenings (§5.2) ---


def reopening_deadline(initial_determination_date: date, *, good_cause: bool = False) -> Deadline:
    """Medicare reopening window: 1 year from the initial determination, 4 years with good cause.

    Not extended over weekends or holidays: §5.2 gives no such rule, so the earlier day is the safe one.
    """
    months = MEDICARE_REOPENING_GOOD_CAUSE_MONTHS if good_cause else MEDICARE_REOPENING_MONTHS
    window = "4 years (good cause)" if good_cause else "1 year (any reason)"
    nominal = add_months(initial_determination_date, months)
    basis = (
        f"Medicare reopening: within {window} of the initial determination; clerical errors are reopened, "
        f"not appealed (42 CFR 405.980; {SECTION_CORRECTIONS})"
    )
    return Deadline(due=nominal, nominal=nominal, starts=initial_determination_date, basis=basis)


def corrected_claim_deadline(
    *,
    date_of_service: date,
    determination_date: date,
    payer_kind: str,
    filing_limit_days: int | None,
    correction_window_days: int | None = None,
    correction_window_months: int | None = None,
    weekend_rollover: bool = True,
) -> Deadline:
    """Last day for a replacement (frequency 7) claim.

    A payer that sets a period after the original determination (days, or months like Medi-Cal's 6) uses it;
    otherwise the correction must arrive within the timely-filing window. Medicare has no replacement
    claims: corrections are reopenings, so its answer is the 1-year reopening window.
    """
    kind = payer_kind_of(payer_kind)
    if correction_window_days is not None and correction_window_months is not None:
        raise ValueError("give the correction window in days or in months, not both")
    if kind is PayerKind.MEDICARE:
        return reopening_deadline(determination_date)
    if correction_window_months is not None:
        if correction_window_months < 1:
            raise ValueError("correction_window_months must be 1 or more")
        nominal = add_months(determination_date, correction_window_months)
        window = f"{correction_window_months} months"
    elif correction_window_days is not None:
        nominal = determination_date + timedelta(days=positive_days(correction_window_days, "correction_window_days"))
        window = f"{correction_window_days} days"
    else:
        filing = timely_filing_deadline(
            date_of_service, payer_kind=kind, filing_limit_days=filing_limit_days, weekend_rollover=weekend_rollover
        )
        return Deadline(
            due=filing.due,
            nominal=filing.nominal,
            starts=filing.starts,
            basis=f"Corrected claim: within the timely-filing window ({SECTION_CORRECTIONS}); {filing.basis}",
        )
    return finish(
        determination_date,
        nominal,
        f"Corrected claim: the payer's window of {window} after the original payment/denial ({SECTION_CORRECTIONS})",
        roll=weekend_rollover,
        roll_basis="payer setting",
    )


# --- where a deadline stands today ---


def days_left(deadline: date, today: date) -> int:
    """Calendar days from ``today`` to ``deadline``: 0 on the last day, negative once it has passed."""
    return (deadline - today).days


def filing_status(deadline: date, today: date) -> str:
    """ "passed" after the last day, "due_soon" with 0..14 days left (both included), otherwise "ok"."""
    left = days_left(deadline, today)
    if left < 0:
        return "passed"
    if left <= DUE_SOON_DAYS:
        return "due_soon"
    return "ok"


def alert_threshold(deadline: date, today: date, thresholds: tuple[int, ...] = FILING_ALERT_DAYS) -> int | None:
    """The tightest alert threshold (days left) reached today, None while more days are left than any.

    A passed deadline reports the tightest threshold; ``filing_status`` says that it has passed.
    """
    left = days_left(deadline, today)
    reached = [threshold for threshold in thresholds if left <= threshold]
    return min(reached) if reached else None
