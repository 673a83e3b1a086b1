"""Multi-factor sign-in (HIPAA 164.312(d)): TOTP enrolment with a QR code, one-time recovery codes, the
organization's setting of which roles must use it, and an admin's reset. Every step is on the audit trail."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, func, select, update

from backoffice.accounts.models import RecoveryCode, User
from backoffice.accounts.rules import (
    MAX_REMEMBER_DAYS,
    RECOVERY_ALPHABET,
    RECOVERY_CODE_COUNT,
    RECOVERY_GROUPS,
    Role,
    ThrottleLimits,
    format_recovery_code,
    is_totp_shaped,
    mfa_required,
    provisioning_uri,
    recovery_code_digest,
    totp_step,
)
from backoffice.accounts.signins import end_all_sessions
from backoffice.accounts.throttle import credit_success, reserve_for_user
from backoffice.audit.services import audit_event
from backoffice.errors import InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Organization
from backoffice.services_base import service

ISSUER = "backoffice"


def organization_of(user: User) -> Organization:
    return db.session.get(Organization, user.organization_id)


def must_use_mfa(user: User) -> bool:
    """Whether the user's organization requires a second factor of their role."""
    return mfa_required(user.role, organization_of(user).mfa_required_roles or [])


@service
def begin_enrolment(*, user: User, now: datetime) -> str:
    """The secret the user is enrolling with (a new one, or the one shown before, so a reload keeps the QR code)."""
    if user.mfa_enrolled:
        raise InvalidTransition("two-step sign-in is already set up; an admin can reset it")
    if user.mfa_pending_secret is None:
        user.mfa_pending_secret = pyotp.random_base32()
        db.session.commit()
    return user.mfa_pending_secret


def enrolment_qr(user: User, secret: str) -> str:
    """The otpauth:// URI of ``secret`` as an SVG data: URI for an <img> (the CSP allows data: images, no inline
    SVG or script needed)."""
    issuer = f"{ISSUER} ({organization_of(user).name})"
    return segno.make(provisioning_uri(secret, account=user.email, issuer=issuer), error="m").svg_data_uri(scale=5)


@service
def confirm_enrolment(
    *, user: User, code: str, now: datetime, remote_addr: str | None, limits: ThrottleLimits
) -> list[str] | None:
    """Finish enrolment with a code from the app: returns the recovery codes (shown once), or None for a wrong code.
    Codes are throttled like passwords."""
    if user.mfa_enrolled or user.mfa_pending_secret is None:
        raise InvalidTransition("start setting up two-step sign-in again")
    reserve_for_user(user, remote_addr=remote_addr, now=now, limits=limits, factor="code")
    step = totp_step(user.mfa_pending_secret, code, now)
    if step is None:
        audit_event(action="mfa_failed", user=user, now=now, data={"during": "enrolment"})
        db.session.commit()
        return None
    user.mfa_secret, user.mfa_pending_secret = user.mfa_pending_secret, None
    user.mfa_enabled_at, user.mfa_last_step = now, step
    codes = _new_recovery_codes(user, now)
    credit_success(remote_addr=remote_addr)
    audit_event(action="mfa_enrol", user=user, now=now)
    db.session.commit()
    return codes


@service
def verify_second_factor(
    *, user: User, code: str, now: datetime, remote_addr: str | None, limits: ThrottleLimits
) -> str | None:
    """Check a TOTP code (each good once) or a recovery code (used up); returns the method ("totp" or
    "recovery_code") or None. Throttled like passwords; every use and failure is on the audit trail."""
    if not user.mfa_enrolled:
        raise InvalidTransition("two-step sign-in is not set up for this account")
    reserve_for_user(user, remote_addr=remote_addr, now=now, limits=limits, factor="code")
    method = _use_totp(user, code, now) if is_totp_shaped(code) else _use_recovery_code(user, code, now)
    if method is None:
        audit_event(action="mfa_failed", user=user, now=now)
        db.session.commit()
        return None
    data: dict[str, object] = {"method": method}
    if method == "recovery_code":
        data["recovery_codes_left"] = recovery_codes_left(user)
    credit_success(remote_addr=remote_addr)
    audit_event(action="mfa_use", user=user, now=now, data=data)
    db.session.commit()
    return method


def _use_totp(user: User, code: str, now: datetime) -> str | None:
    step = totp_step(user.mfa_secret or "", code, now)
    if step is None:
        return None
    taken = db.session.execute(  # a code is good once: a replay within its 90 seconds is refused
        update(User)
        .where(User.id == user.id, (User.mfa_last_step.is_(None)) | (User.mfa_last_step < step))
        .values(mfa_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        return None
    user.mfa_last_step = step
    return "totp"


def _use_recovery_code(user: User, code: str, now: datetime) -> str | None:
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == recovery_code_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return "recovery_code" if used.rowcount == 1 else None


def recovery_codes_left(user: User) -> int:
    return (
        db.session.scalar(select(func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))
        or 0
    )


@service
def regenerate_recovery_codes(*, user: User, now: datetime) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working); shown once."""
    if not user.mfa_enrolled:
        raise InvalidTransition("set up two-step sign-in first")
    codes = _new_recovery_codes(user, now)
    audit_event(action="mfa_recovery_codes", user=user, now=now)
    db.session.commit()
    return codes


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    size = 4 * RECOVERY_GROUPS
    codes = [format_recovery_code("".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(size)))
             for _ in range(RECOVERY_CODE_COUNT)]  # fmt: skip
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=recovery_code_digest(code), created_at=now) for code in codes
    )
    return codes


@service
def reset_mfa(*, user: User, now: datetime, actor: User | None = None) -> None:
    """An admin's reset for a lost phone: the TOTP secret, recovery codes and remembered devices go, and every
    session ends; the user enrols again at their next sign-in if their role requires it."""
    if actor is not None and actor.organization_id != user.organization_id:
        raise NotAllowed("not a user of your organization")
    was_enrolled = user.mfa_enrolled
    user.mfa_secret = user.mfa_pending_secret = user.mfa_enabled_at = user.mfa_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    ended = end_all_sessions(user=user, now=now, reason="mfa_reset")
    audit_event(
        action="admin:mfa_reset", user=actor, now=now, organization_id=user.organization_id, target_type="user",
        target_id=user.id, data={"was_enrolled": was_enrolled, "sessions": ended},
    )  # fmt: skip
    db.session.commit()


@service
def set_mfa_policy(
    *, organization: Organization, roles: Iterable[str], remember_days: int, now: datetime, actor: User | None = None
) -> Organization:
    """Which roles must sign in with a second factor, and how many days a browser is remembered (0 to 90)."""
    chosen = sorted(set(roles))
    unknown = set(chosen) - {role.value for role in Role}
    if unknown:
        raise ValidationFailed(f"roles: expected some of {[role.value for role in Role]}")
    if not 0 <= remember_days <= MAX_REMEMBER_DAYS:
        raise ValidationFailed(f"remember_days: between 0 and {MAX_REMEMBER_DAYS}")
    before = {"roles": list(organization.mfa_required_roles or []), "remember_days": organization.mfa_remember_days}
    organization.mfa_required_roles, organization.mfa_remember_days = chosen, remember_days
    audit_event(
        action="admin:mfa_policy", user=actor, now=now, organization_id=organization.id,
        target_type="organization", target_id=organization.id,
        data={"from": before, "to": {"roles": chosen, "remember_days": remember_days}},
    )  # fmt: skip
    db.session.commit()
    return organization
