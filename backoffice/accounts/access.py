"""The one place that decides what a user may see: practice scope per role."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import abort, g, has_request_context, request
from sqlalchemy import and_, bindparam, exists, or_, select, text

from backoffice.accounts.models import User, UserSession, user_practices
from backoffice.accounts.rules import Role, sees_whole_organization
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import statement_is_transaction


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


@dataclass(frozen=True)
class LiveSession:
    """The server-side session a request's cookie names (accounts/signins.py), as the user loader found it."""

    id: int
    created_at: datetime
    last_seen_at: datetime


@functools.cache
def _user_with_scope_statement() -> Any:
    """Built once per process: the statement is the same for every request (only the user id and token differ)."""
    whole_org = User.role.in_([role for role in Role if sees_whole_organization(role)])
    assigned = exists().where(user_practices.c.user_id == User.id, user_practices.c.practice_id == Practice.id)
    live = and_(
        UserSession.user_id == User.id,
        UserSession.token_hash == bindparam("token_hash"),
        UserSession.revoked_at.is_(None),
    )
    return (
        select(User, Practice.id, UserSession.id, UserSession.created_at, UserSession.last_seen_at)
        .join(UserSession, live)
        .outerjoin(Practice, and_(Practice.organization_id == User.organization_id, or_(whole_org, assigned)))
        .where(User.id == bindparam("user_id"))
    )


def load_user_with_scope(user_id: int, token_hash: str) -> User | None:
    """The signed-in user of a request, if the session its cookie names is live, with the practices they may see, in
    one query (every screen asks for all three): one row per visible practice, the scope remembered for
    ``practice_ids_for`` and the session for ``live_session`` for the rest of the request."""
    # The first statement of a request: read outside a transaction (no BEGIN and COMMIT round trips around it).
    alone = statement_is_transaction()
    rows = db.session.execute(_user_with_scope_statement(), {"user_id": user_id, "token_hash": token_hash}).all()
    if alone:
        db.session.commit()
    if not rows:
        return None
    user, _, session_id, created_at, last_seen_at = rows[0]
    if has_request_context():
        memo = request.environ.setdefault(_MEMO, {})
        memo[(user.id, str(user.role))] = frozenset(row[1] for row in rows if row[1] is not None)
        g.live_session = LiveSession(session_id, created_at, last_seen_at)
    return user


def live_session() -> LiveSession | None:
    """The session of the signed-in user of this request (set by the user loader)."""
    return g.get("live_session")


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


def active_user(user_id: int) -> User | None:
    """An active user by id (a sign-in waiting for its second factor names its user by id)."""
    user = db.session.get(User, user_id)
    return user if user is not None and user.active else None


def get_user_for_admin_or_404(user_id: int, admin: User) -> User:
    """A user of the admin's own organization; any other id is a 404 (never a 403 that confirms it exists)."""
    user = db.session.get(User, user_id)
    if user is None or user.organization_id != admin.organization_id:
        abort(404)
    return user


def can_supervise(user: User) -> bool:
    """Supervisors and admins may reassign, see every queue and act on anyone's item."""
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def is_admin(user: User) -> bool:
    return user.role == Role.ADMIN
