"""Claim versions: what each version of a claim billed (header and lines, as the 837P would carry them), kept
once per (claim, version) with its kind and reason, so a correction never overwrites what went out before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.claims.models import Claim, ClaimVersion
from backoffice.claims.rules import snapshot_changes
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session


def _name(first: str | None, last: str | None) -> str:
    return f"{last or ''}, {first or ''}".strip(", ")


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def snapshot(claim: Claim) -> dict[str, Any]:
    """The claim as it bills now: its header (date of service, patient, subscriber, member ID, payer, diagnoses,
    authorization, rendering and billing provider) and lines, as plain JSON values."""
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    payer = db.session.get(Payer, claim.payer_id)
    practice = db.session.get(Practice, claim.practice_id)
    patient = session.patient if session is not None else None
    provider = session.provider if session is not None else None
    snap: dict[str, Any] = {
        "version": claim.version,
        "status": str(claim.status),
        "frequency_code": claim.frequency_code,
        "payer_claim_number": claim.payer_claim_number or "",
        "payer": f"{payer.name} ({payer.payer_id})" if payer is not None else "",
        "payer_sequence": claim.payer_sequence,
        "date_of_service": _day(session.date_of_service) if session else None,
        "patient_name": _name(patient.first_name, patient.last_name) if patient else "",
        "patient_date_of_birth": _day(patient.date_of_birth) if patient else None,
        "patient_sex": str(patient.sex) if patient else "",
        "member_id": coverage.member_id if coverage else "",
        "group_number": (coverage.group_number or "") if coverage else "",
        "subscriber_name": _name(coverage.subscriber_first_name, coverage.subscriber_last_name) if coverage else "",
        "subscriber_date_of_birth": _day(coverage.subscriber_date_of_birth) if coverage else None,
        "diagnoses": list(session.diagnoses or []) if session else [],
        "auth_number": (session.auth_number or "") if session else "",
        "rendering_provider": f"{provider.last_name}, {provider.first_name} NPI {provider.npi}" if provider else "",
        "billing_provider": f"{practice.name} NPI {practice.group_npi}" if practice else "",
        "lines": [
            f"{line.line_number}: {line.date_of_service.isoformat()} {line.cpt}"
            f"{'-' + '-'.join(line.modifiers) if line.modifiers else ''} x{line.units} POS {line.place_of_service} "
            f"dx {','.join(str(p) for p in line.diagnosis_pointers or [])} {line.charge:.2f}"
            for line in claim.lines
        ],
        "total_charge": f"{claim.total_charge:.2f}",
    }
    return snap


def version_row(claim_id: int, version: int) -> ClaimVersion | None:
    """The stored version ``version`` of a claim, if it was recorded."""
    return db.session.scalar(
        select(ClaimVersion).where(ClaimVersion.claim_id == claim_id, ClaimVersion.version == version)
    )


def record_version(
    claim: Claim, *, kind: str, reason: str, now: datetime, actor: User | None = None
) -> ClaimVersion | None:
    """Keep the claim's current version (once: an existing row for it is left as it is), with what changed since
    the latest version kept before it. Returns the row, or None when the version was already kept."""
    db.session.flush()
    if version_row(claim.id, claim.version) is not None:
        return None
    previous = db.session.scalar(
        select(ClaimVersion)
        .where(ClaimVersion.claim_id == claim.id, ClaimVersion.version < claim.version)
        .order_by(ClaimVersion.version.desc())
        .limit(1)
    )
    snap = snapshot(claim)
    row = ClaimVersion(
        claim_id=claim.id, version=claim.version, frequency_code=claim.frequency_code, kind=kind,
        reason=reason[:500], snapshot=snap, changes=snapshot_changes(previous.snapshot if previous else None, snap),
        actor_user_id=actor.id if actor is not None else None, created_at=now,
    )  # fmt: skip
    db.session.add(row)
    db.session.flush()
    return row


def last_submitted_version(claim: Claim) -> ClaimVersion | None:
    """The kept version of the claim's latest submission (None when never submitted or not kept)."""
    version = db.session.scalar(
        select(func.max(ClaimSubmission.claim_version)).where(ClaimSubmission.claim_id == claim.id)
    )
    return version_row(claim.id, version) if version is not None else None


def versions_of(claim_id: int) -> list[ClaimVersion]:
    """Every kept version of a claim, oldest first."""
    return list(
        db.session.scalars(select(ClaimVersion).where(ClaimVersion.claim_id == claim_id).order_by(ClaimVersion.version))
    )
