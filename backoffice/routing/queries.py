"""Reads for the routing screen: rules in order, people with their queues and skills, a rule's preview."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.accounts.rules import STAFF_ROLES
from backoffice.extensions import db
from backoffice.routing import rules as r
from backoffice.routing.models import RoutingRule
from backoffice.routing.services import as_rule, facts_of, open_counts, people
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode

PREVIEW_LIMIT = 50


def rules_of(user: User) -> list[RoutingRule]:
    """Every rule of the user's organization (active or not), in matching order."""
    return list(
        db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.organization_id == user.organization_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def get_rule_or_404(rule_id: int, user: User) -> RoutingRule:
    """The rule if it belongs to the user's organization; otherwise 404 (never confirm it exists)."""
    from flask import abort  # noqa: PLC0415 - queries stay importable without a request

    rule = db.session.get(RoutingRule, rule_id)
    if rule is None or rule.organization_id != user.organization_id:
        abort(404)
    return rule


def org_users(user: User) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .options(joinedload(User.practices))
            .where(User.organization_id == user.organization_id, User.role.in_(list(STAFF_ROLES)))
            .order_by(User.active.desc(), User.name)
        ).unique()
    )


@dataclass(frozen=True)
class PreviewRow:
    item: WorkItem
    decision: r.Decision


def preview(rule: RoutingRule, user: User) -> list[PreviewRow]:
    """Unassigned ready manual items this rule would route now (first match among the active rules, this one
    included even if inactive), with the decision it would make. Reads only: no cursor moves."""
    scope = practice_ids_for(user)
    stmt = (
        select(WorkItem)
        .options(joinedload(WorkItem.practice))
        .where(
            WorkItem.practice_id.in_(scope),
            WorkItem.state == ItemState.READY,
            WorkItem.mode == Mode.MANUAL,
            WorkItem.assignee_id.is_(None),
        )
        .order_by(WorkItem.due_at.asc().nulls_last(), WorkItem.id)
        .limit(2000)
    )
    for field in ("practice_id", "payer_id", "kind", "denial_family"):
        value = getattr(rule, field)
        if value is not None:
            stmt = stmt.where(getattr(WorkItem, field) == value)
    this = dataclasses.replace(as_rule(rule), active=True)
    ordered = [*(as_rule(row) for row in rules_of(user) if row.active and row.id != rule.id), this]
    candidates = people(user.organization_id)
    counts = open_counts([c.id for c in candidates])
    loaded = [dataclasses.replace(c, open_items=counts.get(c.id, 0)) for c in candidates]
    out: list[PreviewRow] = []
    cursor = rule.last_assigned_user_id
    for item in db.session.scalars(stmt):
        facts = facts_of(item)
        if r.first_match(ordered, facts) != this:
            continue  # an earlier rule takes it
        decision = r.decide(this, facts, loaded, cursor=cursor)
        if decision.assignee_id is not None:  # as routing them one after another would: the turn and load move on
            cursor = decision.assignee_id
            loaded = [dataclasses.replace(c, open_items=c.open_items + (c.id == cursor)) for c in loaded]
        out.append(PreviewRow(item, decision))
        if len(out) >= PREVIEW_LIMIT:
            break
    return out
