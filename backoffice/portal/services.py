"""Requests to the practice: send one from an item (its SLA pauses), the practice's answer in the portal (logged on
the item it came from, which resumes: work closes itself), the reminders when the practice is late, and the end of
a request nobody answered (cancelled: the item resumes). Each owns its commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.accounts.rules import STAFF_ROLES, Role
from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim
from backoffice.documents import services as documents
from backoffice.errors import InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.portal import rules
from backoffice.portal.models import PracticeRequest
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import (
    OPEN_STATES,
    CompletionOutcome,
    ExceptionKind,
    InteractionKind,
    ItemState,
    Mode,
    WorkKind,
)
from backoffice.work.services import complete_item, pause_for, release_waiting, wake_automated_item

WAITING_ON = "practice"
SOURCE = "practice portal"


def _attach(item: WorkItem, upload: tuple[str, bytes] | None, user: User, now: datetime, note: str) -> int | None:
    if upload is None:
        return None
    target = documents.target("item", item.id, {item.practice_id})
    if target is None:  # the item was just created in this practice: cannot happen
        raise ValidationFailed("file: the request cannot take files")
    filename, data = upload
    return documents.attach(to=target, filename=filename, data=data, user=user, now=now, note=note).id


@service
def send_request(
    *,
    origin: WorkItem,
    actor: User,
    now: datetime,
    request_type: str,
    message: str,
    blocks_submission: bool = False,
    upload: tuple[str, bytes] | None = None,
) -> PracticeRequest:
    """A request to the item's practice (a work item in the practice's inbox) with its message and an optional file;
    the origin item waits on it with its SLA paused (the time is the practice's). All or nothing."""
    if actor.role not in STAFF_ROLES or actor.organization_id != origin.practice.organization_id:
        raise NotAllowed("only the billing company's staff send requests to a practice")
    if origin.kind == ExceptionKind.PRACTICE_REQUEST:
        raise ValidationFailed("item: a request to the practice cannot itself ask the practice")
    if origin.state not in OPEN_STATES:
        raise InvalidTransition(f"cannot ask the practice about an item that is {origin.state.value}")
    problem = rules.request_problem(request_type, message)
    if problem:
        raise ValidationFailed(problem)
    practice = origin.practice
    claim_id = origin.claim_id
    if claim_id is None and origin.session_id is not None:  # a session's chain: its original primary claim, if any
        claim_id = db.session.scalar(
            select(Claim.id)
            .where(Claim.session_id == origin.session_id, Claim.payer_sequence == "P", Claim.parent_claim_id.is_(None))
            .order_by(Claim.id)
        )
    respond_by, policy = rules.respond_by(now, practice.sla_overrides, ZoneInfo(practice.timezone), is_business_day)
    label = rules.TYPE_LABELS[request_type]
    item, _ = add_item(
        practice_id=practice.id, kind=ExceptionKind.PRACTICE_REQUEST, now=now, reason=f"{label} (from #{origin.id})",
        session_id=origin.session_id, claim_id=origin.claim_id, patient_id=origin.patient_id,
        provider_id=origin.provider_id, authorization_id=origin.authorization_id, payer_id=origin.payer_id,
        source=actor.name, evidence={"origin_item_id": origin.id, "request_type": request_type},
    )  # fmt: skip
    item.due_at, item.sla_policy = None, policy  # the practice's time, never counted in our SLA
    request = PracticeRequest(
        practice_id=practice.id, work_item_id=item.id, origin_item_id=origin.id, claim_id=claim_id,
        request_type=request_type, message=message.strip(), blocks_submission=blocks_submission,
        respond_by=respond_by, next_reminder_at=respond_by, reminders=0, created_by_id=actor.id, created_at=now,
    )  # fmt: skip
    db.session.add(request)
    db.session.flush()
    _attach(item, upload, actor, now, f"sent with the request ({label.lower()})")
    pause_for(item=origin, cause=item, waiting_on=WAITING_ON, now=now, actor=actor)
    held = " The claim is held from submission until the practice answers." if blocks_submission else ""
    record_interaction(
        practice_id=origin.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now, item=origin,
        body=f"Request #{item.id} to the practice ({label}): {request.message}{held}",
        data={"practice_request_id": request.id, "request_item_id": item.id},
    )  # fmt: skip
    db.session.commit()
    return request


def _wake_held_submission(request: PracticeRequest, now: datetime) -> int:
    """The claim's submit steps that waited on this request run again now (in the caller's transaction)."""
    if not request.blocks_submission or request.claim_id is None:
        return 0
    claim = db.session.get(Claim, request.claim_id)
    subject = (WorkItem.claim_id == claim.id) | (
        WorkItem.claim_id.is_(None) & (WorkItem.session_id == claim.session_id)
    )
    waiting = db.session.scalars(
        select(WorkItem).where(
            subject, WorkItem.kind == str(WorkKind.SUBMIT), WorkItem.mode == Mode.AUTOMATED,
            WorkItem.state == ItemState.SNOOZED,
        )
    ).all()  # fmt: skip
    for item in waiting:
        wake_automated_item(item=item, now=now, source=SOURCE, body=f"The practice answered #{request.work_item_id}")
    return len(waiting)


@service
def answer_request(
    *, request: PracticeRequest, user: User, now: datetime, answer: str, upload: tuple[str, bytes] | None = None
) -> PracticeRequest:
    """The practice's answer (words and an optional file): it lands in the originating item's log, the request
    closes, and the originating item resumes with its SLA (due later by the time paused). All or nothing."""
    bound = [p.id for p in user.practices] if user.role == Role.PRACTICE else []
    if bound != [request.practice_id]:
        raise NotAllowed("only the practice's own users answer its requests")
    if request.answered_at is not None or request.item.state not in (ItemState.READY, ItemState.IN_PROGRESS):
        raise InvalidTransition(f"request #{request.work_item_id} was already answered or withdrawn")
    problem = rules.answer_problem(answer, upload is not None)
    if problem:
        raise ValidationFailed(problem)
    label = rules.TYPE_LABELS.get(request.request_type, request.request_type)
    document_id = _attach(request.item, upload, user, now, f"the practice's answer ({label.lower()})")
    request.answer, request.answered_by_id, request.answered_at = answer.strip(), user.id, now
    request.next_reminder_at = None
    attached = " (file attached)" if document_id else ""
    record_interaction(
        practice_id=request.practice_id, actor=user, kind=InteractionKind.NOTE, now=now, item=request.origin,
        body=f"The practice answered request #{request.work_item_id} ({label}){attached}: {request.answer}",
        data={"practice_request_id": request.id, "document_id": document_id},
    )  # fmt: skip
    _wake_held_submission(request, now)
    complete_item(item=request.item, actor=None, actor_label=f"{SOURCE}: {user.name}", now=now,
                  outcome=CompletionOutcome.RESOLVED, note=f"Answered by the practice{attached}",
                  result={"answered_by_user_id": user.id, "document_id": document_id})  # fmt: skip
    return request


@service
def remind_practice_requests(*, now: datetime) -> dict[str, int]:
    """The reminder sweep: every waiting request past its reminder time gets a reminder logged on it and on the item
    it came from, and its next one the next business day. Running it twice at the same moment reminds once."""
    due = db.session.scalars(
        select(PracticeRequest)
        .join(WorkItem, WorkItem.id == PracticeRequest.work_item_id)
        .where(
            PracticeRequest.answered_at.is_(None),
            PracticeRequest.next_reminder_at <= now,
            WorkItem.state.in_([ItemState.READY.value, ItemState.IN_PROGRESS.value]),
        )
        .order_by(PracticeRequest.id)
    ).all()
    for request in due:
        tz = ZoneInfo(request.item.practice.timezone)
        request.reminders += 1
        request.next_reminder_at = rules.next_reminder(now, tz, is_business_day)
        note = rules.reminder_note(request.reminders, request.respond_by.astimezone(tz))
        for item in (request.item, request.origin):
            record_interaction(practice_id=request.practice_id, actor=None, actor_label="reminders",
                               kind=InteractionKind.NOTE, now=now, item=item, body=note,
                               data={"practice_request_id": request.id, "reminder": request.reminders})  # fmt: skip
    db.session.commit()
    return {"reminded": len(due)}


def resume_after_cancel(item: WorkItem, *, now: datetime, actor: User | None = None, **_: Any) -> None:
    """The ``item-cancelled`` subscriber: a request withdrawn unanswered releases the item it paused (its SLA
    resumes) and the claim's held submission, in the canceller's transaction."""
    if item.kind != ExceptionKind.PRACTICE_REQUEST:
        return
    release_waiting(cause=item, now=now, actor=actor)
    request = db.session.scalar(select(PracticeRequest).where(PracticeRequest.work_item_id == item.id))
    if request is not None:
        request.next_reminder_at = None
        _wake_held_submission(request, now)
