"""Sign-in throttling shared by every web process through the database (it keeps working when Redis is down).

Each attempt (a password, a TOTP or recovery code, a current password on the password form) is counted in its
buckets *before* it is checked, one guarded UPDATE per bucket in one short transaction: at most the limit of
concurrent attempts ever reach Argon2, however many processes take them. Past a bucket's limit every further attempt
waits (30 s, doubling, at most the window); nothing locks an account for good, and an attacker's address does not
slow down the user signing in from their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backoffice.accounts.models import LoginThrottle, User
from backoffice.accounts.rules import (
    ThrottleLimits,
    account_address_key,
    account_key,
    address_key,
    throttle_buckets,
    throttle_message,
    throttle_wait,
)
from backoffice.audit.services import audit_event
from backoffice.errors import NotAllowed
from backoffice.extensions import db
from backoffice.services_base import is_postgres, service


class LoginThrottled(NotAllowed):
    """Too many attempts: ``retry_after`` says how long to wait (the message is the same for every account)."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(throttle_message(retry_after))
        self.retry_after = retry_after


@service
def reserve_attempt(*, email: str, remote_addr: str | None, now: datetime, limits: ThrottleLimits) -> None:
    """Count one attempt for ``email`` from ``remote_addr`` in every bucket, or raise LoginThrottled (counting it
    nowhere) while a bucket says wait. Commits, so the count is visible to every process before the slow check."""
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_at < now - limits.window))
    buckets = throttle_buckets(email, remote_addr, limits)
    for key, limit in buckets:
        if not _count(key, limit, now=now, window=limits.window):
            db.session.rollback()
            raise LoginThrottled(_longest_wait([k for k, _ in buckets], now))
    db.session.commit()


def _count(key: str, limit: int, *, now: datetime, window: timedelta) -> bool:
    """One more attempt in bucket ``key`` unless it must wait (False). The WHERE is the guard: on PostgreSQL a
    concurrent attempt waits for this row's lock, then sees the wait this one set."""
    for _ in range(2):  # a second time if a concurrent sweep removed the row between the insert and the update
        insert = (pg_insert if is_postgres() else sqlite_insert)(LoginThrottle)
        db.session.execute(
            insert.values(key=key, attempts=0, last_at=now).on_conflict_do_nothing(index_elements=["key"])
        )
        attempts = db.session.scalar(
            update(LoginThrottle)
            .where(LoginThrottle.key == key)
            .where((LoginThrottle.wait_until.is_(None)) | (LoginThrottle.wait_until <= now))
            .values(
                attempts=case((LoginThrottle.last_at < now - window, 1), else_=LoginThrottle.attempts + 1),
                last_at=now,
                wait_until=None,
            )
            .returning(LoginThrottle.attempts)
            .execution_options(synchronize_session=False)
        )
        if attempts is not None:
            wait = throttle_wait(attempts, limit, window)
            if wait is not None:
                db.session.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.key == key)
                    .values(wait_until=now + wait)
                    .execution_options(synchronize_session=False)
                )
            return True
        if db.session.scalar(select(func.count()).where(LoginThrottle.key == key)):
            return False  # the row is there and says wait
    return False


def _longest_wait(keys: list[str], now: datetime) -> timedelta:
    until = db.session.scalar(select(func.max(LoginThrottle.wait_until)).where(LoginThrottle.key.in_(keys)))
    return max(until - now, timedelta(seconds=1)) if until is not None else timedelta(seconds=1)


def credit_success(*, remote_addr: str | None) -> None:
    """A factor was right: it is not a failure from its address (the caller commits)."""
    db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == address_key(remote_addr), LoginThrottle.attempts > 0)
        .values(attempts=LoginThrottle.attempts - 1)
        .execution_options(synchronize_session=False)
    )


def forget_account(*, email: str, remote_addr: str | None) -> None:
    """The account signed in (every factor right): its own buckets start again (the caller commits). The address's
    bucket keeps its failures, so that one good account does not wash another's failures away."""
    keys = [account_key(email), account_address_key(email, remote_addr)]
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


def reserve_for_user(
    user: User, *, remote_addr: str | None, now: datetime, limits: ThrottleLimits, factor: str
) -> None:
    """``reserve_attempt`` for a known user's check after the password (a code, the current password): a throttled
    attempt is on the audit trail (``login_throttled`` with the ``factor``), committed before it is refused."""
    try:
        reserve_attempt(email=user.email, remote_addr=remote_addr, now=now, limits=limits)
    except LoginThrottled:
        audit_event(action="login_throttled", user=user, now=now, data={"factor": factor})
        db.session.commit()
        raise
