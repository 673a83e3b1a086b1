"""Reads for the user admin page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.accounts.rules import mfa_required
from backoffice.accounts.signins import live_session_counts
from backoffice.extensions import db
from backoffice.orgs.models import Organization


@dataclass(frozen=True)
class UserRow:
    user: User
    sessions: int
    mfa_required: bool


def organization_users(organization: Organization) -> list[UserRow]:
    """Every user of the organization, active first, with their live sessions and whether MFA applies to them."""
    users = list(
        db.session.scalars(
            select(User).where(User.organization_id == organization.id).order_by(User.active.desc(), User.name)
        )
    )
    counts = live_session_counts([u.id for u in users])
    roles = organization.mfa_required_roles or []
    return [UserRow(u, counts.get(u.id, 0), mfa_required(u.role, roles)) for u in users]
