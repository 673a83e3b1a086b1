"""Pure account rules: roles, safe redirects, login throttling."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit


class Role(StrEnum):
    BILLER = "biller"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


def sees_whole_organization(role: Role) -> bool:
    """Supervisors and admins see every practice of their organization; billers only theirs."""
    return role in (Role.SUPERVISOR, Role.ADMIN)


def is_safe_next(target: str | None) -> bool:
    """Whether a post-login ``next`` target is a local path (no scheme, host, or protocol-relative trick)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def login_locked_for(
    failures: Iterable[datetime], *, now: datetime, max_failures: int, window: timedelta
) -> timedelta | None:
    """How long login stays refused after too many recent failures, or None when it is allowed.

    The lock lasts until the oldest of the last ``max_failures`` failures leaves the window.
    """
    recent = sorted(at for at in failures if now - at < window)
    if len(recent) < max_failures:
        return None
    unlock_at = recent[-max_failures] + window
    return unlock_at - now
