"""Server-side sign-in sessions and remembered devices: a browser is signed in only while its row is live.

The session cookie (signed by Flask) carries a random session id next to Flask-Login's user id; the database keeps
the id's SHA-256. Signing out, the idle and absolute limits, a password change, deactivation and an admin's "sign
out everywhere" set ``revoked_at``, and the next request with that cookie, or any copy of it, is signed out.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from backoffice.accounts.models import TrustedDevice, User, UserSession
from backoffice.accounts.throttle import forget_account
from backoffice.audit.services import audit_event
from backoffice.errors import NotAllowed
from backoffice.extensions import db
from backoffice.services_base import service

UA_LENGTH = 120


def token_digest(token: str) -> str:
    """What the database keeps of a session or device token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _short(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


@service
def start_session(
    *,
    user: User,
    now: datetime,
    remote_addr: str | None,
    user_agent: str | None,
    mfa: str | None = None,
    audit: bool = True,
) -> str:
    """Sign ``user`` in (every factor checked): a new session row, the sign-in on the audit trail (unless the caller
    audits what led to it, as a password change does), the account's throttle buckets cleared. Returns the session
    token for the cookie (never stored)."""
    if not user.active:
        raise NotAllowed("this account is deactivated")
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id, token_hash=token_digest(token), created_at=now, last_seen_at=now, mfa=mfa,
            remote_addr=_short(remote_addr, 64), user_agent=_short(user_agent, UA_LENGTH),
        )
    )  # fmt: skip
    user.last_login_at = now
    forget_account(email=user.email, remote_addr=remote_addr)
    if audit:
        audit_event(action="login", user=user, now=now, data={"mfa": mfa} if mfa else None)
    db.session.commit()
    return token


@service
def touch_session(*, session_id: int, now: datetime) -> None:
    """Restart a live session's idle timer (once a minute at most: accounts/idle.py)."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


@service
def end_session(*, session_id: int, user: User, now: datetime, reason: str, data: dict | None = None) -> None:
    """End one session (sign-out: ``logout``; ``idle``; ``max_age``) and put it on the audit trail."""
    _revoke(UserSession.id == session_id, now=now, reason=reason)
    action = {"logout": "logout", "idle": "idle_logoff", "max_age": "session_expired"}[reason]
    audit_event(action=action, user=user, now=now, data=data)
    db.session.commit()


@service
def sign_out_everywhere(*, user: User, now: datetime, actor: User | None = None) -> int:
    """End every session of ``user`` and forget their remembered devices (a stolen laptop, a shared password);
    returns how many sessions were live. By an admin (``actor``) or by the user."""
    ended = end_all_sessions(user=user, now=now, reason="signed_out_everywhere")
    by_admin = actor is not None and actor.id != user.id
    audit_event(
        action="admin:sign_out_everywhere" if by_admin else "sign_out_everywhere", user=actor or user, now=now,
        organization_id=user.organization_id, target_type="user", target_id=user.id, data={"sessions": ended},
    )  # fmt: skip
    db.session.commit()
    return ended


def end_all_sessions(*, user: User, now: datetime, reason: str) -> int:
    """Revoke every live session and remembered device of ``user`` (the caller audits and commits)."""
    db.session.execute(
        update(TrustedDevice)
        .where(TrustedDevice.user_id == user.id, TrustedDevice.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return _revoke(UserSession.user_id == user.id, now=now, reason=reason)


def _revoke(condition: object, *, now: datetime, reason: str) -> int:
    done = db.session.execute(
        update(UserSession)
        .where(condition, UserSession.revoked_at.is_(None))  # type: ignore[arg-type]
        .values(revoked_at=now, end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return done.rowcount


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions not ended yet, newest first (the idle limit ends the others at their next request)."""
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.created_at.desc())
        )
    )


def live_session_counts(user_ids: list[int]) -> dict[int, int]:
    rows = db.session.execute(
        select(UserSession.user_id, func.count())
        .where(UserSession.user_id.in_(user_ids), UserSession.revoked_at.is_(None))
        .group_by(UserSession.user_id)
    )
    return {user_id: count for user_id, count in rows}


# --- Remembered devices ---------------------------------------------------------------------------------------------


@service
def remember_device(*, user: User, now: datetime, days: int, user_agent: str | None) -> str:
    """Remember this browser for ``days`` after a right code: returns the token for its cookie (never stored)."""
    if days <= 0:
        raise NotAllowed("this organization does not remember devices")
    token = secrets.token_urlsafe(32)
    db.session.add(
        TrustedDevice(
            user_id=user.id, token_hash=token_digest(token), created_at=now, expires_at=now + timedelta(days=days),
            user_agent=_short(user_agent, UA_LENGTH),
        )
    )  # fmt: skip
    audit_event(action="mfa_remember_device", user=user, now=now, data={"days": days})
    db.session.commit()
    return token


@service
def use_remembered_device(*, user: User, token: str, now: datetime) -> bool:
    """Whether ``token`` is a live remembered device of ``user``; a use is on the audit trail like a code."""
    device = db.session.scalar(select(TrustedDevice).where(TrustedDevice.token_hash == token_digest(token)))
    if device is None or device.user_id != user.id or device.revoked_at is not None or device.expires_at <= now:
        return False
    audit_event(action="mfa_use", user=user, now=now, data={"method": "remembered_device"})
    db.session.commit()
    return True
