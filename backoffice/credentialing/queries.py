"""Reads for credentialing: enrolment facts for the planner and the gate, held claims, a practice's providers."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from backoffice.credentialing.models import Enrollment
from backoffice.credentialing.rules import EnrollmentFacts
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, WorkKind


def enrollment_facts(provider_ids: Iterable[int], payer_ids: Iterable[int]) -> dict[tuple[int, int], EnrollmentFacts]:
    """(provider id, payer id) → its enrolment facts, for every enrolment among those providers and payers (one
    query)."""
    providers, payers = set(provider_ids), set(payer_ids)
    if not providers or not payers:
        return {}
    rows = db.session.execute(
        select(Enrollment.provider_id, Enrollment.payer_id, Enrollment.status, Enrollment.effective_from,
               Enrollment.terminated_on)
        .where(Enrollment.provider_id.in_(providers), Enrollment.payer_id.in_(payers))
    )  # fmt: skip
    return {(r[0], r[1]): EnrollmentFacts(str(r[2]), r[3], r[4]) for r in rows}


def enrollment_for(provider_id: int, payer_id: int) -> Enrollment | None:
    return db.session.scalar(
        select(Enrollment).where(Enrollment.provider_id == provider_id, Enrollment.payer_id == payer_id)
    )


def enrollments_of(practice: Practice) -> list[Enrollment]:
    """A practice's enrolments, by provider then payer."""
    return list(
        db.session.scalars(
            select(Enrollment)
            .join(Provider, Provider.id == Enrollment.provider_id)
            .join(Payer, Payer.id == Enrollment.payer_id)
            .where(Enrollment.practice_id == practice.id)
            .order_by(Provider.last_name, Provider.first_name, Payer.name)
        )
    )


def providers_of(practice: Practice) -> list[Provider]:
    return list(
        db.session.scalars(
            select(Provider).where(Provider.practice_id == practice.id).order_by(Provider.last_name, Provider.id)
        )
    )


def held_items(practice_id: int, *, provider_id: int | None = None, payer_id: int | None = None) -> list[WorkItem]:
    """The open await-enrolment items of a practice (optionally of one provider × payer), earliest due first."""
    stmt = select(WorkItem).where(
        WorkItem.practice_id == practice_id,
        WorkItem.kind == WorkKind.AWAIT_ENROLLMENT,
        WorkItem.state.in_([s.value for s in OPEN_STATES]),
    )
    if payer_id is not None:
        stmt = stmt.where(WorkItem.payer_id == payer_id)
    if provider_id is not None:
        stmt = stmt.where(WorkItem.session_id.in_(select(Session.id).where(Session.provider_id == provider_id)))
    return list(db.session.scalars(stmt.order_by(WorkItem.due_at, WorkItem.id)))
