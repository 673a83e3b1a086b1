"""Lookup plus tenant scope for credentialing: a practice by slug within the user's practices (404 otherwise), and
a provider or payer named in input (a refusal naming the field)."""

from __future__ import annotations

from typing import Any

from flask import abort
from sqlalchemy import select

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider


def get_practice_or_404(slug: str, user: User) -> Practice:
    """A practice of the user's organization that the user may see; anything else is a 404."""
    practice = db.session.scalar(select(Practice).where(Practice.slug == slug))
    if (
        practice is None
        or practice.organization_id != user.organization_id
        or practice.id not in practice_ids_for(user)
    ):
        abort(404)
    return practice


def get_provider_or_404(practice: Practice, provider_id: int) -> Provider:
    provider = db.session.get(Provider, provider_id)
    if provider is None or provider.practice_id != practice.id:
        abort(404)
    return provider


def provider_by_npi(practice: Practice, npi: Any) -> Provider:
    """The practice's provider with this NPI (ValidationFailed naming ``provider_npi`` otherwise)."""
    if not isinstance(npi, str) or not npi:
        raise ValidationFailed("provider_npi: required (the provider's 10-digit NPI)")
    provider = db.session.scalar(select(Provider).where(Provider.practice_id == practice.id, Provider.npi == npi))
    if provider is None:
        raise ValidationFailed("provider_npi: no provider with this NPI in the practice")
    return provider


def payer_by_code(practice: Practice, code: Any) -> Payer:
    """The organization's payer with this payer ID (ValidationFailed naming ``payer_id`` otherwise)."""
    if not isinstance(code, str) or not code:
        raise ValidationFailed("payer_id: required (the payer's ID in the payer directory)")
    payer = db.session.scalar(
        select(Payer).where(Payer.organization_id == practice.organization_id, Payer.payer_id == code)
    )
    if payer is None:
        raise ValidationFailed("payer_id: unknown payer")
    return payer


def payers_of(practice: Practice) -> list[Payer]:
    return list(
        db.session.scalars(
            select(Payer).where(Payer.organization_id == practice.organization_id, Payer.active.is_(True))
            .order_by(Payer.name)
        )
    )  # fmt: skip
