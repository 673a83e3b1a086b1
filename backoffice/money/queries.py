"""Reads for the money screens, scoped to the practices the user may see."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.money.models import PatientPayment, RefundRequest
from backoffice.patients.models import LedgerEntry, Patient

LIMIT = 500


def payments_of(patient_id: int) -> list[PatientPayment]:
    """The patient's payments, newest first."""
    return list(db.session.scalars(select(PatientPayment).where(PatientPayment.patient_id == patient_id)
                                   .order_by(PatientPayment.received_on.desc(), PatientPayment.id.desc())))  # fmt: skip


def patient_credits(practice_ids: Collection[int]) -> list[tuple[Patient, Decimal]]:
    """Patients whose ledger is below zero (the practice owes them), largest credit first."""
    total = func.sum(LedgerEntry.amount)
    rows = db.session.execute(
        select(LedgerEntry.patient_id, total).where(LedgerEntry.practice_id.in_(list(practice_ids)))
        .group_by(LedgerEntry.patient_id).having(total < 0).order_by(total).limit(LIMIT)
    ).all()  # fmt: skip
    patients = {p.id: p for p in db.session.scalars(select(Patient).where(Patient.id.in_([r[0] for r in rows])))}
    return [(patients[pid], -Decimal(amount).quantize(Decimal("0.01"))) for pid, amount in rows]


def payer_credits(practice_ids: Collection[int]) -> list[tuple[Claim, Decimal]]:
    """Claims the payer paid beyond charge − adjustments − patient responsibility, largest first."""
    balance = Claim.total_charge - Claim.paid_amount - Claim.adjustment_amount - Claim.patient_responsibility
    rows = db.session.execute(
        select(Claim, balance).where(Claim.practice_id.in_(list(practice_ids)), balance < 0).order_by(balance)
        .limit(LIMIT)
    ).all()  # fmt: skip
    return [(claim, -Decimal(amount).quantize(Decimal("0.01"))) for claim, amount in rows]


def refund_requests(practice_ids: Collection[int]) -> list[Any]:
    """Refund requests not posted or rejected yet first, then the latest decided ones."""
    return list(db.session.scalars(
        select(RefundRequest).where(RefundRequest.practice_id.in_(list(practice_ids)))
        .order_by(RefundRequest.state.in_(["posted", "rejected"]), RefundRequest.id.desc()).limit(LIMIT)
    ))  # fmt: skip
