"""The one place that decides what a user may see: practice scope per role."""

from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import select

from backoffice.accounts.models import User, user_practices
from backoffice.accounts.rules import Role, sees_whole_organization
from backoffice.extensions import db
from backoffice.orgs.models import Practice


def practice_ids_for(user: User) -> set[int]:
    """IDs of the practices whose work ``user`` may see (billers: theirs; others: the organization's). Asked
    several times per page, so remembered for the rest of the HTTP request (never across requests)."""
    if not user.active:
        return set()
    memo = request.environ.setdefault(_MEMO, {}) if has_request_context() else None
    key = (user.id, str(user.role))
    if memo is not None and key in memo:
        return set(memo[key])
    ids = _practice_ids(user)
    if memo is not None:
        memo[key] = frozenset(ids)
    return ids


_MEMO = "backoffice.practice_ids"


def _practice_ids(user: User) -> set[int]:
    if sees_whole_organization(user.role):
        stmt = select(Practice.id).where(Practice.organization_id == user.organization_id)
    else:
        stmt = (
            select(user_practices.c.practice_id)
            .join(Practice, Practice.id == user_practices.c.practice_id)
            .where(
                user_practices.c.user_id == user.id,
                Practice.organization_id == user.organization_id,
            )
        )
    return set(db.session.scalars(stmt))


def can_supervise(user: User) -> bool:
    """Supervisors and admins may reassign, see every queue and act on anyone's item."""
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN
