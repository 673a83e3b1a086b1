"""Users of the back office (billers, supervisors, admins), their sign-in sessions, second factors (TOTP, recovery
codes, remembered devices) and the sign-in throttle's counters."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import JSON, Column, ForeignKey, String, Table, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.accounts.rules import Role
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice

user_practices = Table(
    "user_practices",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("practice_id", ForeignKey("practices.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, 16))
    password_hash: Mapped[str] = mapped_column(String(255))
    queues: Mapped[list[str]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # TOTP (RFC 6238): the base32 secret once enrolment is confirmed, the one shown while enrolling, and the last
    # time step a code was accepted for (a code is good once: a replayed one is refused).
    mfa_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_pending_secret: Mapped[str | None] = mapped_column(String(64))
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mfa_last_step: Mapped[int | None] = mapped_column()
    # An initial password an admin chose (issue 16): the user must set their own before doing anything else.
    password_change_required: Mapped[bool] = mapped_column(default=False, server_default=false())

    practices: Mapped[list[Practice]] = relationship(secondary=user_practices)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def mfa_enrolled(self) -> bool:
        return self.mfa_secret is not None


class UserSession(db.Model):
    """One signed-in browser. The cookie holds a random id; the database only its SHA-256, so a copied database
    signs nobody in, and a session ends for good when ``revoked_at`` is set (sign-out, idle, password change,
    deactivation, an admin's "sign out everywhere")."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())  # kept to the minute (accounts/idle.py)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(24))
    mfa: Mapped[str | None] = mapped_column(String(24))  # the second factor it was opened with, if any
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(120))


class TrustedDevice(db.Model):
    """A browser where the user asked not to be asked for a code again until ``expires_at`` (the organization's
    ``mfa_remember_days``); its cookie holds a random token, the database its SHA-256."""

    __tablename__ = "trusted_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_agent: Mapped[str | None] = mapped_column(String(120))


class RecoveryCode(db.Model):
    """A one-time code for when the authenticator is lost: stored as SHA-256 (codes carry ~80 random bits), good
    once (``used_at``)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(db.Model):
    """One throttle bucket (an account from one address, an address, an account), named by a digest so it holds no
    email: the attempts since it was last quiet for a window, and until when the next attempt must wait."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column()
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
