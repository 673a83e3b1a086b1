"""Pure chain planning: which steps a new session needs, which run by themselves, its priority, and why.

The practice's contract (``owned_steps``) says which steps are ours; the payer and what we already know
(a fresh benefits check, an authorization with units left) say which of those are needed. Self-pay
sessions get no insurance chain: only the charge is entered (when we own charge entry), so the patient
can be billed; there is nothing to verify, authorize, submit or follow up with an insurer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backoffice.work.rules import CHAIN_ORDER, PLANNED_KINDS, WorkKind

FRESH_BENEFITS_DAYS = 30  # a benefits record this recent skips verify_benefits (override: "benefits_fresh_days")
FRESH_BENEFITS_OVERRIDE = "benefits_fresh_days"
SELF_PAY = "self_pay"
AUTOMATED_KINDS: frozenset[str] = frozenset(
    {WorkKind.VERIFY_BENEFITS, WorkKind.ENTER_CHARGE, WorkKind.AUDIT, WorkKind.SUBMIT, WorkKind.FOLLOW_UP}
)
# Days left to the payer's filing deadline -> priority (most urgent first). Stays below the escalation
# bump for all but the last week, so only sessions about to miss filing go to the high RQ queue.
FILING_PRIORITY: tuple[tuple[int, int], ...] = ((7, 60), (14, 30), (30, 10))


@dataclass(frozen=True)
class AuthFacts:
    """An authorization on file for the patient and the session's payer (``ref`` is its id, not its number)."""

    ref: str
    cpts: frozenset[str]
    remaining: int
    start: date
    end: date


@dataclass(frozen=True)
class BenefitsFacts:
    """The latest benefits record for the patient and payer."""

    checked_at: datetime
    active: bool | None
    auth_required: bool | None = None


@dataclass(frozen=True)
class AppointmentCheck:
    """The appointment this session is the visit of, whose eligibility ran before the visit and found nothing to
    fix (appointments/): its benefits check stands for the session's."""

    appointment_ref: str
    checked_at: datetime


@dataclass(frozen=True)
class PlanningFacts:
    """Everything the planner needs about one session; ``payer_*`` are None when no coverage is in force."""

    session_id: int
    date_of_service: date
    owned_steps: frozenset[str]
    cpts: tuple[str, ...] = ()
    coding_errors: tuple[str, ...] = ()
    payer_code: str | None = None
    payer_kind: str | None = None
    prior_auth_cpts: frozenset[str] = frozenset()
    filing_limit_days: int | None = None
    authorizations: tuple[AuthFacts, ...] = ()
    benefits: BenefitsFacts | None = None
    overrides: Mapping[str, object] | None = None
    # Why the rendering provider may not bill this payer yet (credentialing.rules.hold_reason), or None.
    enrollment_hold: str | None = None
    appointment: AppointmentCheck | None = None


@dataclass(frozen=True)
class Step:
    """One chain step: planned or not, automated or manual, and the reason a biller can read."""

    kind: str
    automated: bool
    reason: str


@dataclass(frozen=True)
class Plan:
    """A session's chain in order (each step depends on the one before) and the steps left out, with reasons."""

    session_id: int
    steps: tuple[Step, ...]
    skipped: tuple[Step, ...]
    priority: int

    @property
    def kinds(self) -> list[str]:
        return [step.kind for step in self.steps]


def fresh_days(overrides: Mapping[str, object] | None) -> int:
    """How many days a benefits record stays fresh for this practice (default 30)."""
    value = (overrides or {}).get(FRESH_BENEFITS_OVERRIDE, FRESH_BENEFITS_DAYS)
    days = int(value)  # type: ignore[call-overload]
    if days < 0:
        raise ValueError(f"{FRESH_BENEFITS_OVERRIDE} must be zero or more days")
    return days


def filing_priority(date_of_service: date, filing_limit_days: int | None, today: date) -> int:
    """Priority from the days left to the filing deadline (0 when far away or unknown)."""
    if filing_limit_days is None:
        return 0
    left = (date_of_service + timedelta(days=filing_limit_days) - today).days
    return next((priority for days, priority in FILING_PRIORITY if left <= days), 0)


def _benefits_step(facts: PlanningFacts, now: datetime) -> tuple[bool, bool, str]:
    """(needed, automated, reason) for verify_benefits."""
    if facts.payer_kind is None:
        return True, False, "no coverage in force on the date of service: confirm insurance with the practice"
    if facts.appointment is not None:
        when = f"{facts.appointment.checked_at:%Y-%m-%d}"
        return (
            False,
            True,
            f"skipped: eligibility checked {when} before the visit (appointment {facts.appointment.appointment_ref})",
        )
    check, days = facts.benefits, fresh_days(facts.overrides)
    if check is None:
        return True, True, "no benefits record on file"
    checked = f"{check.checked_at:%Y-%m-%d}"
    if check.active is False:
        return True, False, f"last benefits check ({checked}) said coverage inactive: a person must confirm"
    if now - check.checked_at > timedelta(days=days):
        return True, True, f"benefits last checked {checked}, older than {days} days"
    if check.active is None:
        return True, True, f"benefits check of {checked} did not confirm active coverage"
    return False, True, f"skipped: benefits checked {checked} (fresh for {days} days)"


def _preauth_step(facts: PlanningFacts) -> tuple[bool, str]:
    """(needed, reason) for obtain_preauth: the payer requires it for a CPT no authorization still covers."""
    required = sorted(set(facts.cpts) & facts.prior_auth_cpts)
    if facts.benefits is not None and facts.benefits.auth_required:
        required = sorted(set(required) | set(facts.cpts[:1]))
    if not required:
        coded = ", ".join(facts.cpts) or "no billable CPT"
        return False, f"skipped: {facts.payer_code} requires no prior auth for {coded}"
    missing, covered = [], []
    for cpt in required:
        auth = next(
            (
                a
                for a in facts.authorizations
                if cpt in a.cpts and a.start <= facts.date_of_service <= a.end and a.remaining > 0
            ),
            None,
        )
        (covered if auth else missing).append(
            f"{cpt} (authorization {auth.ref}, {auth.remaining} left)" if auth else cpt
        )
    if missing:
        return True, f"{facts.payer_code} requires auth for {', '.join(missing)} and no authorization has units left"
    return False, f"skipped: authorized: {', '.join(covered)}"


def plan_for(facts: PlanningFacts, *, now: datetime) -> Plan:
    """Decide one session's chain from the practice's contract, the payer's rules and what is on file."""
    owned = {kind for kind in facts.owned_steps if kind in PLANNED_KINDS}
    if WorkKind.SUBMIT in owned:  # holding a claim for enrolment is part of submitting it
        owned.add(WorkKind.AWAIT_ENROLLMENT)
    self_pay = facts.payer_kind == SELF_PAY
    decided: dict[str, tuple[bool, bool, str]] = {}
    if self_pay:
        for kind in CHAIN_ORDER:
            if kind not in (WorkKind.ENTER_CHARGE, WorkKind.AWAIT_ENROLLMENT) and kind in PLANNED_KINDS:
                decided[kind] = (False, True, "skipped: self-pay session, no insurer to bill")
        decided[WorkKind.ENTER_CHARGE] = (True, True, "self-pay: charge entered for patient billing")
    else:
        decided[WorkKind.VERIFY_BENEFITS] = _benefits_step(facts, now)
        if facts.payer_kind is None:
            decided[WorkKind.OBTAIN_PREAUTH] = (False, False, "skipped: no payer to ask until coverage is known")
        else:
            needed, reason = _preauth_step(facts)
            decided[WorkKind.OBTAIN_PREAUTH] = (needed, False, reason)
        if facts.coding_errors:
            errors = ", ".join(facts.coding_errors)
            decided[WorkKind.ENTER_CHARGE] = (True, False, f"coding needs a person: {errors}")
        else:
            decided[WorkKind.ENTER_CHARGE] = (True, True, "code the session and enter the charge")
        decided[WorkKind.AUDIT] = (True, True, "scrub the claim before it goes out")
        if facts.enrollment_hold is not None and facts.payer_kind is not None:
            decided[WorkKind.AWAIT_ENROLLMENT] = (True, True, facts.enrollment_hold)
        decided[WorkKind.SUBMIT] = (True, True, "send the 837P")
        decided[WorkKind.FOLLOW_UP] = (True, True, "check claim status once a response is overdue")
    steps: list[Step] = []
    skipped: list[Step] = []
    for kind in CHAIN_ORDER:
        if kind not in decided:
            continue
        needed, automated, reason = decided[kind]
        if needed and kind not in owned:
            skipped.append(Step(kind, False, f"not planned: the practice does this step itself ({reason})"))
        elif needed:
            steps.append(Step(kind, automated, reason))
        else:
            skipped.append(Step(kind, automated, reason))
    priority = 0 if self_pay else filing_priority(facts.date_of_service, facts.filing_limit_days, now.date())
    return Plan(facts.session_id, tuple(steps), tuple(skipped), priority)
