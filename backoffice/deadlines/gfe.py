"""Pure No Surprises Act Good Faith Estimate dates and thresholds (billing-rules.md §10.1, 45 CFR 149.610).

Business days are weekdays that are not US federal holidays (``backoffice.calendars``).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from backoffice.calendars import is_business_day
from backoffice.deadlines.rules import Deadline, add_months
from backoffice.work.rules import add_business_days

SECTION_GFE = "billing-rules §10.1"
GFE_MIN_LEAD_BUSINESS_DAYS = 3  # scheduled fewer business days ahead: no GFE is owed at scheduling
GFE_LONG_LEAD_BUSINESS_DAYS = 10  # scheduled this many or more business days ahead: the longer deadline
GFE_DUE_SHORT_LEAD_BUSINESS_DAYS = 1  # 3-9 business days ahead
GFE_DUE_LONG_LEAD_BUSINESS_DAYS = 3  # 10 or more business days ahead
GFE_DUE_AFTER_REQUEST_BUSINESS_DAYS = 3  # a request or cost inquiry without scheduling
GFE_UPDATE_BUSINESS_DAYS_BEFORE_SERVICE = 1  # material change after issuance [IND]
GFE_MAX_COVERAGE_MONTHS = 12  # one GFE may cover up to 12 months of recurring sessions [IND]
GFE_RETENTION_YEARS = 6  # [VERIFY] in the reference
DISPUTE_THRESHOLD = Decimal("400")  # billed at least this much above the GFE, per provider
DISPUTE_WINDOW_DAYS = 120  # generally, from receiving the bill


def business_days_ahead(scheduled_on: date, service_date: date) -> int:
    """Business days from the scheduling day up to, not including, the service day.

    So a Monday booking for Thursday is 3 business days ahead: Monday is the third business day before the
    service. 0 when the service is on or before the scheduling day.
    """
    count = 0
    day = scheduled_on
    while day < service_date:
        if is_business_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def gfe_due(*, scheduled_on: date, service_date: date | None, requested_on: date | None = None) -> Deadline | None:
    """When the GFE is owed and why; None when no GFE is owed (nothing scheduled or requested, or too short
    notice: fewer than 3 business days between scheduling and the service)."""
    if service_date is None:
        if requested_on is None:
            return None
        due = add_business_days(requested_on, GFE_DUE_AFTER_REQUEST_BUSINESS_DAYS, is_business_day)
        return Deadline(
            due=due,
            nominal=due,
            starts=requested_on,
            basis=(
                f"GFE: within {GFE_DUE_AFTER_REQUEST_BUSINESS_DAYS} business days after the patient's request "
                f"or cost inquiry, no service scheduled (45 CFR 149.610; {SECTION_GFE})"
            ),
        )
    ahead = business_days_ahead(scheduled_on, service_date)
    if ahead < GFE_MIN_LEAD_BUSINESS_DAYS:
        return None
    if ahead >= GFE_LONG_LEAD_BUSINESS_DAYS:
        days, window = GFE_DUE_LONG_LEAD_BUSINESS_DAYS, f"{GFE_LONG_LEAD_BUSINESS_DAYS} or more"
    else:
        days = GFE_DUE_SHORT_LEAD_BUSINESS_DAYS
        window = f"{GFE_MIN_LEAD_BUSINESS_DAYS}-{GFE_LONG_LEAD_BUSINESS_DAYS - 1}"
    due = add_business_days(scheduled_on, days, is_business_day)
    return Deadline(
        due=due,
        nominal=due,
        starts=scheduled_on,
        basis=(
            f"GFE: service scheduled {ahead} business days ahead ({window}), so due within {days} business "
            f"day{'s' if days > 1 else ''} after scheduling (45 CFR 149.610; {SECTION_GFE})"
        ),
    )


def gfe_due_date(*, scheduled_on: date, service_date: date | None, requested_on: date | None = None) -> date | None:
    """The day a GFE is due, or None when none is owed (see ``gfe_due``)."""
    deadline = gfe_due(scheduled_on=scheduled_on, service_date=service_date, requested_on=requested_on)
    return None if deadline is None else deadline.due


def updated_gfe_due(service_date: date) -> Deadline:
    """After a material change in scope, the updated GFE is due 1 business day before the service at the latest."""
    day = service_date - timedelta(days=1)
    while not is_business_day(day):
        day -= timedelta(days=1)
    return Deadline(
        due=day,
        nominal=day,
        starts=service_date,
        basis=f"Updated GFE: at least 1 business day before the service after a material change ({SECTION_GFE})",
    )


def gfe_new_estimate_needed_from(covers_from: date) -> date:
    """The first session date one GFE for recurring services no longer covers: 12 months after it starts."""
    return add_months(covers_from, GFE_MAX_COVERAGE_MONTHS)


def gfe_retain_until(issued_on: date) -> date:
    """Keep a copy of the GFE at least until this day (6 years, a default the reference marks to verify)."""
    return add_months(issued_on, 12 * GFE_RETENTION_YEARS)


def gfe_dispute_eligible(*, billed: Decimal, estimated: Decimal) -> bool:
    """Whether a provider's bill exceeds its GFE by at least $400, opening patient-provider dispute resolution."""
    return billed - estimated >= DISPUTE_THRESHOLD


def gfe_dispute_deadline(bill_received_on: date) -> Deadline:
    """Last day for the patient to start dispute resolution: generally 120 days after receiving the bill."""
    due = bill_received_on + timedelta(days=DISPUTE_WINDOW_DAYS)
    return Deadline(
        due=due,
        nominal=due,
        starts=bill_received_on,
        basis=f"GFE dispute: generally within {DISPUTE_WINDOW_DAYS} days of receiving the bill ({SECTION_GFE})",
    )
