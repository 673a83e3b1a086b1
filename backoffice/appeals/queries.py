"""Appeal reads, always within the user's practices: the list with its filters, one appeal, templates and the
overturn-rate report's decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import abort
from sqlalchemy import select

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.appeals import rules
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice

LIST_LIMIT = 500


def template_for(organization_id: int, *, family: str, payer_id: int | None, level: int) -> AppealTemplate | None:
    """The most specific active template for (family, payer, level): payer-specific beats any-payer."""
    rows = db.session.scalars(
        select(AppealTemplate).where(
            AppealTemplate.organization_id == organization_id,
            AppealTemplate.denial_family == family,
            AppealTemplate.level == level,
            AppealTemplate.active.is_(True),
        )
    ).all()
    choices = [rules.TemplateChoice(t.id, t.denial_family, t.payer_id, t.level, t.active, (t.updated_at, t.id))
               for t in rows]  # fmt: skip
    chosen = rules.choose_template(choices, family=family, payer_id=payer_id, level=level)
    return next(t for t in rows if t.id == chosen.id) if chosen else None


def templates(organization_id: int) -> list[tuple[AppealTemplate, str | None]]:
    """Every template of the organization with its payer's name (None: any payer)."""
    query = (
        select(AppealTemplate, Payer.name)
        .outerjoin(Payer, Payer.id == AppealTemplate.payer_id)
        .where(AppealTemplate.organization_id == organization_id)
        .order_by(AppealTemplate.denial_family, AppealTemplate.level, Payer.name.nulls_first(), AppealTemplate.name)
    )
    return [(t, name) for t, name in db.session.execute(query)]


def get_template_or_404(template_id: int, user: User) -> AppealTemplate:
    template = db.session.get(AppealTemplate, template_id)
    if template is None or template.organization_id != user.organization_id:
        abort(404)
    return template


def get_appeal_for_user_or_404(appeal_id: int, user: User) -> Appeal:
    """The appeal if it belongs to a practice ``user`` serves; otherwise 404, whether or not it exists."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or appeal.practice_id not in practice_ids_for(user):
        abort(404)
    return appeal


@dataclass(frozen=True)
class Filters:
    status: str = ""
    family: str = ""
    payer_id: int | None = None
    practice_id: int | None = None
    due_within: int | None = None  # deadline within N days (open appeals)


def appeals(user: User, filters: Filters, today: date) -> list[Any]:
    """Appeals in the user's practices, soonest deadline first, with claim number, payer and practice names."""
    scope = practice_ids_for(user)
    query = (
        select(Appeal, Claim.account_number, Payer.name.label("payer_name"), Practice.name.label("practice_name"))
        .join(Claim, Claim.id == Appeal.claim_id)
        .join(Payer, Payer.id == Appeal.payer_id)
        .join(Practice, Practice.id == Appeal.practice_id)
        .where(Appeal.practice_id.in_(scope))
        .order_by(Appeal.deadline.is_(None), Appeal.deadline, Appeal.id)
        .limit(LIST_LIMIT)
    )
    if filters.status:
        query = query.where(Appeal.status == filters.status)
    if filters.family:
        query = query.where(Appeal.denial_family == filters.family)
    if filters.payer_id:
        query = query.where(Appeal.payer_id == filters.payer_id)
    if filters.practice_id:
        query = query.where(Appeal.practice_id == filters.practice_id)
    if filters.due_within is not None:
        query = query.where(Appeal.status == "draft", Appeal.deadline <= today + timedelta(days=filters.due_within))
    return list(db.session.execute(query))


def filter_options(user: User) -> dict[str, list[tuple[int, str]]]:
    """Payers and practices the filter menus offer (the user's organization and practices)."""
    scope = practice_ids_for(user)
    payers = db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == user.organization_id).order_by(Payer.name)
    )
    practices = db.session.execute(
        select(Practice.id, Practice.name).where(Practice.id.in_(scope)).order_by(Practice.name)
    )
    return {"payers": [tuple(r) for r in payers], "practices": [tuple(r) for r in practices]}


def payers(organization_id: int) -> list[tuple[int, str]]:
    return [tuple(r) for r in db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == organization_id).order_by(Payer.name))]  # fmt: skip


def decisions(user: User) -> list[rules.Decision]:
    """Every decided appeal in the user's practices, as the report counts them."""
    query = (
        select(Appeal.denial_family, Payer.name, Appeal.level, Appeal.outcome_on, Appeal.outcome,
               Appeal.recovered_amount)
        .join(Payer, Payer.id == Appeal.payer_id)
        .where(Appeal.practice_id.in_(practice_ids_for(user)), Appeal.status == "decided",
               Appeal.outcome.is_not(None), Appeal.outcome_on.is_not(None))
    )  # fmt: skip
    return [rules.Decision(family, payer, level, day, outcome, Decimal(recovered or 0))
            for family, payer, level, day, outcome, recovered in db.session.execute(query)]  # fmt: skip


def appeals_of_claim(claim_id: int) -> list[Appeal]:
    return list(db.session.scalars(select(Appeal).where(Appeal.claim_id == claim_id).order_by(Appeal.level)))
