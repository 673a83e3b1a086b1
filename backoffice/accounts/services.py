"""Account use cases: create users, set and change passwords, roles and activity, and check a password at sign-in.
Passwords are hashed with Argon2id and must pass the strength policy (accounts/rules.py ``password_problem``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role, ThrottleLimits, password_problem, practice_binding_problem
from backoffice.accounts.signins import end_all_sessions
from backoffice.accounts.throttle import (
    LoginThrottled,
    credit_success,
    forget_account,
    reserve_attempt,
    reserve_for_user,
)
from backoffice.audit.services import audit_event
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import service

_hasher = PasswordHasher()
# Verified against when there is no account, so every attempt costs one Argon2 verification (made at import: made
# on first use, the first unknown email would cost a hash more than the others).
_DUMMY_HASH = _hasher.hash("not-a-real-password-only-for-equal-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _check_password(password: str, *, email: str, name: str) -> None:
    problem = password_problem(password, user_inputs=(email, name))
    if problem:
        raise ValidationFailed(problem)


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
    if not name.strip():
        raise ValidationFailed("name: required")
    _check_password(password, email=email, name=name)
    if db.session.scalar(select(func.count()).where(User.email == email)):
        raise ValidationFailed(f"email: a user with {email} already exists")
    practices = list(practices)
    if any(p.organization_id != organization_id for p in practices):
        raise ValidationFailed("practices: must belong to the user's organization")
    binding = practice_binding_problem(role, len(practices))
    if binding:
        raise ValidationFailed(binding)
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
    binding = practice_binding_problem(role, len(user.practices))
    if binding:
        raise ValidationFailed(binding)
    user.role = Role(role)
    audit_event(
        action="admin:role_change", user=actor, now=now, organization_id=user.organization_id, target_type="user",
        target_id=user.id, data={"from": before, "to": role},
    )  # fmt: skip
    db.session.commit()
    return user


@service
def change_password(
    *,
    user: User,
    current_password: str,
    new_password: str,
    now: datetime,
    remote_addr: str | None,
    limits: ThrottleLimits,
) -> None:
    """The user's own change: the current password is checked (and throttled like a sign-in), the new one must pass
    the policy, and every session and remembered device of the user ends (the caller signs this browser in again)."""
    _check_password(new_password, email=user.email, name=user.name)
    reserve_for_user(user, remote_addr=remote_addr, now=now, limits=limits, factor="current_password")
    if not _verify(user.password_hash, current_password):
        audit_event(action="password_change_failed", user=user, now=now)
        db.session.commit()
        raise ValidationFailed("current password: not right")
    user.password_hash = hash_password(new_password)
    user.password_change_required = False  # an initial password an admin gave is replaced (onboarding)
    ended = end_all_sessions(user=user, now=now, reason="password_change")
    forget_account(email=user.email, remote_addr=remote_addr)
    audit_event(action="password_change", user=user, now=now, data={"sessions_ended": ended})
    db.session.commit()


@service
def set_password(*, user: User, password: str, now: datetime, actor: User | None = None) -> None:
    """An admin sets a user's password (a forgotten one): the policy applies and every session ends."""
    _check_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    ended = end_all_sessions(user=user, now=now, reason="password_change")
    audit_event(
        action="admin:password_set", user=actor, now=now, organization_id=user.organization_id, target_type="user",
        target_id=user.id, data={"sessions_ended": ended},
    )  # fmt: skip
    db.session.commit()


@service
def set_user_active(*, user: User, active: bool, now: datetime, actor: User | None = None) -> User:
    """Deactivate (every session and remembered device ends; API tokens stop working) or reactivate a user."""
    if actor is not None and actor.id == user.id and not active:
        raise NotAllowed("you cannot deactivate your own account")
    if user.active == active:
        return user
    user.active = active
    ended = 0 if active else end_all_sessions(user=user, now=now, reason="deactivated")
    audit_event(
        action="admin:user_reactivate" if active else "admin:user_deactivate", user=actor, now=now,
        organization_id=user.organization_id, target_type="user", target_id=user.id,
        data={} if active else {"sessions_ended": ended},
    )  # fmt: skip
    db.session.commit()
    return user


@service
def authenticate(
    *, email: str, password: str, now: datetime, remote_addr: str | None, limits: ThrottleLimits | None = None
) -> User | None:
    """The active user whose password this is (the first factor), or None; LoginThrottled while throttled.

    Every attempt is counted before it is checked (accounts/throttle.py) and costs exactly one Argon2 verification,
    whether the account exists, is deactivated or not, so neither the answer nor its time tells them apart.
    """
    email = normalize_email(email)
    user = db.session.scalar(select(User).where(User.email == email))
    try:
        reserve_attempt(email=email, remote_addr=remote_addr, now=now, limits=limits or ThrottleLimits())
    except LoginThrottled:
        # The trail names the account by id when there is one, never by the email typed.
        audit_event(action="login_throttled", user=user, now=now)
        db.session.commit()
        raise
    matches = _verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not user.active or not matches:
        reason = "unknown_account" if user is None else "inactive" if not user.active else "wrong_password"
        audit_event(action="login_failed", user=user, now=now, data={"reason": reason})
        db.session.commit()
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    credit_success(remote_addr=remote_addr)
    db.session.commit()
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
