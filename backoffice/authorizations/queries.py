"""Reads: the authorizations a claim's lines may draw on, and what a claim already took."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from backoffice.authorizations.models import AuthorizationUse
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.patients.models import Authorization


def authorizations_of(patient_id: int, payer_id: int) -> list[Authorization]:
    """The patient's authorizations with this payer, ending first first."""
    stmt = select(Authorization).where(Authorization.patient_id == patient_id, Authorization.payer_id == payer_id)
    return list(db.session.scalars(stmt.order_by(Authorization.end_date, Authorization.id)))


def active_uses(claim_ids: Iterable[int]) -> list[AuthorizationUse]:
    """The unreleased uses of these claims."""
    ids = list(claim_ids)
    if not ids:
        return []
    stmt = select(AuthorizationUse).where(AuthorizationUse.claim_id.in_(ids), AuthorizationUse.released_at.is_(None))
    return list(db.session.scalars(stmt.order_by(AuthorizationUse.id)))


def units_taken_by_session(session_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """session id → authorization id → units or visits its claims hold (given back before re-scrubbing it)."""
    ids = list(session_ids)
    taken: dict[int, dict[int, int]] = defaultdict(dict)
    if not ids:
        return taken
    stmt = (
        select(Claim.session_id, AuthorizationUse.authorization_id, AuthorizationUse.units)
        .join(Claim, Claim.id == AuthorizationUse.claim_id)
        .where(Claim.session_id.in_(ids), AuthorizationUse.released_at.is_(None))
    )
    for session_id, auth_id, units in db.session.execute(stmt):
        taken[session_id][auth_id] = taken[session_id].get(auth_id, 0) + units
    return taken


def authorization_number_for(claim: Claim) -> str | None:
    """REF*G1 for a claim: the number of the authorization its lines draw on (the one most of them use)."""
    stmt = (
        select(Authorization.number)
        .join(AuthorizationUse, AuthorizationUse.authorization_id == Authorization.id)
        .where(AuthorizationUse.claim_id == claim.id, AuthorizationUse.released_at.is_(None))
        .order_by(AuthorizationUse.units.desc(), AuthorizationUse.id)
        .limit(1)
    )
    return db.session.scalar(stmt)
