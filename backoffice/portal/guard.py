"""Practice users reach the client portal and their own account, nothing else: checked before any view runs (the
whole company's screens, item pages and the API answer 403), so a route added later is closed to them until
``accounts.rules.practice_user_may_reach`` opens it."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_login import current_user

from backoffice.accounts.rules import Role, practice_user_may_reach


def confine_practice_users() -> None:
    """``before_request``: a signed-in practice user asking for anything outside the portal gets a 403."""
    if not current_user.is_authenticated or current_user.role != Role.PRACTICE:
        return
    if not practice_user_may_reach(request.endpoint):
        abort(403)


def init_app(app: Flask) -> None:
    app.before_request(confine_practice_users)
