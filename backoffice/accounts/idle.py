"""Automatic logoff (HIPAA 164.312(a)(2)(iii)): a browser session idle for ``session_idle_minutes`` is ended.

The last request time lives in the signed session cookie; the cookie itself also expires after the same idle
time (``PERMANENT_SESSION_LIFETIME``), but the server does not rely on the browser dropping it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from backoffice import clock
from backoffice.audit.services import record_event

LAST_SEEN = "seen"
# The timer is kept to the minute: rewriting (and re-signing) the session cookie on every request costs each page
# its Set-Cookie; refreshing it once a minute means a session may end up to a minute early, never late.
REFRESH_SECONDS = 60


def idle_seconds_allowed() -> int:
    return current_app.config["BACKOFFICE_SETTINGS"].session_idle_minutes * 60


def mark_active(now_ts: float | None = None) -> None:
    """Restart the idle timer (each request does; sign-in too)."""
    session[LAST_SEEN] = int(now_ts if now_ts is not None else clock.utcnow().timestamp())


def enforce_idle_logoff() -> Any:
    """Before each browser request: sign out a session idle too long (back to /login), else refresh its timer."""
    if request.endpoint in (None, "static") or request.blueprint == "api":
        return None  # static files are not activity; the API authenticates each request by token
    if not current_user.is_authenticated:
        return None
    now = clock.utcnow()
    seen = session.get(LAST_SEEN)
    if isinstance(seen, int) and now.timestamp() - seen > idle_seconds_allowed():
        minutes = idle_seconds_allowed() // 60
        record_event(action="idle_logoff", user=current_user, now=now, data={"idle_minutes": minutes})
        logout_user()
        session.clear()
        flash(f"You were signed out after {minutes} minutes without activity. Sign in again to continue.", "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("accounts.login", next=target))
    if not isinstance(seen, int) or now.timestamp() - seen >= REFRESH_SECONDS:
        mark_active(now.timestamp())
    return None
