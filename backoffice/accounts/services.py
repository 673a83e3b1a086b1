"""Account use cases: create users, authenticate with throttling. Passwords are hashed with Argon2id."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select

from backoffice.accounts.models import LoginFailure, User
from backoffice.accounts.rules import Role, login_locked_for
from backoffice.audit.services import audit_event
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import service

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# Verified against when the email is unknown, so both paths cost one Argon2 verification.
_DUMMY_HASH = _hasher.hash("not-a-real-password-just-timing")


class LoginRefused(NotAllowed):
    """Too many failed attempts; ``retry_after`` says for how long."""

    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, math.ceil(retry_after.total_seconds() / 60))  # a whole 15-minute lock says 15
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minute(s).")
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalize_email(email: str) -> str:
    return email.strip().lower()


@service
def create_user(
    *,
    organization_id: int,
    email: str,
    name: str,
    role: str,
    password: str,
    now: datetime,
    practices: Iterable[Practice] = (),
    queues: Iterable[str] = (),
    skills: Iterable[str] = (),
    actor: User | None = None,
) -> User:
    """Create a user with a hashed password; emails are unique, case-insensitively."""
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise ValidationFailed("email: not a valid address")
    if role not in set(Role):
        raise ValidationFailed(f"role: expected one of {[r.value for r in Role]}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if not name.strip():
        raise ValidationFailed("name: required")
    if db.session.scalar(select(func.count()).where(User.email == email)):
        raise ValidationFailed(f"email: a user with {email} already exists")
    practices = list(practices)
    if any(p.organization_id != organization_id for p in practices):
        raise ValidationFailed("practices: must belong to the user's organization")
    user = User(
        organization_id=organization_id,
        email=email,
        name=name.strip(),
        role=Role(role),
        password_hash=hash_password(password),
        queues=sorted(set(queues)),
        skills=sorted(set(skills)),
        active=True,
        created_at=now,
        practices=practices,
    )
    db.session.add(user)
    db.session.flush()
    audit_event(
        action="admin:user_create", user=actor, now=now, organization_id=organization_id, target_type="user",
        target_id=user.id, data={"role": user.role.value, "practice_ids": sorted(p.id for p in practices)},
    )  # fmt: skip
    db.session.commit()
    return user


@service
def change_role(*, user: User, role: str, now: datetime, actor: User | None = None) -> User:
    """Give ``user`` another role (their practice scope follows it); the change is on the audit trail."""
    if role not in set(Role):
        raise ValidationFailed(f"role: expected one of {[r.value for r in Role]}")
    before = user.role.value
    if before == role:
        return user
    user.role = Role(role)
    audit_event(
        action="admin:role_change", user=actor, now=now, organization_id=user.organization_id, target_type="user",
        target_id=user.id, data={"from": before, "to": role},
    )  # fmt: skip
    db.session.commit()
    return user


@service
def authenticate(
    *,
    email: str,
    password: str,
    now: datetime,
    remote_addr: str | None,
    max_failures: int,
    window: timedelta,
) -> User | None:
    """The user if the password matches; None otherwise. Refuses (LoginRefused) while throttled.

    Failures are counted per email over a sliding window; a success clears them.
    """
    email = normalize_email(email)
    failures = db.session.scalars(
        select(LoginFailure.at).where(LoginFailure.email == email, LoginFailure.at > now - window)
    ).all()
    user = db.session.scalar(select(User).where(User.email == email))
    locked_for = login_locked_for(failures, now=now, max_failures=max_failures, window=window)
    if locked_for is not None:
        # The trail names the account by id when there is one, never by the email typed.
        audit_event(action="login_locked", user=user, now=now, data={"failures": len(failures)})
        db.session.commit()
        raise LoginRefused(locked_for)
    if user is None or not user.active or not _verify(user.password_hash, password):
        if user is None:
            _verify(_DUMMY_HASH, password)
        reason = "unknown_account" if user is None else "inactive" if not user.active else "wrong_password"
        db.session.add(LoginFailure(email=email, remote_addr=remote_addr, at=now))
        audit_event(action="login_failed", user=user, now=now, data={"reason": reason})
        db.session.commit()
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    audit_event(action="login", user=user, now=now)
    db.session.commit()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
