"""Pure work-item rules: kinds, states, allowed actions, default queues, SLA due dates and badges."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class WorkKind(StrEnum):
    VERIFY_BENEFITS = "verify_benefits"
    OBTAIN_PREAUTH = "obtain_preauth"
    ENTER_CHARGE = "enter_charge"
    AUDIT = "audit"
    # Planned only when the rendering provider is not enrolled (effective) with the payer on the date of service:
    # the claim is held here until the enrolment becomes effective (credentialing/ releases it).
    AWAIT_ENROLLMENT = "await_enrollment"
    SUBMIT = "submit"
    FOLLOW_UP = "follow_up"
    APPEAL = "appeal"


class ExceptionKind(StrEnum):
    """Items that no chain plans: something that came back (a rejection, a denial, a remittance we cannot
    match) or a watch that fired. Their queue may come from a routing rule (denials: the CARC family)."""

    FIX_REJECTION = "fix_rejection"
    WORK_DENIAL = "work_denial"
    POSTING_EXCEPTION = "posting_exception"
    REAUTHORIZE = "reauthorize"
    # Supervisor and patient-balance work.
    APPROVE_WRITE_OFF = "approve_write_off"
    APPROVE_REFUND = "approve_refund"
    MATCH_DEPOSIT = "match_deposit"
    PAYMENT_REMINDER = "payment_reminder"
    ISSUE_GFE = "issue_gfe"
    # Credentialing: a licence, a payer enrolment's revalidation or a CAQH re-attestation expiring (90/60/30 days).
    RENEW_CREDENTIAL = "renew_credential"
    # Money that did not post as expected (remits/expected.py, remits/plb.py).
    UNDERPAYMENT = "underpayment"
    OVERPAYMENT = "overpayment"
    RECOUPMENT = "recoupment"
    # An upcoming appointment whose eligibility check found a problem (inactive, carve-out, auth, visits used up).
    APPOINTMENT_ELIGIBILITY = "appointment_eligibility"
    # A question to the client practice (issue 20), answered in the client portal; while it waits, the SLA of the
    # item it came from is paused (``SlaPause``) and the time is the practice's.
    PRACTICE_REQUEST = "practice_request"


CHAIN_ORDER: tuple[WorkKind, ...] = tuple(WorkKind)
# Appeals exist only because a denial created one; they are never planned up front.
PLANNED_KINDS: frozenset[WorkKind] = frozenset(CHAIN_ORDER) - {WorkKind.APPEAL}

KIND_LABELS: dict[str, str] = {
    WorkKind.VERIFY_BENEFITS: "Verify benefits",
    WorkKind.OBTAIN_PREAUTH: "Obtain prior auth",
    WorkKind.ENTER_CHARGE: "Enter charge",
    WorkKind.AUDIT: "Audit (scrub)",
    WorkKind.AWAIT_ENROLLMENT: "Await enrolment",
    WorkKind.SUBMIT: "Submit claim",
    WorkKind.FOLLOW_UP: "Follow up",
    WorkKind.APPEAL: "Appeal",
    ExceptionKind.FIX_REJECTION: "Fix rejection",
    ExceptionKind.WORK_DENIAL: "Work denial",
    ExceptionKind.POSTING_EXCEPTION: "Posting exception",
    ExceptionKind.REAUTHORIZE: "Re-authorize",
    ExceptionKind.APPROVE_WRITE_OFF: "Approve write-off",
    ExceptionKind.APPROVE_REFUND: "Approve refund",
    ExceptionKind.MATCH_DEPOSIT: "Match deposit",
    ExceptionKind.PAYMENT_REMINDER: "Payment-plan reminder",
    ExceptionKind.ISSUE_GFE: "Issue Good Faith Estimate",
    ExceptionKind.RENEW_CREDENTIAL: "Renew credential",
    ExceptionKind.UNDERPAYMENT: "Underpayment",
    ExceptionKind.OVERPAYMENT: "Overpayment",
    ExceptionKind.RECOUPMENT: "Recoupment",
    ExceptionKind.APPOINTMENT_ELIGIBILITY: "Fix coverage before the visit",
    ExceptionKind.PRACTICE_REQUEST: "Request to the practice",
}


class ItemState(StrEnum):
    BLOCKED = "blocked"
    READY = "ready"
    IN_PROGRESS = "in_progress"
    SNOOZED = "snoozed"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class Mode(StrEnum):
    AUTOMATED = "automated"
    MANUAL = "manual"


class InteractionKind(StrEnum):
    NOTE = "note"
    CALL = "call"
    STATUS_CHANGE = "status_change"
    ASSIGNMENT = "assignment"
    AUTOMATION = "automation"
    DOCUMENT = "document"
    ESCALATION = "escalation"


class CallOutcome(StrEnum):
    IN_PROCESS = "in_process"
    PAID = "paid"
    DENIED = "denied"
    NEEDS_INFORMATION = "needs_information"
    REPROCESSING = "reprocessing"
    NO_CLAIM_ON_FILE = "no_claim_on_file"
    BENEFITS_CONFIRMED = "benefits_confirmed"
    AUTH_APPROVED = "auth_approved"
    AUTH_PENDING = "auth_pending"
    VOICEMAIL = "voicemail"
    OTHER = "other"


class CompletionOutcome(StrEnum):
    RESOLVED = "resolved"
    NOT_NEEDED = "not_needed"
    HANDED_OFF = "handed_off"


S = ItemState
OPEN_STATES = frozenset({S.BLOCKED, S.READY, S.IN_PROGRESS, S.SNOOZED})
TERMINAL_STATES = frozenset({S.DONE, S.CANCELLED, S.FAILED})
CLAIMABLE_STATES = frozenset({S.READY, S.SNOOZED})  # snoozed ones only once their time has come

# Which states each action may start from. Every service guards its UPDATE with these.
ACTION_FROM: dict[str, frozenset[ItemState]] = {
    "claim": frozenset({S.READY, S.SNOOZED}),
    "start": frozenset({S.READY, S.SNOOZED}),
    "complete": frozenset({S.READY, S.IN_PROGRESS}),
    "snooze": frozenset({S.READY, S.IN_PROGRESS, S.SNOOZED}),
    "escalate": frozenset({S.BLOCKED, S.READY, S.IN_PROGRESS, S.SNOOZED}),
    "reassign": frozenset({S.BLOCKED, S.READY, S.IN_PROGRESS, S.SNOOZED}),
    "cancel": frozenset({S.BLOCKED, S.READY, S.IN_PROGRESS, S.SNOOZED}),
    "fail": frozenset({S.READY, S.IN_PROGRESS}),
    "release": frozenset({S.BLOCKED}),
    "hand_over": frozenset({S.READY, S.IN_PROGRESS}),
    # Automation only: a step that is not due yet waits snoozed; a stale or woken one is made ready again.
    "defer": frozenset({S.READY, S.IN_PROGRESS}),
    "resume": frozenset({S.IN_PROGRESS, S.SNOOZED}),
    # Waiting on someone outside (the practice): the item is blocked on the request and its SLA is paused.
    "pause": frozenset({S.READY, S.IN_PROGRESS, S.SNOOZED}),
}

DEFAULT_QUEUES: dict[str, str] = {
    WorkKind.VERIFY_BENEFITS: "eligibility",
    WorkKind.OBTAIN_PREAUTH: "authorization",
    WorkKind.ENTER_CHARGE: "charge-entry",
    WorkKind.AUDIT: "coding",
    WorkKind.AWAIT_ENROLLMENT: "credentialing",
    WorkKind.SUBMIT: "submission",
    WorkKind.FOLLOW_UP: "follow-up",
    WorkKind.APPEAL: "denials",
    ExceptionKind.FIX_REJECTION: "rejections",
    ExceptionKind.WORK_DENIAL: "denials",
    ExceptionKind.POSTING_EXCEPTION: "posting",
    ExceptionKind.REAUTHORIZE: "authorization",
    ExceptionKind.APPROVE_WRITE_OFF: "write-offs",
    ExceptionKind.APPROVE_REFUND: "write-offs",
    ExceptionKind.MATCH_DEPOSIT: "posting",
    ExceptionKind.PAYMENT_REMINDER: "patient-balances",
    ExceptionKind.ISSUE_GFE: "patient-balances",
    ExceptionKind.RENEW_CREDENTIAL: "credentialing",
    ExceptionKind.UNDERPAYMENT: "underpayments",
    ExceptionKind.OVERPAYMENT: "posting",
    ExceptionKind.RECOUPMENT: "posting",
    ExceptionKind.APPOINTMENT_ELIGIBILITY: "eligibility",
    ExceptionKind.PRACTICE_REQUEST: "practice",
}
# Queues worked outside the billing company (the client practice answers its requests in the portal): Get next never
# hands them out and routing never moves them.
OUTSIDE_QUEUES: frozenset[str] = frozenset({"practice"})

# Business days to finish an item once it is ready (billing-rules.md 6.6 and 9.2 defaults). A follow-up
# is ready once the claim is submitted; the status check is due ~30 days later (9.2: status at 30 days).
DEFAULT_SLA_BUSINESS_DAYS: dict[str, int] = {
    WorkKind.VERIFY_BENEFITS: 2,
    WorkKind.OBTAIN_PREAUTH: 2,
    WorkKind.ENTER_CHARGE: 1,
    WorkKind.AUDIT: 1,
    WorkKind.AWAIT_ENROLLMENT: 5,  # the item's due date is the claim's filing deadline once it waits
    WorkKind.SUBMIT: 1,
    WorkKind.FOLLOW_UP: 20,
    WorkKind.APPEAL: 5,
    ExceptionKind.FIX_REJECTION: 1,  # 6.6: front-end rejections fixed within 1 business day
    ExceptionKind.WORK_DENIAL: 2,  # 6.6: most denial families; routing may set the family's own
    ExceptionKind.POSTING_EXCEPTION: 2,  # 9.2: ERA posting within 24-48 h
    ExceptionKind.REAUTHORIZE: 2,
    ExceptionKind.APPROVE_WRITE_OFF: 2,
    ExceptionKind.APPROVE_REFUND: 2,
    ExceptionKind.MATCH_DEPOSIT: 1,
    ExceptionKind.PAYMENT_REMINDER: 1,
    ExceptionKind.ISSUE_GFE: 1,  # 10.1: the tightest GFE window is 1 business day; explicit due dates win
    ExceptionKind.RENEW_CREDENTIAL: 5,  # explicit due dates (the expiry) win
    ExceptionKind.UNDERPAYMENT: 5,  # 6.6: underpayments are reviewed in a weekly batch
    ExceptionKind.OVERPAYMENT: 2,  # 9.2: posting exceptions within 24-48 h
    ExceptionKind.RECOUPMENT: 2,
    ExceptionKind.APPOINTMENT_ELIGIBILITY: 1,  # explicit due dates (the visit) win
    # The practice's response time (its own SLA, kept on the request, never counted as ours); a practice's
    # ``sla_overrides["practice_request"]`` changes it.
    ExceptionKind.PRACTICE_REQUEST: 2,
}
END_OF_BUSINESS = time(17, 0)
DUE_SOON = timedelta(hours=4)
ESCALATION_PRIORITY_BUMP = 50
MAX_PRIORITY = 1000


@dataclass(frozen=True)
class SlaPolicy:
    """Where an item's due date came from: ``name`` is stored on the item for audit."""

    name: str
    business_days: int


def sla_policy_for(
    kind: str, practice_overrides: Mapping[str, int] | None, *, routed: tuple[str, int] | None = None
) -> SlaPolicy:
    """The practice's override for ``kind`` if it has one, else the routing rule's (``(name, days)``, e.g. a
    denial family's), else the product default."""
    if practice_overrides and kind in practice_overrides:
        days = int(practice_overrides[kind])
        if days < 0:
            raise ValueError(f"SLA override for {kind} must be zero or more business days")
        return SlaPolicy(f"practice:{kind}:{days}bd", days)
    if routed is not None:
        return SlaPolicy(f"{routed[0]}:{routed[1]}bd", routed[1])
    return SlaPolicy(f"default:{kind}:{DEFAULT_SLA_BUSINESS_DAYS[kind]}bd", DEFAULT_SLA_BUSINESS_DAYS[kind])


def add_business_days(start: date, days: int, is_business_day: Callable[[date], bool]) -> date:
    """The ``days``-th business day after ``start`` (``start`` itself when days is 0 and it is one)."""
    day = start
    if days == 0:
        while not is_business_day(day):
            day += timedelta(days=1)
        return day
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_business_day(day):
            counted += 1
    return day


def sla_due_at(
    ready_at: datetime, policy: SlaPolicy, tz: ZoneInfo, is_business_day: Callable[[date], bool]
) -> datetime:
    """Close of business (17:00 in the practice's time zone) on the N-th business day after ready."""
    local_day = ready_at.astimezone(tz).date()
    due_day = add_business_days(local_day, policy.business_days, is_business_day)
    return datetime.combine(due_day, END_OF_BUSINESS, tzinfo=tz).astimezone(ready_at.tzinfo)


def sla_status(due_at: datetime | None, now: datetime, *, state: str | None = None) -> str:
    """One of none / ok / due_soon / breached; finished items have no SLA status."""
    if due_at is None or state in TERMINAL_STATES:
        return "none"
    if now >= due_at:
        return "breached"
    if due_at - now <= DUE_SOON:
        return "due_soon"
    return "ok"


def resumed_due_at(due_before: datetime | None, paused_at: datetime, resumed_at: datetime) -> datetime | None:
    """The due time after a pause: later by exactly the time paused, so the paused time never counts towards a
    breach (an item already overdue when paused stays overdue by as much as it was)."""
    if due_before is None:
        return None
    return due_before + max(resumed_at - paused_at, timedelta(0))


def paused_time(intervals: list[tuple[datetime, datetime | None]], now: datetime) -> timedelta:
    """Total paused time of (started, ended) intervals; an open one counts up to ``now``."""
    total = timedelta(0)
    for started, ended in intervals:
        total += max((ended or now) - started, timedelta(0))
    return total


def paused_label(paused: timedelta, *, waiting_on: str, open_now: bool) -> str:
    """'paused 29.5 h, waiting on practice' (or 'paused 40 min, …'); 'so far' while the pause is still open."""
    minutes = int(paused.total_seconds() // 60)
    hours = f"{paused.total_seconds() / 3600:.1f}".removesuffix(".0") + " h"
    amount = f"{minutes} min" if minutes < 60 else hours
    so_far = " so far" if open_now else ""
    return f"paused {amount}{so_far}, waiting on {waiting_on}"


def countdown(due_at: datetime | None, now: datetime) -> str:
    """A short human countdown: '2d 3h left', '45m left', 'overdue 1d 2h'."""
    if due_at is None:
        return "no deadline"
    delta = due_at - now
    overdue = delta < timedelta(0)
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {mins}m"
    else:
        text = f"{mins}m"
    return f"overdue {text}" if overdue else f"{text} left"


def escalated_priority(priority: int) -> int:
    """An escalated item's new priority: bumped, capped."""
    return min(priority + ESCALATION_PRIORITY_BUMP, MAX_PRIORITY)


# Get next's last money key: how recoverable an item's denial family is (rank 0 first). Denial families belong to
# the denials feature, which supplies the ranking when the app is created (``routing.subscriptions``); until then,
# and for items without a family, every item ranks alike.
_family_ranks: dict[str, int] = {}


def set_family_ranks(ranks: Mapping[str, int]) -> None:
    """Install the denial families' recovery ranks (0 recovers most) that Get next breaks ties with."""
    _family_ranks.clear()
    _family_ranks.update(ranks)


def family_ranks() -> dict[str, int]:
    """The installed family ranks (a copy)."""
    return dict(_family_ranks)


def no_family_rank() -> int:
    """The rank of an item with no denial family: after every family."""
    return max(_family_ranks.values(), default=-1) + 1
