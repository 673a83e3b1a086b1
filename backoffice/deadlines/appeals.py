"""Pure appeal deadlines by payer kind and level (billing-rules.md §5.3, §7.1), and Medicare's remedy choice.

Appeal deadlines are not moved off weekends and holidays unless the payer's data says so
(``weekend_rollover=True``): §5.3 and §7.1 give no extension for appeals (§5.1's rule covers claim filing),
so the system works to the earlier, certain day.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from backoffice.deadlines.rules import Deadline, add_months, finish, payer_kind_of, positive_days
from backoffice.orgs.rules import PayerKind

SECTION_APPEALS = "billing-rules §5.3"
SECTION_LEVELS = "billing-rules §7.1"
MEDICARE_RECEIPT_PRESUMPTION_DAYS = 5  # §5.3: a notice is presumed received 5 days after its date


class AppealLevel(StrEnum):
    # Medicare FFS Part B, in order (§5.3, §7.1)
    REDETERMINATION = "redetermination"
    RECONSIDERATION = "reconsideration"
    ALJ_HEARING = "alj_hearing"
    APPEALS_COUNCIL = "appeals_council"
    FEDERAL_COURT = "federal_court"
    # Commercial (ERISA/ACA group plans) and behavioral-health carve-outs
    PROVIDER_RECONSIDERATION = "provider_reconsideration"  # contract dispute; Medicaid plans too
    INTERNAL_APPEAL = "internal_appeal"
    SECOND_INTERNAL_APPEAL = "second_internal_appeal"
    EXTERNAL_REVIEW = "external_review"
    # Medicaid and Medicaid managed care
    PLAN_APPEAL = "plan_appeal"
    STATE_FAIR_HEARING = "state_fair_hearing"


MEDICARE_LEVELS: tuple[AppealLevel, ...] = (
    AppealLevel.REDETERMINATION,
    AppealLevel.RECONSIDERATION,
    AppealLevel.ALJ_HEARING,
    AppealLevel.APPEALS_COUNCIL,
    AppealLevel.FEDERAL_COURT,
)


@dataclass(frozen=True)
class AppealRule:
    """One level's filing window: ``days`` or ``months`` (None: the payer must supply it), counted from the
    notice date plus ``receipt_days``; ``payer_window_applies`` says whether the payer's own window wins."""

    name: str
    text: str
    days: int | None = None
    months: int | None = None
    receipt_days: int = 0
    payer_window_applies: bool = True


_MEDICARE_RECEIPT = f"receipt presumed {MEDICARE_RECEIPT_PRESUMPTION_DAYS} days after the notice date"


def _medicare(days: int, what: str, cite: str) -> AppealRule:
    return AppealRule(
        name=f"Medicare {what}",
        text=f"Medicare {what}: {days} days from receipt, {_MEDICARE_RECEIPT} ({cite}; {SECTION_APPEALS})",
        days=days,
        receipt_days=MEDICARE_RECEIPT_PRESUMPTION_DAYS,
        payer_window_applies=False,
    )


_PROVIDER_RECONSIDERATION = AppealRule(
    name="Provider reconsideration",
    text=(
        "Provider reconsideration: per contract, commonly 60-365 days; default 60 days from the denial "
        f"({SECTION_APPEALS})"
    ),
    days=60,
)
_COMMERCIAL_RULES: dict[AppealLevel, AppealRule] = {
    AppealLevel.PROVIDER_RECONSIDERATION: _PROVIDER_RECONSIDERATION,
    AppealLevel.INTERNAL_APPEAL: AppealRule(
        name="Group-plan internal appeal",
        text=(
            "Group-plan internal appeal: at least 180 days after receipt of the adverse benefit determination, "
            f"counted from the notice date (29 CFR 2560.503-1; {SECTION_APPEALS})"
        ),
        days=180,
    ),
    AppealLevel.SECOND_INTERNAL_APPEAL: AppealRule(
        name="Second-level internal appeal",
        text=f"Second-level internal appeal: the plan's window ({SECTION_LEVELS} gives no default)",
    ),
    AppealLevel.EXTERNAL_REVIEW: AppealRule(
        name="External review",
        text=(
            "External review: 4 months after the final internal adverse determination "
            f"(ACA §2719, 45 CFR 147.136; {SECTION_APPEALS})"
        ),
        months=4,
        payer_window_applies=False,
    ),
}
APPEAL_RULES: dict[tuple[PayerKind, AppealLevel], AppealRule] = {
    (PayerKind.MEDICARE, AppealLevel.REDETERMINATION): _medicare(120, "redetermination (MAC)", "42 CFR 405.942"),
    (PayerKind.MEDICARE, AppealLevel.RECONSIDERATION): _medicare(180, "reconsideration (QIC)", "42 CFR 405.962"),
    (PayerKind.MEDICARE, AppealLevel.ALJ_HEARING): _medicare(60, "ALJ hearing (OMHA)", "42 CFR 405.1014"),
    (PayerKind.MEDICARE, AppealLevel.APPEALS_COUNCIL): _medicare(60, "Appeals Council review", "42 CFR 405.1102"),
    (PayerKind.MEDICARE, AppealLevel.FEDERAL_COURT): _medicare(60, "federal district court", "42 CFR 405.1136"),
    **{(PayerKind.COMMERCIAL, level): rule for level, rule in _COMMERCIAL_RULES.items()},
    **{(PayerKind.BH_CARVE_OUT, level): rule for level, rule in _COMMERCIAL_RULES.items()},
    (PayerKind.MEDICAID, AppealLevel.PLAN_APPEAL): AppealRule(
        name="Medicaid plan appeal",
        text=f"Medicaid plan appeal: per state contract; default 60 days from the denial ({SECTION_APPEALS})",
        days=60,
    ),
    (PayerKind.MEDICAID, AppealLevel.STATE_FAIR_HEARING): AppealRule(
        name="Medicaid state fair hearing",
        text=(
            "Medicaid state fair hearing: state rule; default 30 days, the shortest the reference cites "
            f"({SECTION_LEVELS})"
        ),
        days=30,
    ),
    (PayerKind.MEDICAID, AppealLevel.PROVIDER_RECONSIDERATION): _PROVIDER_RECONSIDERATION,
}


def levels_for(payer_kind: str) -> tuple[AppealLevel, ...]:
    """The appeal levels this payer kind has, in order."""
    kind = payer_kind_of(payer_kind)
    return tuple(level for level in AppealLevel if (kind, level) in APPEAL_RULES)


def appeal_deadline(
    *,
    payer_kind: str,
    level: str,
    notice_date: date,
    appeal_window_days: int | None,
    weekend_rollover: bool = False,
) -> Deadline:
    """Last day to file an appeal at ``level`` against the notice dated ``notice_date``.

    Medicare windows are fixed by regulation and run from presumed receipt (notice date + 5 days); the
    payer's ``appeal_window_days`` is ignored for them and for external review. Other levels use the payer's
    window, else the reference's default; a level with no default needs the payer's window.
    """
    kind = payer_kind_of(payer_kind)
    try:
        rule = APPEAL_RULES[kind, AppealLevel(level)]
    except (ValueError, KeyError):
        known = ", ".join(levels_for(kind))
        raise ValueError(f"{kind.value} payers have no appeal level '{level}' (known: {known})") from None
    starts = notice_date + timedelta(days=rule.receipt_days)
    text = rule.text
    if rule.payer_window_applies and appeal_window_days is not None:
        days = positive_days(appeal_window_days, "appeal_window_days")
        text = f"{rule.name}: the payer's window of {days} days from the notice date (payer data; {SECTION_APPEALS})"
        nominal = starts + timedelta(days=days)
    elif rule.months is not None:
        nominal = add_months(starts, rule.months)
    elif rule.days is not None:
        nominal = starts + timedelta(days=rule.days)
    else:
        raise ValueError(f"{kind.value} {level}: billing-rules gives no default window; pass appeal_window_days")
    return finish(starts, nominal, text, roll=weekend_rollover, roll_basis="payer setting")


# Medicare amount-in-controversy thresholds by calendar year of the request (§5.3). CMS republishes them each
# year; a year missing here is an error so nobody files against a stale figure.
AMOUNT_IN_CONTROVERSY: dict[AppealLevel, dict[int, Decimal]] = {
    AppealLevel.ALJ_HEARING: {
        2022: Decimal("180"),
        2023: Decimal("180"),
        2024: Decimal("180"),
        2025: Decimal("190"),
        2026: Decimal("200"),
    },
    AppealLevel.FEDERAL_COURT: {2024: Decimal("1840"), 2025: Decimal("1900"), 2026: Decimal("1960")},
}


def amount_in_controversy_threshold(level: str, year: int) -> Decimal:
    """The Medicare minimum in dispute for ``level`` in ``year``; 0 for levels without one."""
    appeal_level = AppealLevel(level)
    if appeal_level not in MEDICARE_LEVELS:
        raise ValueError(f"{level!r} is not a Medicare appeal level")
    by_year = AMOUNT_IN_CONTROVERSY.get(appeal_level)
    if by_year is None:
        return Decimal("0")
    if year not in by_year:
        raise ValueError(f"no {level} amount-in-controversy figure for {year}; add the Federal Register value")
    return by_year[year]


def meets_amount_in_controversy(level: str, amount: Decimal, year: int) -> bool:
    """Whether ``amount`` in dispute is at least the level's threshold for ``year`` (§5.3)."""
    return amount >= amount_in_controversy_threshold(level, year)


# Decision times (§5.3), in calendar days from the adjudicator's receipt of the request.
MEDICARE_DECISION_DAYS: dict[AppealLevel, int] = {
    AppealLevel.REDETERMINATION: 60,
    AppealLevel.RECONSIDERATION: 60,
    AppealLevel.ALJ_HEARING: 90,
    AppealLevel.APPEALS_COUNCIL: 90,
}
POST_SERVICE_DECISION_DAYS = 60  # one-level plan; 30 per level when the plan has two
POST_SERVICE_DECISION_DAYS_PER_LEVEL_OF_TWO = 30
EXTERNAL_REVIEW_DECISION_DAYS = 45  # standard review, after the IRO receives the request


def appeal_decision_due(
    *, payer_kind: str, level: str, request_received_on: date, two_level_plan: bool = False
) -> Deadline | None:
    """When the payer or reviewer owes a decision on a post-service appeal; None where §5.3 gives no time."""
    kind = payer_kind_of(payer_kind)
    appeal_level = AppealLevel(level)
    if kind is PayerKind.MEDICARE and appeal_level in MEDICARE_DECISION_DAYS:
        days = MEDICARE_DECISION_DAYS[appeal_level]
        text = f"Medicare {appeal_level.value}: decision within {days} days ({SECTION_APPEALS})"
    elif kind in (PayerKind.COMMERCIAL, PayerKind.BH_CARVE_OUT) and appeal_level is AppealLevel.INTERNAL_APPEAL:
        days = POST_SERVICE_DECISION_DAYS_PER_LEVEL_OF_TWO if two_level_plan else POST_SERVICE_DECISION_DAYS
        text = f"Group-plan post-service appeal: decision within {days} days ({SECTION_APPEALS})"
    elif kind in (PayerKind.COMMERCIAL, PayerKind.BH_CARVE_OUT) and appeal_level is AppealLevel.SECOND_INTERNAL_APPEAL:
        days = POST_SERVICE_DECISION_DAYS_PER_LEVEL_OF_TWO
        text = f"Group-plan second-level post-service appeal: decision within {days} days ({SECTION_APPEALS})"
    elif kind in (PayerKind.COMMERCIAL, PayerKind.BH_CARVE_OUT) and appeal_level is AppealLevel.EXTERNAL_REVIEW:
        days = EXTERNAL_REVIEW_DECISION_DAYS
        text = f"External review (standard): decision within {days} days of the IRO's receipt ({SECTION_APPEALS})"
    else:
        return None
    due = request_received_on + timedelta(days=days)
    return Deadline(due=due, nominal=due, starts=request_received_on, basis=text)


# --- which Medicare remedy fits a denial (§5.1, §5.2, §7.1) ---


class MedicareRemedy(StrEnum):
    NONE = "none"  # timely-filing denial: not an initial determination, no appeal rights
    NEW_CLAIM = "new_claim"  # rejected as unprocessable: correct and resubmit as a new claim
    REOPENING = "reopening"  # clerical error
    REDETERMINATION = "redetermination"


@dataclass(frozen=True)
class Remedy:
    """What to do about a Medicare denial, and the rule that says so."""

    route: MedicareRemedy
    basis: str


def medicare_remedy(*, group_code: str, carc: str, rarcs: Collection[str] = (), clerical_error: bool = False) -> Remedy:
    """The Medicare route for a denied line: none (CO-29), new claim (CO-16 + MA130), reopening, or appeal."""
    codes = {code.strip().upper() for code in rarcs}
    if (group_code.strip().upper(), carc.strip()) == ("CO", "29"):
        return Remedy(
            MedicareRemedy.NONE,
            "Medicare: a timely-filing denial (CO-29) is not an initial determination and has no appeal rights "
            "(42 CFR 424.44; billing-rules §5.1)",
        )
    if carc.strip() == "16" and "MA130" in codes:
        return Remedy(
            MedicareRemedy.NEW_CLAIM,
            "Medicare: an unprocessable claim (CO-16 + MA130) was never filed; correct it and submit a new claim "
            "within timely filing (billing-rules §5.1, §5.2)",
        )
    if clerical_error:
        return Remedy(
            MedicareRemedy.REOPENING,
            "Medicare: clerical errors are fixed by reopening, not redetermination "
            "(42 CFR 405.980; billing-rules §5.2)",
        )
    return Remedy(
        MedicareRemedy.REDETERMINATION,
        f"Medicare: appeal by redetermination at the MAC ({SECTION_APPEALS}, {SECTION_LEVELS})",
    )
