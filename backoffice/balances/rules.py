"""Pure patient-balance rules (billing-rules.md §10): the federal poverty guideline, sliding-scale tiers, payment
plan instalments and payment allocation, reminders, Good Faith Estimate lines. Plain values in, values out; the
day is always passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from backoffice.deadlines.gfe import DISPUTE_THRESHOLD, DISPUTE_WINDOW_DAYS, gfe_new_estimate_needed_from
from backoffice.deadlines.rules import add_months

CENT = Decimal("0.01")
# A plan payment is entered within two years of being made: an older date is a typo (0001-01-01, 1926 for 2026).
PAYMENT_LOOKBACK = timedelta(days=2 * 366)

# --- Federal poverty guideline --------------------------------------------------------------------------------

FPL_YEAR = 2026  # the guideline year determinations use; a new year is a new table below, never an edit
FPL_REGION = "48 contiguous states and the District of Columbia"


@dataclass(frozen=True)
class PovertyGuideline:
    """One year's HHS poverty guideline for one region: dollars per household size 1-8, plus per extra person."""

    year: int
    region: str
    by_size: tuple[int, ...]  # index 0 = 1 person
    per_extra_person: int
    source: str


FPL_TABLES: dict[int, PovertyGuideline] = {
    2026: PovertyGuideline(
        year=2026,
        region=FPL_REGION,
        by_size=(15_960, 21_640, 27_320, 33_000, 38_680, 44_360, 50_040, 55_720),
        per_extra_person=5_680,
        source=(
            "HHS, Annual Update of the HHS Poverty Guidelines, 91 FR 1797 (FR Doc 2026-00755, 15 Jan 2026), "
            "effective 13 Jan 2026; aspe.hhs.gov/poverty-guidelines"
        ),
    ),
}
MAX_HOUSEHOLD = 30
MAX_FPL_PERCENT = 1000  # a tier bound beyond this is a typo


def poverty_guideline(household_size: int, year: int = FPL_YEAR) -> int:
    """100% of the poverty guideline in dollars for a household of ``household_size`` in ``year``."""
    if year not in FPL_TABLES:
        raise ValueError(f"year: no poverty guideline table for {year} (known: {sorted(FPL_TABLES)})")
    if not 1 <= household_size <= MAX_HOUSEHOLD:
        raise ValueError(f"household_size: between 1 and {MAX_HOUSEHOLD}")
    table = FPL_TABLES[year]
    if household_size <= len(table.by_size):
        return table.by_size[household_size - 1]
    return table.by_size[-1] + (household_size - len(table.by_size)) * table.per_extra_person


def fpl_percent(annual_income: Decimal, household_size: int, year: int = FPL_YEAR) -> int:
    """The household's income as a whole percentage of the guideline, rounded down (a household at 200.9% is
    at 200%: the patient gets the benefit of the fraction, and a tier bound of 200 includes it)."""
    if annual_income < 0:
        raise ValueError("annual_income: zero or more")
    guideline = poverty_guideline(household_size, year)
    return int((Decimal(annual_income) * 100 / guideline).to_integral_value(rounding=ROUND_DOWN))


# --- Sliding-scale tiers ----------------------------------------------------------------------------------------

DETERMINATION_VALID_MONTHS = 12


@dataclass(frozen=True)
class Tier:
    """The rule-relevant part of a ``SlidingScaleTier``."""

    id: int | None
    name: str
    max_fpl_percent: int
    discount_percent: Decimal | None = None
    flat_fee: Decimal | None = None
    active: bool = True


def tier_problems(tiers: Sequence[Tier]) -> list[str]:
    """Everything wrong with a practice's tier table, each naming the row and field (empty when valid)."""
    problems: list[str] = []
    seen: set[int] = set()
    for n, tier in enumerate(tiers, start=1):
        where = f"tier {n}"
        if not tier.name.strip():
            problems.append(f"{where} name: required")
        if not 1 <= tier.max_fpl_percent <= MAX_FPL_PERCENT:
            problems.append(f"{where} max_fpl_percent: between 1 and {MAX_FPL_PERCENT}")
        elif tier.max_fpl_percent in seen:
            problems.append(f"{where} max_fpl_percent: {tier.max_fpl_percent}% is used by another tier")
        seen.add(tier.max_fpl_percent)
        if (tier.discount_percent is None) == (tier.flat_fee is None):
            problems.append(f"{where}: give either a discount % or a flat fee, not both or neither")
        if tier.discount_percent is not None and not Decimal(0) < tier.discount_percent <= 100:
            problems.append(f"{where} discount_percent: more than 0 and at most 100")
        if tier.flat_fee is not None and tier.flat_fee < 0:
            problems.append(f"{where} flat_fee: zero or more")
    return problems


def choose_tier(tiers: Sequence[Tier], percent: int) -> Tier | None:
    """The lowest active tier whose ``max_fpl_percent`` is at or above ``percent``; None above every tier (the
    household pays the full fee). Deterministic: ties are impossible (bounds are unique per practice)."""
    fitting = [t for t in tiers if t.active and t.max_fpl_percent >= percent]
    return min(fitting, key=lambda t: t.max_fpl_percent) if fitting else None


def tier_price(tier: Tier | None, full_fee: Decimal) -> Decimal:
    """What a session costs under ``tier``: the flat fee, or the fee schedule less the discount (to the cent,
    half up). Never more than the full fee: a discount programme does not raise a price."""
    full_fee = Decimal(full_fee).quantize(CENT)
    if tier is None:
        return full_fee
    if tier.flat_fee is not None:
        return min(Decimal(tier.flat_fee).quantize(CENT), full_fee)
    assert tier.discount_percent is not None
    return (full_fee * (100 - Decimal(tier.discount_percent)) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def determination_expires_on(determined_on: date) -> date:
    """A determination is good for 12 months: it no longer applies from this day."""
    return add_months(determined_on, DETERMINATION_VALID_MONTHS)


def determination_current(determined_on: date, expires_on: date, today: date) -> bool:
    return determined_on <= today < expires_on


# --- Payment plans ----------------------------------------------------------------------------------------------

INTERVALS = ("monthly", "biweekly", "weekly")
MAX_INSTALMENTS = 60
MISSED_TO_DEFAULT = 3  # a plan with this many missed instalments is defaulted
REMINDER_LEAD_DAYS = 5  # remind about an instalment due within this many days


def split_instalments(total: Decimal, count: int) -> list[Decimal]:
    """``total`` in ``count`` instalments: equal amounts rounded down to the cent, the remainder on the last.
    No interest is ever added (§10.3)."""
    total = Decimal(total).quantize(CENT)
    if total <= 0:
        raise ValueError("total: more than zero")
    if not 1 <= count <= MAX_INSTALMENTS:
        raise ValueError(f"instalment_count: between 1 and {MAX_INSTALMENTS}")
    if total / count < CENT:
        raise ValueError("instalment_count: more instalments than cents in the balance")
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
    return [base] * (count - 1) + [total - base * (count - 1)]


def instalment_due_dates(first_due_on: date, count: int, interval: str) -> list[date]:
    """Each instalment's due date. Monthly dates keep the first date's day (31st → the month's last day), each
    counted from the first due date so a short month does not drag later ones earlier."""
    if interval not in INTERVALS:
        raise ValueError(f"interval: one of {', '.join(INTERVALS)}")
    if interval == "monthly":
        return [add_months(first_due_on, n) for n in range(count)]
    step = 14 if interval == "biweekly" else 7
    return [first_due_on + timedelta(days=step * n) for n in range(count)]


@dataclass(frozen=True)
class Instalment:
    number: int
    due_on: date
    amount: Decimal
    paid_amount: Decimal = Decimal("0.00")

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.paid_amount


def plan_remaining(instalments: Sequence[Instalment]) -> Decimal:
    return sum((i.open_amount for i in instalments), Decimal("0.00"))


def allocate_payment(instalments: Sequence[Instalment], amount: Decimal) -> list[tuple[int, Decimal]]:
    """Apply a payment to the instalments in order (oldest first): ``[(number, applied)]``.

    Overpayment is refused (ValueError), not carried: money beyond what the plan still owes is not the plan's to
    keep, so the biller records it outside the plan (or refunds it)."""
    amount = Decimal(amount).quantize(CENT)
    if amount <= 0:
        raise ValueError("amount: more than zero")
    remaining = plan_remaining(instalments)
    if amount > remaining:
        raise ValueError(f"amount: more than the {remaining} the plan still owes")
    applied: list[tuple[int, Decimal]] = []
    for inst in sorted(instalments, key=lambda i: i.number):
        if amount <= 0:
            break
        take = min(inst.open_amount, amount)
        if take > 0:
            applied.append((inst.number, take))
            amount -= take
    return applied


def missed(instalments: Sequence[Instalment], today: date) -> list[Instalment]:
    """Instalments past their due date and not fully paid."""
    return [i for i in instalments if i.due_on < today and i.open_amount > 0]


def plan_state(current: str, instalments: Sequence[Instalment], today: date) -> str:
    """The state a plan should be in: completed when fully paid; defaulted after ``MISSED_TO_DEFAULT`` missed
    instalments; a paused or cancelled plan stays as it is (a person paused it: a GFE dispute or an appeal)."""
    if current in ("cancelled",):
        return current
    if plan_remaining(instalments) <= 0:
        return "completed"
    if current == "paused":
        return current
    if len(missed(instalments, today)) >= MISSED_TO_DEFAULT:
        return "defaulted"
    return "active" if current in ("active", "completed") else current


@dataclass(frozen=True)
class Reminder:
    number: int
    kind: str  # "upcoming" or "missed"
    due_on: date


def reminders_due(
    instalments: Sequence[Instalment], today: date, lead_days: int = REMINDER_LEAD_DAYS
) -> list[Reminder]:
    """One reminder per unpaid instalment due within ``lead_days`` (today included), one per missed instalment."""
    out: list[Reminder] = []
    for inst in sorted(instalments, key=lambda i: i.number):
        if inst.open_amount <= 0:
            continue
        if inst.due_on < today:
            out.append(Reminder(inst.number, "missed", inst.due_on))
        elif inst.due_on <= today + timedelta(days=lead_days):
            out.append(Reminder(inst.number, "upcoming", inst.due_on))
    return out


def reminder_key(plan_id: int, number: int, kind: str) -> str:
    """The work item dedupe key: one reminder of each kind per instalment, however often the sweep runs."""
    return f"plan:{plan_id}:instalment:{number}:{kind}"


# --- Good Faith Estimates ---------------------------------------------------------------------------------------

# Paraphrased (CPT descriptors are AMA-copyrighted; billing-rules §1.1 wording).
CPT_DESCRIPTIONS: dict[str, str] = {
    "90791": "Psychiatric diagnostic evaluation (intake)",
    "90792": "Psychiatric diagnostic evaluation with medical services",
    "90832": "Psychotherapy, about 30 minutes",
    "90834": "Psychotherapy, about 45 minutes",
    "90837": "Psychotherapy, about 60 minutes",
    "90839": "Psychotherapy for crisis, first 60 minutes",
    "90840": "Psychotherapy for crisis, each additional 30 minutes",
    "90846": "Family psychotherapy, patient not present",
    "90847": "Family psychotherapy, patient present",
    "90853": "Group psychotherapy",
    "90785": "Interactive complexity (add-on)",
    "96127": "Brief emotional/behavioral assessment, per instrument",
}
MAX_GFE_SESSIONS = 60  # a year of weekly sessions plus room


@dataclass(frozen=True)
class ServiceLine:
    cpt: str
    sessions: int
    unit_fee: Decimal
    units: int = 1


def gfe_lines(services: Sequence[ServiceLine]) -> tuple[list[dict[str, str | int]], Decimal]:
    """The itemized GFE lines (as stored in ``GoodFaithEstimate.lines``, money as strings) and their total."""
    if not services:
        raise ValueError("services: at least one expected service")
    lines: list[dict[str, str | int]] = []
    total = Decimal("0.00")
    for n, s in enumerate(services, start=1):
        if s.cpt not in CPT_DESCRIPTIONS:
            raise ValueError(f"service {n} cpt: {s.cpt} is not in the catalogue")
        if not 1 <= s.sessions <= MAX_GFE_SESSIONS:
            raise ValueError(f"service {n} sessions: between 1 and {MAX_GFE_SESSIONS}")
        if s.unit_fee < 0:
            raise ValueError(f"service {n} unit_fee: zero or more")
        line_total = (Decimal(s.unit_fee) * s.units * s.sessions).quantize(CENT)
        total += line_total
        lines.append({"cpt": s.cpt, "description": CPT_DESCRIPTIONS[s.cpt], "units": s.units,
                      "sessions": s.sessions, "unit_fee": str(Decimal(s.unit_fee).quantize(CENT)),
                      "total": str(line_total)})  # fmt: skip
    return lines, total


def gfe_period_problem(covers_from: date, covers_to: date) -> str | None:
    """One GFE covers at most 12 months of expected sessions (§10.1)."""
    if covers_to < covers_from:
        return "covers_to: on or after covers_from"
    if covers_to >= gfe_new_estimate_needed_from(covers_from):
        return "covers_to: one estimate covers at most 12 months; issue a new one for later sessions"
    return None


GFE_DISCLAIMERS: tuple[str, ...] = (
    "Other services: there may be other items or services we recommend or that you will need as part of your "
    "care. They are not included in this estimate and may be scheduled or requested separately; if so, you may "
    "ask for a Good Faith Estimate for them.",
    "This is only an estimate: it is not a contract and does not require you to obtain the services listed. "
    "Actual items, services or charges may differ from this Good Faith Estimate.",
    "Your right to dispute the bill: if you are billed at least "
    f"${DISPUTE_THRESHOLD:,.0f} more than this Good Faith Estimate for any provider or facility, you may start "
    "the patient-provider dispute resolution process, generally within "
    f"{DISPUTE_WINDOW_DAYS} days of the date on the original bill. Instructions are at www.cms.gov/nosurprises "
    "or by calling 1-800-985-3059. Starting a dispute will not affect the quality of the care you receive, and "
    "the disputed amount will not be sent to collections while the dispute is pending. Keep a copy of this "
    "estimate.",
)


# --- Statements -------------------------------------------------------------------------------------------------

STATEMENT_DUE_DAYS = 30

# How a ledger kind shows on a statement, and in which column.
CHARGE_KINDS = frozenset({"patient_responsibility", "self_pay_charge"})
INSURANCE_KINDS = frozenset({"reversal", "insurance_adjustment"})
PAYMENT_KINDS = frozenset({"patient_payment"})


def statement_column(kind: str, amount: Decimal) -> str:
    """Which statement column a ledger movement belongs in: charges, insurance (payments/adjustments/reversals),
    patient payments, or adjustments (waivers and anything else)."""
    if kind in PAYMENT_KINDS:
        return "payments"
    if kind in INSURANCE_KINDS:
        return "insurance"
    if kind in CHARGE_KINDS and amount >= 0:
        return "charges"
    return "adjustments"


def statement_totals(entries: Sequence[tuple[str, Decimal]], opening: Decimal) -> dict[str, Decimal]:
    """Column sums for a statement period and the closing balance (= opening + every movement)."""
    totals = {"charges": Decimal("0.00"), "insurance": Decimal("0.00"), "payments": Decimal("0.00"),
              "adjustments": Decimal("0.00")}  # fmt: skip
    for kind, amount in entries:
        totals[statement_column(kind, amount)] += Decimal(amount)
    totals["opening"] = Decimal(opening).quantize(CENT)
    totals["balance"] = (totals["opening"] + sum(Decimal(a) for _, a in entries)).quantize(CENT)
    return totals
