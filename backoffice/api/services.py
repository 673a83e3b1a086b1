"""Issuing, revoking and checking API tokens. The token is returned once; only its digest is stored."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update

from backoffice.accounts.models import User
from backoffice.api.models import ApiToken
from backoffice.api.rules import PREFIX_LENGTH, TOKEN_PREFIX, hash_token, scope_problem
from backoffice.audit.services import audit_event
from backoffice.errors import InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.services_base import service

MAX_NAME = 100
DEFAULT_DAYS = 90
MAX_DAYS = 366


class TokenExpired(NotAllowed):
    """The token was good until ``expires_at``: the message says when, so its owner knows to issue a new one."""

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(f"this token expired on {expires_at:%Y-%m-%d %H:%M} UTC; issue a new one")


@service
def issue_token(
    *,
    user: User,
    scopes: Sequence[str],
    now: datetime,
    name: str | None = None,
    days: int = DEFAULT_DAYS,
    actor: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token acting as ``user`` with ``scopes`` for ``days`` (1 to 366); returns the row and the token
    (never stored)."""
    if not user.active:
        raise NotAllowed("inactive users cannot hold API tokens")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days: between 1 and {MAX_DAYS}")
    problem = scope_problem(scopes)
    if problem:
        raise ValidationFailed(f"scope: {problem}")
    label = (name or "API token").strip()
    if not label or len(label) > MAX_NAME:
        raise ValidationFailed(f"name: 1 to {MAX_NAME} characters")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=label, prefix=token[:PREFIX_LENGTH], token_hash=hash_token(token),
        scopes=sorted(set(scopes)), created_at=now, expires_at=now + timedelta(days=days),
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    audit_event(
        action="admin:token_issue", user=actor, now=now, organization_id=user.organization_id,
        target_type="api_token", target_id=row.id,
        data={"for_user_id": user.id, "scopes": row.scopes, "expires_at": row.expires_at.isoformat()},
    )  # fmt: skip
    db.session.commit()
    return row, token


@service
def revoke_token(*, token: ApiToken, now: datetime, actor: User | None = None) -> ApiToken:
    """Revoke a token for good; a revoked token authenticates nothing."""
    done = db.session.execute(
        update(ApiToken)
        .where(ApiToken.id == token.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        db.session.rollback()
        raise InvalidTransition("the token is already revoked")
    audit_event(action="admin:token_revoke", user=actor, now=now, organization_id=token.user.organization_id,
                target_type="api_token", target_id=token.id, data={"for_user_id": token.user_id})  # fmt: skip
    db.session.commit()
    db.session.refresh(token)
    return token


def tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, newest first (revoked and expired ones included, marked as such by their dates)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


@service
def authenticate_token(*, token: str, now: datetime) -> ApiToken | None:
    """The live token matching ``token`` whose user is active (last use recorded), or None; TokenExpired once it is
    past its expiry."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if row.expires_at <= now:
        raise TokenExpired(row.expires_at)
    row.last_used_at = now
    db.session.commit()
    return row
