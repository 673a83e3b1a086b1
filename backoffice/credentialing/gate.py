"""The enrolment gate on submission: the await-enrolment step (automation), its filing-deadline due date, and the
release of held claims when an enrolment becomes effective (a retroactive effective date included)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backoffice.automation.runner import NeedsPerson, NotYet
from backoffice.credentialing import queries
from backoffice.credentialing.models import Enrollment
from backoffice.credentialing.rules import enrolled_on, filing_deadline, hold_reason
from backoffice.errors import Conflict, InvalidTransition
from backoffice.extensions import db
from backoffice.orgs.models import Payer
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode, WorkKind
from backoffice.work.services import complete_item, wake_automated_item

SOURCE = "enrolment"
RECHECK_EVERY = timedelta(days=7)  # a safety net: an effective enrolment wakes its held claims at once
HAND_OVER_DAYS = 14  # a claim still held this close to its filing deadline goes to a person


def _held_facts(item: WorkItem) -> tuple[Session, Payer]:
    session = db.session.get(Session, item.session_id) if item.session_id else None
    payer = db.session.get(Payer, item.payer_id) if item.payer_id else None
    if session is None or payer is None:
        raise NeedsPerson("the held claim has no session or payer to check enrolment against")
    return session, payer


def deadline_due_at(item: WorkItem, session: Session, payer: Payer) -> datetime:
    """Close of business (practice time zone) on the claim's filing deadline: the held item's due date."""
    day = filing_deadline(
        session.date_of_service, payer_kind=str(payer.kind), filing_limit_days=payer.filing_limit_days
    )
    tz = ZoneInfo(item.practice.timezone)
    return datetime.combine(day, time(17, 0), tzinfo=tz).astimezone(UTC)


def await_enrollment(item: WorkItem, now: datetime) -> Mapping[str, Any]:
    """The automated step: done (releasing submission) once the rendering provider is enrolled with the payer on
    the date of service; else wait (rechecked weekly, woken at once by an effective enrolment), and hand the claim to
    a person when its filing deadline is two weeks away."""
    session, payer = _held_facts(item)
    record = queries.enrollment_for(session.provider_id, payer.id)
    facts = record.facts if record is not None else None
    why = hold_reason(facts, session.date_of_service, required=payer.enrollment_required_837, payer_code=payer.payer_id)
    if why is None:
        basis = "enrolment not required" if not payer.enrollment_required_837 else "enrolment effective"
        return {"released": basis, "effective_from": facts.effective_from.isoformat() if facts and facts.effective_from
                else None}  # fmt: skip
    due = deadline_due_at(item, session, payer)
    left = (due.date() - now.date()).days
    evidence = {"filing_deadline": due.date().isoformat(), "days_left": left, "payer": payer.payer_id}
    if left <= HAND_OVER_DAYS:
        raise NeedsPerson(f"{why}; filing deadline {due:%Y-%m-%d} in {left} day(s): chase the enrolment", evidence)
    until = min(now + RECHECK_EVERY, due - timedelta(days=HAND_OVER_DAYS))
    raise NotYet(until, f"{why}; filing deadline {due:%Y-%m-%d} ({left} days left)")


def show_filing_deadline(item: WorkItem, *, now: datetime) -> None:
    """The ``item-ready`` subscriber: a held claim's item is due on its filing deadline (the countdown it shows)."""
    if item.kind != WorkKind.AWAIT_ENROLLMENT or item.session_id is None or item.payer_id is None:
        return
    session, payer = db.session.get(Session, item.session_id), db.session.get(Payer, item.payer_id)
    if session is None or payer is None:
        return
    item.due_at, item.sla_policy = deadline_due_at(item, session, payer), "filing-deadline"


def release_held_claims(enrollment: Enrollment, *, now: datetime) -> int:
    """Wake, in the caller's transaction, the waiting await-enrolment items that the enrolment now covers (their
    step completes them and releases submission); items a person holds are completed after the caller commits by
    ``complete_released``. Returns how many were woken. Each wake is logged on the item."""
    woken = 0
    for item in queries.held_items(enrollment.practice_id, provider_id=enrollment.provider_id,
                                   payer_id=enrollment.payer_id):  # fmt: skip
        session = db.session.get(Session, item.session_id)
        if session is None or not enrolled_on(enrollment.facts, session.date_of_service):
            continue
        if item.mode == Mode.AUTOMATED and item.state == ItemState.SNOOZED:  # a ready one's job is queued already
            try:
                wake_automated_item(item=item, now=now, source=SOURCE, body=_released_body(enrollment))
            except (Conflict, InvalidTransition):
                continue
            woken += 1
    return woken


def complete_released(enrollment: Enrollment, *, now: datetime) -> int:
    """Complete the held items handed to a person that the enrolment now covers (each in its own commit)."""
    done = 0
    for item in queries.held_items(enrollment.practice_id, provider_id=enrollment.provider_id,
                                   payer_id=enrollment.payer_id):  # fmt: skip
        session = db.session.get(Session, item.session_id)
        if item.mode != Mode.MANUAL or item.state not in (ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED):
            continue
        if session is None or not enrolled_on(enrollment.facts, session.date_of_service):
            continue
        if item.state == ItemState.SNOOZED:
            continue  # a person snoozed it: they will complete it
        complete_item(item=item, actor=None, actor_label=SOURCE, now=now, note=_released_body(enrollment),
                      result={"released": "enrolment effective"})  # fmt: skip
        done += 1
    return done


def _released_body(enrollment: Enrollment) -> str:
    start = enrollment.effective_from
    return f"Enrolment with {enrollment.payer.payer_id} effective from {start:%Y-%m-%d}: held claim released"
