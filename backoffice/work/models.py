"""Owned work items with SLA timers, their dependencies, and the append-only interaction log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db
from backoffice.work.rules import InteractionKind, ItemState, Mode

if TYPE_CHECKING:
    from backoffice.accounts.models import User
    from backoffice.claims.models import Claim
    from backoffice.orgs.models import Practice
    from backoffice.sessions.models import Session


class WorkItemDependency(db.Model):
    """``item_id`` stays blocked until ``depends_on_id`` is done."""

    __tablename__ = "work_item_dependencies"

    item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True)
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class WorkItem(db.Model):
    """One owned step of a chain. ``kind`` is a free string so exception kinds can be added later."""

    __tablename__ = "work_items"
    __table_args__ = (
        CheckConstraint(
            "session_id IS NOT NULL OR claim_id IS NOT NULL OR claim_payment_id IS NOT NULL"
            " OR edi_file_id IS NOT NULL OR authorization_id IS NOT NULL OR patient_id IS NOT NULL"
            " OR provider_id IS NOT NULL OR deposit_id IS NOT NULL",
            name="has_subject",
        ),
        Index("ix_work_items_claimable", "state", "mode", "practice_id", "priority", "due_at"),
        Index("ix_work_items_assignee_state", "assignee_id", "state"),
        Index("ix_work_items_queue_state", "queue", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"), index=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    # Exception items can be about a remittance line that matched no claim, a whole EDI file (unbalanced,
    # unreadable) or an authorization running out.
    claim_payment_id: Mapped[int | None] = mapped_column(ForeignKey("claim_payments.id"))
    edi_file_id: Mapped[int | None] = mapped_column(ForeignKey("edi_files.id"))
    authorization_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"))
    # Patient-balance work (a payment-plan reminder, a Good Faith Estimate to issue) is about a patient.
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    # Credentialing work (a licence or an enrolment about to expire) is about a provider.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    # Deposit reassociation work (a bank deposit no ERA has matched) is about a deposit.
    deposit_id: Mapped[int | None] = mapped_column(ForeignKey("deposits.id"))
    # Denormalized for queue filters, routing and Get next at a million items: the payer the work is with,
    # the dollars at stake (claim balance, denied amount), and for denials the CARC family and first code.
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    denial_family: Mapped[str | None] = mapped_column(String(32))
    reason_code: Mapped[str | None] = mapped_column(String(16))  # e.g. "CO-50"
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    state: Mapped[ItemState] = mapped_column(str_enum(ItemState, 16))
    mode: Mapped[Mode] = mapped_column(str_enum(Mode, 16))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    queue: Mapped[str] = mapped_column(String(64), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_policy: Mapped[str | None] = mapped_column(String(64))
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # True when a sweep escalated it (SLA breach, unpaid follow-up), False when a person did.
    auto_escalated: Mapped[bool] = mapped_column(default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    practice: Mapped[Practice] = relationship()
    session: Mapped[Session | None] = relationship()
    claim: Mapped[Claim | None] = relationship()
    assignee: Mapped[User | None] = relationship()

    @property
    def subject_type(self) -> str:
        if self.claim_id is not None:
            return "claim"
        if self.session_id is not None:
            return "session"
        if self.claim_payment_id is not None:
            return "remittance"
        if self.patient_id is not None:
            return "patient"
        if self.provider_id is not None:
            return "provider"
        if self.deposit_id is not None:
            return "deposit"
        return "file" if self.edi_file_id is not None else "authorization"


class Interaction(db.Model):
    """One append-only entry: a note, payer call, state change, assignment, automation result or document.

    ``actor_user_id`` is null for system actors, whose name is in ``actor_label``.
    """

    __tablename__ = "interactions"
    __table_args__ = (
        CheckConstraint(
            "work_item_id IS NOT NULL OR claim_id IS NOT NULL OR session_id IS NOT NULL",
            name="has_subject",
        ),
        Index("ix_interactions_item_at", "work_item_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    work_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id"), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[InteractionKind] = mapped_column(str_enum(InteractionKind, 16))
    body: Mapped[str | None] = mapped_column(Text)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Structured payer-call fields (kind == call).
    payer_id: Mapped[int | None] = mapped_column(ForeignKey("payers.id"))
    phone_line: Mapped[str | None] = mapped_column(String(40))
    representative: Mapped[str | None] = mapped_column(String(120))
    reference_number: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str | None] = mapped_column(String(32))
    next_action: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int | None]

    actor: Mapped[User | None] = relationship()


class KpiSnapshot(db.Model):
    """The nightly aging/KPI figures of one practice on one day (figures as JSON: the report reads history)."""

    __tablename__ = "kpi_snapshots"
    __table_args__ = (UniqueConstraint("practice_id", "day", name="uq_kpi_snapshots_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    day: Mapped[date]
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SlaPause(db.Model):
    """A stretch of time an item's SLA did not run because it waited on someone outside the billing company (the
    practice answering a request): the item was blocked on ``cause_item_id``; ``due_before`` is its due time when
    the pause began, and on release it becomes due later by the time paused (``rules.resumed_due_at``)."""

    __tablename__ = "sla_pauses"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_items.id", ondelete="CASCADE"), index=True)
    cause_item_id: Mapped[int | None] = mapped_column(ForeignKey("work_items.id", ondelete="SET NULL"))
    waiting_on: Mapped[str] = mapped_column(String(16))  # who the time is attributed to: "practice"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
