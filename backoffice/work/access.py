"""Load a work item for a user, within their practice scope, or 404 (never a leak)."""

from __future__ import annotations

from flask import abort

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.work.models import WorkItem


def get_item_for_user_or_404(item_id: int, user: User) -> WorkItem:
    """The item if it belongs to a practice ``user`` serves; otherwise 404, whether or not it exists."""
    item = db.session.get(WorkItem, item_id)
    if item is None or item.practice_id not in practice_ids_for(user):
        abort(404)
    return item
