"""Scheduled sweeps (issue #5): SLA breaches, claim follow-ups, the timely-filing guard, the authorization watch,
the nightly KPI snapshot and the job requeue. Each one takes ``now``, owns its commit, returns counts (no PHI)
and is idempotent: a second run with the same ``now`` changes nothing."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from backoffice.authorizations.models import AuthorizationUse
from backoffice.automation.runner import enqueue_item_job, job_item_ids
from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.deadlines.follow_up import acknowledgment_due, escalation_due
from backoffice.deadlines.rules import FILING_ALERT_DAYS, alert_threshold, days_left, timely_filing_deadline
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Authorization, Coverage, Patient
from backoffice.remits.models import ClaimPayment
from backoffice.services_base import service
from backoffice.sessions.models import Session
from backoffice.sweeps import rules as sweep_rules
from backoffice.tasks import QUEUE_NAMES, get_queue, get_redis
from backoffice.work import kpis, rules
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction, KpiSnapshot, WorkItem
from backoffice.work.rules import OPEN_STATES, ExceptionKind, InteractionKind, ItemState, Mode, WorkKind

BATCH = 500
OPEN = [state.value for state in OPEN_STATES]
FOLLOW_UP_STATUSES = [ClaimStatus.SUBMITTED.value, ClaimStatus.ACCEPTED.value]
# A session is billed once one of its claims reached the payer; draft/scrubbed/rejected ones were never filed.
BILLED_STATUSES = [
    s.value for s in ClaimStatus if s not in (ClaimStatus.DRAFT, ClaimStatus.SCRUBBED, ClaimStatus.REJECTED)
]
AR_STATUSES = [s.value for s in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.PARTIALLY_PAID,
                                 ClaimStatus.DENIED, ClaimStatus.APPEALED, ClaimStatus.PAID)]  # fmt: skip
KPI_WINDOW_DAYS = 30


def _chunks(values: Sequence[Any], size: int = BATCH) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _local_day(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def _day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants where a local day starts and the next one starts."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def _close_of_business(day: date, tz: str) -> datetime:
    return datetime.combine(day, rules.END_OF_BUSINESS, tzinfo=ZoneInfo(tz))


def _bumped_priority() -> ColumnElement[int]:
    """``rules.escalated_priority`` as SQL, for bulk updates."""
    bumped = WorkItem.priority + rules.ESCALATION_PRIORITY_BUMP
    return case((bumped > rules.MAX_PRIORITY, rules.MAX_PRIORITY), else_=bumped)


def _log_rows(rows: list[dict[str, Any]]) -> None:
    if rows:
        db.session.execute(insert(Interaction), rows)


def _log_row(row: Any, kind: InteractionKind, now: datetime, body: str, label: str, data: dict[str, Any]) -> dict:
    """An interaction row for a bulk insert; ``row`` has the item's id, practice_id, session_id and claim_id."""
    return {
        "practice_id": row.practice_id, "work_item_id": row.id, "session_id": row.session_id,
        "claim_id": row.claim_id, "actor_user_id": None, "actor_label": label, "kind": kind, "at": now,
        "body": body, "data": data,
    }  # fmt: skip


# --- 1. SLA sweep ---


@service
def sweep_sla(*, now: datetime) -> dict[str, Any]:
    """Escalate open items past their due time that are not escalated yet: priority bumped, one log row each."""
    rows = db.session.execute(
        select(
            WorkItem.id,
            WorkItem.practice_id,
            WorkItem.due_at,
            WorkItem.session_id,
            WorkItem.claim_id,
            Practice.timezone,
        )  # fmt: skip
        .join(Practice, Practice.id == WorkItem.practice_id)
        .where(WorkItem.state.in_(OPEN), WorkItem.due_at < now, WorkItem.escalated_at.is_(None))
        .order_by(WorkItem.id)
    ).all()
    by_practice: Counter[int] = Counter()
    for batch in _chunks(rows):
        won = set(
            db.session.scalars(
                update(WorkItem)
                .where(
                    WorkItem.id.in_([r.id for r in batch]), WorkItem.escalated_at.is_(None), WorkItem.state.in_(OPEN)
                )  # fmt: skip
                .values(escalated_at=now, auto_escalated=True, priority=_bumped_priority(), updated_at=now)
                .returning(WorkItem.id)
                .execution_options(synchronize_session=False)
            )
        )
        _log_rows([
            _log_row(r, InteractionKind.ESCALATION, now, sweep_rules.sla_breach_note(r.due_at, ZoneInfo(r.timezone)),
                     "sla-sweep", {"due_at": r.due_at.isoformat()})
            for r in batch if r.id in won
        ])  # fmt: skip
        by_practice.update(r.practice_id for r in batch if r.id in won)
    db.session.commit()
    return {"escalated": sum(by_practice.values()), "by_practice": dict(by_practice)}


# --- 2. follow-ups on unpaid claims ---


def _check_number(item: WorkItem, claim_id: int) -> int:
    prefix = f"claim:{claim_id}:follow_up:"
    if item.dedupe_key and item.dedupe_key.startswith(prefix):
        return int(item.dedupe_key.removeprefix(prefix))
    return int((item.result or {}).get("follow_up_check", 0))


def _is_placeholder(item: WorkItem, claim_id: int) -> bool:
    """The chain's follow-up step, not yet used as a check and not taken by anyone: it becomes the request."""
    return (
        (item.dedupe_key or "").startswith("session:")
        and _check_number(item, claim_id) == 0
        and (item.state == ItemState.BLOCKED or (item.state == ItemState.READY and item.assignee_id is None))
    )


def _follow_up_items(claims: Sequence[Any]) -> dict[int, list[WorkItem]]:
    claim_ids = [c.id for c in claims]
    by_session: dict[int, int] = {}
    for claim in claims:  # the chain's item goes with the session's first claim (the primary, not a secondary)
        if claim.session_id is not None:
            by_session.setdefault(claim.session_id, claim.id)
    items = db.session.scalars(
        select(WorkItem).where(
            WorkItem.kind == WorkKind.FOLLOW_UP,
            or_(WorkItem.claim_id.in_(claim_ids),
                and_(WorkItem.claim_id.is_(None), WorkItem.session_id.in_(list(by_session)))),
        ).order_by(WorkItem.id)
    )  # fmt: skip
    found: dict[int, list[WorkItem]] = defaultdict(list)
    for item in items:
        owner = item.claim_id if item.claim_id in claim_ids else by_session.get(item.session_id)
        if owner is not None:
            found[owner].append(item)
    return found


def _use_placeholder(item: WorkItem, claim: Any, check: int, reason: str, now: datetime) -> None:
    before = item.state
    item.state, item.mode, item.claim_id, item.updated_at = ItemState.READY, Mode.AUTOMATED, claim.id, now
    item.result = {**(item.result or {}), "follow_up_check": check}
    if item.due_at is None:
        policy = rules.sla_policy_for(item.kind, item.practice.sla_overrides)
        item.due_at = rules.sla_due_at(now, policy, ZoneInfo(claim.timezone), is_business_day)
        item.sla_policy = policy.name
    record_interaction(practice_id=item.practice_id, actor=None, actor_label="follow-up-sweep",
                       kind=InteractionKind.STATUS_CHANGE, now=now, item=item, from_state=before.value,
                       to_state=ItemState.READY.value, body=f"Follow up: {reason}")  # fmt: skip
    db.session.flush()
    enqueue_item_job(item.id, organization_id=item.practice.organization_id, priority=item.priority)


@service
def generate_follow_ups(*, now: datetime) -> dict[str, int]:
    """Claims with no 835 after the payer's response window get a status request (automated 276), then a call
    item per later check; no acknowledgment after 2 business days is its own item; 60 days unpaid escalates."""
    paid = select(ClaimPayment.id).where(ClaimPayment.claim_id == Claim.id).exists()
    no_answer = and_(
        Claim.status == ClaimStatus.SUBMITTED, Claim.accepted_at.is_(None), Claim.status_category.is_(None)
    )
    claims = db.session.execute(
        select(Claim.id, Claim.practice_id, Claim.session_id, Claim.account_number, Claim.status, Claim.submitted_at,
               Claim.accepted_at, Claim.status_category, Payer.kind.label("payer_kind"), Practice.timezone)
        .join(Payer, Payer.id == Claim.payer_id).join(Practice, Practice.id == Claim.practice_id)
        .where(Claim.status.in_(FOLLOW_UP_STATUSES), Claim.submitted_at.is_not(None), ~paid,
               or_(Claim.submitted_at <= now - timedelta(days=28),
                   and_(no_answer, Claim.submitted_at <= now - timedelta(days=2))))
        .order_by(Claim.id)
    ).all()  # fmt: skip
    counts = Counter({"acknowledgments_missing": 0, "status_requests": 0, "calls": 0, "escalated": 0})
    for batch in _chunks(claims):
        items = _follow_up_items(batch)
        for claim in batch:
            _follow_up_claim(claim, items[claim.id], now, counts)
        db.session.commit()  # per batch: bounded memory, and every batch is idempotent on its own
    return dict(counts)


def _follow_up_claim(claim: Any, items: list[WorkItem], now: datetime, counts: Counter[str]) -> None:
    today = _local_day(now, claim.timezone)
    submitted_on = _local_day(claim.submitted_at, claim.timezone)
    common = {"practice_id": claim.practice_id, "kind": WorkKind.FOLLOW_UP, "now": now, "claim_id": claim.id,
              "session_id": claim.session_id, "source": "follow-up-sweep"}  # fmt: skip
    ack_due = acknowledgment_due(submitted_on)
    if sweep_rules.acknowledgment_missing(
        status=claim.status,
        accepted_at=claim.accepted_at,
        status_category=claim.status_category,
        ack_due=ack_due,
        today=today,
    ):
        reason = (f"no 999/277CA acknowledgment for claim {claim.account_number} by {ack_due.isoformat()} "
                  f"(submitted {submitted_on.isoformat()}): check the clearinghouse")  # fmt: skip
        item, created = add_item(**common, reason=reason, dedupe_key=f"claim:{claim.id}:ack")
        counts["acknowledgments_missing"] += created
        items = [*items, item] if created else items
    checks = [i for i in items if not (i.dedupe_key or "").endswith(":ack")]
    due = sweep_rules.checks_due(submitted_on, today, payer_kind=claim.payer_kind)
    made = max((_check_number(i, claim.id) for i in checks), default=0)
    placeholder = next((i for i in checks if _is_placeholder(i, claim.id)), None)
    busy = any(i.state in OPEN_STATES and i is not placeholder for i in checks)
    action = sweep_rules.follow_up_action(checks_due=due, checks_made=made, has_open_item=busy)
    waited = (today - submitted_on).days
    if action is sweep_rules.FollowUpAction.STATUS_REQUEST:
        reason = f"claim status request (276) for claim {claim.account_number}: no 835 {waited} days after submission"
        if placeholder is not None:
            _use_placeholder(placeholder, claim, due, reason, now)
        else:
            item, _ = add_item(**common, reason=reason, mode=Mode.AUTOMATED,
                               dedupe_key=f"claim:{claim.id}:follow_up:{due}", evidence={"check": due})  # fmt: skip
            checks.append(item)
        counts["status_requests"] += 1
    elif action is sweep_rules.FollowUpAction.CALL_PAYER:
        reason = (f"call the payer about claim {claim.account_number}: no 835 {waited} days after submission; "
                  "the status request did not resolve it")  # fmt: skip
        item, _ = add_item(**common, reason=reason, dedupe_key=f"claim:{claim.id}:follow_up:{due}",
                           evidence={"check": due})  # fmt: skip
        checks.append(item)
        counts["calls"] += 1
    if today >= escalation_due(submitted_on):
        for item in checks:
            if item.state in OPEN_STATES and item.escalated_at is None:
                item.escalated_at, item.priority = now, rules.escalated_priority(item.priority)
                item.auto_escalated = True
                item.updated_at = now
                record_interaction(practice_id=item.practice_id, actor=None, actor_label="follow-up-sweep",
                                   kind=InteractionKind.ESCALATION, now=now, item=item,
                                   body=f"Unpaid {waited} days after submission on {submitted_on.isoformat()}",
                                   data={"priority": item.priority})  # fmt: skip
                counts["escalated"] += 1


# --- 3. timely-filing guard ---


def _session_payer() -> ColumnElement[int | None]:
    """The payer a session is billed to: its primary claim's, else the primary coverage in force that day."""
    claim_payer = (
        select(Claim.payer_id).where(Claim.session_id == Session.id, Claim.payer_sequence == "P")
        .order_by(Claim.id.desc()).limit(1).scalar_subquery()
    )  # fmt: skip
    coverage_payer = (
        select(Coverage.payer_id)
        .where(Coverage.patient_id == Session.patient_id, Coverage.priority == "primary",
               Coverage.effective_from <= Session.date_of_service,
               or_(Coverage.effective_to.is_(None), Coverage.effective_to >= Session.date_of_service))
        .order_by(Coverage.id).limit(1).scalar_subquery()
    )  # fmt: skip
    return func.coalesce(claim_payer, coverage_payer)


@service
def guard_timely_filing(*, now: datetime) -> dict[str, int]:
    """Open items of unbilled or rejected charges within the filing alert thresholds jump to the top (priority
    ``MAX_PRIORITY - days left``); one log row per threshold crossed (60/30/14/7 days)."""
    billed = select(Claim.id).where(Claim.session_id == Session.id, Claim.status.in_(BILLED_STATUSES)).exists()
    payer_of = _session_payer()
    today = now.date()  # the day window only narrows the search; each session is judged on its practice's day
    widest, grace = max(FILING_ALERT_DAYS), sweep_rules.FILING_PASSED_GRACE_DAYS
    deadlines: dict[int, tuple[date, int, int]] = {}  # session id -> (deadline, days left, threshold)
    for payer in db.session.scalars(select(Payer).order_by(Payer.id)):
        shortest, longest = (365, 366) if payer.kind == "medicare" else (payer.filing_limit_days,) * 2
        rows = db.session.execute(
            select(Session.id, Session.date_of_service, Practice.timezone)
            .join(Practice, Practice.id == Session.practice_id)
            .where(Session.date_of_service <= today + timedelta(days=widest + 1 - shortest),
                   Session.date_of_service >= today - timedelta(days=grace + longest + 5),
                   payer_of == payer.id, ~billed)
        ).all()  # fmt: skip
        for row in rows:
            local = _local_day(now, row.timezone)
            due = timely_filing_deadline(row.date_of_service, payer_kind=payer.kind,
                                         filing_limit_days=payer.filing_limit_days).due  # fmt: skip
            left, threshold = days_left(due, local), alert_threshold(due, local)
            if threshold is not None and left >= -grace:
                deadlines[row.id] = (due, left, threshold)
    counts = Counter({"sessions_near_deadline": len(deadlines), "items_raised": 0, "alerts_logged": 0,
                      "sessions_without_open_items": 0})  # fmt: skip
    for batch in _chunks(list(deadlines)):
        claim_session = dict(
            db.session.execute(select(Claim.id, Claim.session_id).where(Claim.session_id.in_(batch))).all()
        )
        items = db.session.scalars(
            select(WorkItem).where(WorkItem.state.in_(OPEN),
                                   or_(WorkItem.session_id.in_(batch), WorkItem.claim_id.in_(list(claim_session))))
            .order_by(WorkItem.id)
        ).all()  # fmt: skip
        covered = set()
        for item in items:
            session_id = item.session_id if item.session_id in deadlines else claim_session.get(item.claim_id)
            if session_id not in deadlines:
                continue
            covered.add(session_id)
            due, left, threshold = deadlines[session_id]
            priority = max(item.priority, sweep_rules.filing_priority(left))
            if priority != item.priority:
                item.priority, item.updated_at = priority, now
                counts["items_raised"] += 1
            previous = (item.result or {}).get("filing_alert")
            if sweep_rules.filing_alert_is_new(threshold, previous):
                item.result = {**(item.result or {}), "filing_alert": threshold, "filing_deadline": due.isoformat()}
                record_interaction(practice_id=item.practice_id, actor=None, actor_label="filing-guard",
                                   kind=InteractionKind.AUTOMATION, now=now, item=item,
                                   body=sweep_rules.filing_note(left, due),
                                   data={"threshold": threshold, "deadline": due.isoformat()})  # fmt: skip
                counts["alerts_logged"] += 1
        counts["sessions_without_open_items"] += len(set(batch) - covered)
    db.session.commit()
    return dict(counts)


# --- 4. authorization watch ---


@service
def watch_authorizations(*, now: datetime, lead_days: int = sweep_rules.REAUTH_LEAD_DAYS) -> dict[str, int]:
    """Authorizations that end, or are forecast to run out, within the lead time get a re-authorize item."""
    today = now.date()
    auths = db.session.execute(
        select(Authorization, Patient.practice_id, Practice.timezone)
        .join(Patient, Patient.id == Authorization.patient_id).join(Practice, Practice.id == Patient.practice_id)
        .where(Authorization.end_date >= today - timedelta(days=1),
               Authorization.start_date <= today + timedelta(days=lead_days + 1))
        .order_by(Authorization.id)
    ).all()  # fmt: skip
    counts = Counter({"authorizations_due": 0, "items_created": 0})
    for batch in _chunks(auths):
        sessions: dict[int, list[tuple[date, str | None, bool]]] = defaultdict(list)
        billed = select(Claim.id).where(Claim.session_id == Session.id).exists()
        for patient_id, day, number, has_claim in db.session.execute(
            select(Session.patient_id, Session.date_of_service, Session.auth_number, billed).where(
                Session.patient_id.in_({row.Authorization.patient_id for row in batch}),
                Session.date_of_service >= today - timedelta(days=sweep_rules.USAGE_WINDOW_DAYS + 1)),
        ):  # fmt: skip
            sessions[patient_id].append((day, number, bool(has_claim)))
        last_billed = dict(db.session.execute(
            select(AuthorizationUse.authorization_id, func.max(AuthorizationUse.date_of_service))
            .where(AuthorizationUse.authorization_id.in_([row.Authorization.id for row in batch]),
                   AuthorizationUse.released_at.is_(None))
            .group_by(AuthorizationUse.authorization_id)).all())  # fmt: skip
        patients = {row.Authorization.patient_id for row in batch}
        others: dict[tuple[int, int], list[Authorization]] = defaultdict(list)
        for other in db.session.scalars(
            select(Authorization).where(Authorization.patient_id.in_(patients), Authorization.end_date > today)
        ):
            others[(other.patient_id, other.payer_id)].append(other)
        for auth, practice_id, tz in batch:
            local = _local_day(now, tz)
            if auth.end_date < local:
                continue
            mine = [(d, has_claim) for d, number, has_claim in sessions[auth.patient_id]
                    if auth.start_date <= d <= auth.end_date and number in (None, auth.number)]  # fmt: skip
            days = [d for d, _ in mine]
            # Sessions held since the last one billed against it and not billed yet will take a visit each too.
            since = last_billed.get(auth.id)
            held = sum(1 for d, has_claim in mine if since is not None and since < d < local and not has_claim)
            forecast = sweep_rules.authorization_forecast(
                end_date=auth.end_date, remaining=auth.remaining - held,
                past_session_days=[d for d in days if d < local],
                upcoming_days=[d for d in days if d >= local], today=local, lead_days=lead_days)  # fmt: skip
            successors = [(o.start_date, o.end_date, o.cpt_codes) for o in others[(auth.patient_id, auth.payer_id)]
                          if o.id != auth.id]  # fmt: skip
            if forecast is None or sweep_rules.reauthorized(forecast, auth.cpt_codes, successors):
                continue
            counts["authorizations_due"] += 1
            due_day = sweep_rules.reauth_due_day(forecast.on, local, lead_days)
            _, created = add_item(
                practice_id=practice_id, kind=ExceptionKind.REAUTHORIZE, now=now, authorization_id=auth.id,
                dedupe_key=f"auth:{auth.id}:{auth.end_date.isoformat()}", queue="authorization",
                due_at=max(_close_of_business(due_day, tz), now), source="authorization-watch",
                reason=sweep_rules.reauth_reason(auth.number, forecast, authorized=auth.authorized, used=auth.used),
                evidence={"forecast": forecast.on.isoformat(), "cause": forecast.cause, "used": auth.used,
                          "authorized": auth.authorized, "scheduled": forecast.upcoming, "per_week": forecast.per_week},
            )  # fmt: skip
            counts["items_created"] += created
    db.session.commit()
    return dict(counts)


# --- 5. nightly KPI snapshot ---


def _claim_dos() -> ColumnElement[date]:
    first_line = select(func.min(ClaimLine.date_of_service)).where(ClaimLine.claim_id == Claim.id).scalar_subquery()
    session_day = select(Session.date_of_service).where(Session.id == Claim.session_id).scalar_subquery()
    return func.coalesce(first_line, session_day)


def _practice_figures(practice_id: int, tz: str, now: datetime) -> tuple[date, dict[str, Any]]:
    day = _local_day(now, tz)
    day_start, day_end = _day_bounds(day, tz)
    window_start = _day_bounds(day - timedelta(days=KPI_WINDOW_DAYS - 1), tz)[0]
    mine = Claim.practice_id == practice_id
    balance = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility
    open_ar = select(balance.label("balance"), _claim_dos().label("dos")).where(
        mine, Claim.status.in_(AR_STATUSES), balance > 0).subquery()  # fmt: skip
    starts = kpis.bucket_starts(day)
    bucket = case(*[(open_ar.c.dos >= start, label) for label, start in starts if start is not None],
                  else_=starts[-1][0])  # fmt: skip
    aging = {label: Decimal("0.00") for label, _ in starts}
    for label, amount in db.session.execute(select(bucket, func.sum(open_ar.c.balance)).group_by(bucket)):
        aging[label] = Decimal(str(amount or 0))
    total_ar = sum(aging.values(), Decimal("0.00"))

    def count(*where: Any) -> int:
        return int(db.session.scalar(select(func.count(Claim.id)).where(mine, *where)) or 0)

    original = Claim.parent_claim_id.is_(None)
    in_window = and_(Claim.submitted_at >= window_start, Claim.submitted_at < day_end, original)
    answered = count(in_window, or_(Claim.accepted_at.is_not(None), Claim.status == ClaimStatus.REJECTED))
    clean = count(in_window, Claim.accepted_at.is_not(None), Claim.version == 1, Claim.status != ClaimStatus.REJECTED)
    adjudicated = and_(Claim.adjudicated_at >= window_start, Claim.adjudicated_at < day_end)
    denied = count(adjudicated, Claim.status.in_([ClaimStatus.DENIED, ClaimStatus.APPEALED]))
    charges_start = _day_bounds(day - timedelta(days=kpis.DAYS_IN_AR_WINDOW - 1), tz)[0]
    gross = Decimal(str(db.session.scalar(select(func.coalesce(func.sum(Claim.total_charge), 0)).where(
        mine, original, Claim.created_at >= charges_start, Claim.created_at < day_end)) or 0))  # fmt: skip
    items = WorkItem.practice_id == practice_id

    def count_items(*where: Any) -> int:
        return int(db.session.scalar(select(func.count(WorkItem.id)).where(items, *where)) or 0)

    live = [ItemState.READY.value, ItemState.IN_PROGRESS.value, ItemState.SNOOZED.value]  # snoozed past due too
    figures = {
        "aging": {label: kpis.money(amount) for label, amount in aging.items()},
        "total_ar": kpis.money(total_ar),
        "claims_submitted": count(Claim.submitted_at >= day_start, Claim.submitted_at < day_end),
        "claims_submitted_window": count(in_window),
        "clean_claim_rate": _pct(kpis.rate(clean, answered)),
        "denial_rate": _pct(kpis.rate(denied, count(adjudicated))),
        "gross_charges_90d": kpis.money(gross),
        "days_in_ar": _pct(kpis.days_in_ar(total_ar, gross)),
        "open_items": count_items(WorkItem.state.in_(OPEN)),
        "breached_items": count_items(WorkItem.state.in_(live), WorkItem.due_at <= now),
        "items_done_today": count_items(
            WorkItem.state == ItemState.DONE, WorkItem.completed_at >= day_start, WorkItem.completed_at < day_end
        ),  # fmt: skip
        "window_days": KPI_WINDOW_DAYS,
    }
    return day, figures


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@service
def snapshot_kpis(*, now: datetime) -> dict[str, int]:
    """One KPI snapshot per active practice and local day (re-running the same day replaces its figures)."""
    counts = Counter({"created": 0, "updated": 0})
    for practice_id, tz in db.session.execute(select(Practice.id, Practice.timezone).where(Practice.active)).all():
        day, figures = _practice_figures(practice_id, tz, now)
        snapshot = db.session.scalar(
            select(KpiSnapshot).where(KpiSnapshot.practice_id == practice_id, KpiSnapshot.day == day)
        )
        if snapshot is None:
            db.session.add(KpiSnapshot(practice_id=practice_id, day=day, figures=figures, taken_at=now))
            counts["created"] += 1
        elif snapshot.figures != figures:
            snapshot.figures, snapshot.taken_at = figures, now
            counts["updated"] += 1
    db.session.commit()
    return dict(counts)


# --- 6. requeue automated items whose job was lost ---


def _item_ids_in_redis(conn: Redis) -> set[int]:
    """Items that have an automation job queued, started, scheduled or deferred in any RQ queue."""
    job_ids: list[str] = []
    for name in QUEUE_NAMES:
        queue = get_queue(name, conn)
        job_ids += queue.get_job_ids()
        for registry in (queue.started_job_registry, queue.scheduled_job_registry, queue.deferred_job_registry):
            job_ids += registry.get_job_ids(cleanup=False)
    found: set[int] = set()
    for job in Job.fetch_many(list(dict.fromkeys(job_ids)), connection=conn, serializer=JSONSerializer):
        if job is not None:
            found.update(job_item_ids(job.func_name, job.args))
    return found


@service
def requeue_orphaned_items(*, now: datetime, ready_for: timedelta = sweep_rules.REQUEUE_AFTER) -> dict[str, int]:
    """Ready automated items with no job in Redis (e.g. after an outage), ready for over ``ready_for`` (2 minutes),
    are enqueued again after commit, with the same retry policy as their first job; items that already failed
    MAX_AUTOMATED_ATTEMPTS times are left to people."""
    rows = db.session.execute(
        select(WorkItem.id, WorkItem.practice_id, WorkItem.priority, WorkItem.session_id, WorkItem.claim_id,
               Practice.organization_id)
        .join(Practice, Practice.id == WorkItem.practice_id)
        .where(
            WorkItem.mode == Mode.AUTOMATED, WorkItem.state == ItemState.READY,
            WorkItem.updated_at <= now - ready_for,
            WorkItem.attempts < sweep_rules.MAX_AUTOMATED_ATTEMPTS)
        .order_by(WorkItem.id)
    ).all()  # fmt: skip
    if not rows:
        return {"checked": 0, "requeued": 0}
    present = _item_ids_in_redis(get_redis())
    orphans = [row for row in rows if row.id not in present]
    for row in orphans:
        enqueue_item_job(row.id, organization_id=row.organization_id, priority=row.priority)
    _log_rows([_log_row(r, InteractionKind.AUTOMATION, now, "re-enqueued: no job found", "requeue-sweep", {})
               for r in orphans])  # fmt: skip
    db.session.commit()
    return {"checked": len(rows), "requeued": len(orphans)}
