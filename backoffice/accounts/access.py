"""The one place that decides what a user may see: practice scope per role."""

from __future__ import annotations

import functools
from typing import Any

from flask import has_request_context, request
from sqlalchemy import and_, bindparam, exists, or_, select, text

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


@functools.cache
def _user_with_scope_statement() -> Any:
    """Built once per process: the statement is the same for every request (only the user id differs)."""
    whole_org = User.role.in_([role for role in Role if sees_whole_organization(role)])
    assigned = exists().where(user_practices.c.user_id == User.id, user_practices.c.practice_id == Practice.id)
    return (
        select(User, Practice.id)
        .outerjoin(Practice, and_(Practice.organization_id == User.organization_id, or_(whole_org, assigned)))
        .where(User.id == bindparam("user_id"))
    )


def load_user_with_scope(user_id: int) -> User | None:
    """The signed-in user of a request, with the practices they may see in the same query (every screen asks
    for both): one row per visible practice, remembered for ``practice_ids_for`` for the rest of the request."""
    rows = db.session.execute(_user_with_scope_statement(), {"user_id": user_id}).all()
    if not rows:
        return None
    user = rows[0][0]
    if has_request_context():
        memo = request.environ.setdefault(_MEMO, {})
        memo[(user.id, str(user.role))] = frozenset(pid for _, pid in rows if pid is not None)
    return user


# The scope rule, as one SQL fragment that statements written as text embed (Get next computes its scope in its own
# statement instead of asking first): the practices of organization :scope_org that user :scope_user may see, all
# of them when :scope_all (supervisors and admins), else the ones assigned to them. Callers refuse inactive users
# first. The user loader's join states the same rule; tests/test_accounts.py holds both to it, role by role.
PRACTICE_SCOPE_SQL = (
    "SELECT sp.id FROM practices sp WHERE sp.organization_id = :scope_org AND (:scope_all OR EXISTS ("
    "SELECT 1 FROM user_practices sup WHERE sup.user_id = :scope_user AND sup.practice_id = sp.id))"
)


def practice_scope_params(user: User) -> dict[str, Any]:
    """The parameters of ``PRACTICE_SCOPE_SQL`` for ``user``."""
    return {"scope_org": user.organization_id, "scope_all": sees_whole_organization(user.role), "scope_user": user.id}


def _practice_ids(user: User) -> set[int]:
    return set(db.session.scalars(text(PRACTICE_SCOPE_SQL), practice_scope_params(user)))


def can_supervise(user: User) -> bool:
    """Supervisors and admins may reassign, see every queue and act on anyone's item."""
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN
