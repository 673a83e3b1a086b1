"""A void the payer accepted gives the voided claim's authorization units back. Connected by ``app.create_app``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backoffice import signals
from backoffice.authorizations.services import give_back_units
from backoffice.claims.models import Claim


def on_claim_voided(claim: Claim, *, now: datetime, **_: Any) -> None:
    """The void and the original it points at (REF*F8) hold nothing any more."""
    ids = [claim.id] + ([claim.parent_claim_id] if claim.parent_claim_id else [])
    give_back_units(claim_ids=ids, now=now, reason=f"claim {claim.account_number} voided")


def subscribe() -> None:
    signals.claim_voided.connect(on_claim_voided, weak=False)
