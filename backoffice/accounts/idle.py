"""Automatic logoff (HIPAA 164.312(a)(2)(iii)): a browser session idle for ``session_idle_minutes``, or signed in
``session_max_hours`` ago however busy, is ended.

The server decides: the session's row (accounts/signins.py) keeps when it was last used, and an ended session is
revoked, so no copy of its cookie opens anything afterwards. The cookie also expires after the idle time
(``PERMANENT_SESSION_LIFETIME``), but the server does not rely on the browser dropping it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from backoffice import clock
from backoffice.accounts.access import live_session
from backoffice.accounts.rules import session_end_reason
from backoffice.accounts.signins import end_session, touch_session

LAST_SEEN = "seen"
# The timer is kept to the minute: writing the session's row and re-signing its cookie on every request costs each
# page a write and a Set-Cookie; refreshing them once a minute means a session may end up to a minute early, never
# late.
REFRESH_SECONDS = 60


def idle_seconds_allowed() -> int:
    return current_app.config["BACKOFFICE_SETTINGS"].session_idle_minutes * 60


def mark_active(now_ts: float | None = None) -> None:
    """Re-send the session cookie (its expiry restarts); sign-in does, then each request once a minute."""
    session[LAST_SEEN] = int(now_ts if now_ts is not None else clock.utcnow().timestamp())


def enforce_idle_logoff() -> Any:
    """Before each browser request: end a session idle or open too long (back to /login), else keep it alive."""
    if request.endpoint in (None, "static") or request.blueprint == "api":
        return None  # static files are not activity; the API authenticates each request by token
    if not current_user.is_authenticated:
        return None
    live = live_session()
    if live is None:
        return None
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    now = clock.utcnow()
    reason = session_end_reason(
        created_at=live.created_at, last_seen_at=live.last_seen_at, now=now,
        idle=timedelta(seconds=idle_seconds_allowed()), max_age=timedelta(hours=settings.session_max_hours),
    )  # fmt: skip
    if reason is not None:
        minutes = idle_seconds_allowed() // 60
        data = {"idle_minutes": minutes} if reason == "idle" else {"max_hours": settings.session_max_hours}
        end_session(session_id=live.id, user=current_user, now=now, reason=reason, data=data)
        logout_user()
        session.clear()
        if reason == "idle":
            flash(f"You were signed out after {minutes} minutes without activity. Sign in again to continue.", "info")
        else:
            flash(f"You were signed out {settings.session_max_hours} hours after signing in. Sign in again.", "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=target))
    if (now - live.last_seen_at).total_seconds() >= REFRESH_SECONDS:
        touch_session(session_id=live.id, now=now)
        mark_active(now.timestamp())
    return None
