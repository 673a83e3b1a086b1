"""Practice-scoped patients, their insurance coverages and prior authorizations (all PHI)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from backoffice.db_types import UTCDateTime, str_enum
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.patients.kinds import CoveragePriority, Relationship, Sex  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from backoffice.orgs.models import Payer


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("practice_id", "account_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    account_number: Mapped[str] = mapped_column(String(40))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[Sex] = mapped_column(str_enum(Sex, 1))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(9))
    phone: Mapped[str | None] = mapped_column(String(20))

    coverages: Mapped[list[Coverage]] = relationship(back_populates="patient")

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"


class Coverage(db.Model):
    __tablename__ = "coverages"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    member_id: Mapped[str] = mapped_column(String(40))
    group_number: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[CoveragePriority] = mapped_column(str_enum(CoveragePriority, 10))
    relationship_to_subscriber: Mapped[Relationship] = mapped_column(str_enum(Relationship, 2))
    subscriber_first_name: Mapped[str | None] = mapped_column(String(100))
    subscriber_last_name: Mapped[str | None] = mapped_column(String(100))
    subscriber_date_of_birth: Mapped[date | None]
    subscriber_sex: Mapped[Sex | None] = mapped_column(str_enum(Sex, 1))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]

    patient: Mapped[Patient] = relationship(back_populates="coverages")
    payer: Mapped[Payer] = relationship()

    def is_active_on(self, day: date) -> bool:
        """Whether this coverage is in force on ``day`` (both ends inclusive)."""
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class Authorization(db.Model):
    """A payer's prior authorization for a patient: CPTs, units (or visits) authorized and used."""

    __tablename__ = "authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    number: Mapped[str] = mapped_column(String(50))
    cpt_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    counts_visits: Mapped[bool] = mapped_column(default=True)
    authorized: Mapped[int]
    used: Mapped[int] = mapped_column(default=0)
    start_date: Mapped[date]
    end_date: Mapped[date]

    @validates("authorized", "used")
    def _validate_counts(self, key: str, value: int) -> int:
        if value is None or int(value) < 0:
            raise ValidationFailed(f"authorization {key}: zero or more")
        return int(value)

    @property
    def remaining(self) -> int:
        return max(self.authorized - self.used, 0)


class BenefitsCheck(db.Model):
    """What a payer said about a coverage on one day (a 271, or a biller's call): the benefits record that
    verify-benefits produces and planning reads (a fresh one skips the step). Unknown answers stay null."""

    __tablename__ = "benefits_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    coverage_id: Mapped[int | None] = mapped_column(ForeignKey("coverages.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))  # "271", "manual"
    active: Mapped[bool | None]
    in_network: Mapped[bool | None]
    copay: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    coinsurance_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    deductible_remaining: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    out_of_pocket_remaining: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    visits_allowed: Mapped[int | None]
    visits_remaining: Mapped[int | None]
    auth_required: Mapped[bool | None]
    # EB01 = U: behavioral health is carved out to this payer (name and identifier as the 271 gave them).
    carve_out_payer_name: Mapped[str | None] = mapped_column(String(200))
    carve_out_payer_id: Mapped[str | None] = mapped_column(String(80))
    # Payer messages, AAA rejections and anything the record could not be sure about.
    messages: Mapped[list[str]] = mapped_column(JSON, default=list)
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class LedgerEntry(db.Model):
    """One movement of a patient's balance: what the patient owes is the sum of ``amount`` (positive adds to
    the balance: patient responsibility from an 835; negative reduces it: a payment, a reversal, a waiver)."""

    __tablename__ = "patient_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    claim_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    # The patient payment an application or credit came from (money/services.record_patient_payment).
    patient_payment_id: Mapped[int | None] = mapped_column(ForeignKey("patient_payments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # patient_responsibility, reversal, patient_payment, ...
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str] = mapped_column(String(200))  # e.g. "PR-1 deductible"
    at: Mapped[datetime] = mapped_column(UTCDateTime())
