"""The Sandbox payer's own data: its member file (who it covers, with what benefits) and its settings (how often
it rejects, how long it takes to answer, how often its 835s carry PLBs). Seeded by the demo and the tests, never
read from our coverages: a 270 or a claim for a member the Sandbox does not know is rejected, as a payer would."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.extensions import db


class SandboxMember(db.Model):
    """One person the Sandbox payer covers. A dependent (``relationship`` other than 18) shares its subscriber's
    ``member_id`` and is told apart by name and date of birth, as payers do for dependents without their own ID."""

    __tablename__ = "sandbox_members"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "payer_id", "member_id", "first_name", "date_of_birth", name="uq_sandbox_members_person"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    payer_id: Mapped[str] = mapped_column(String(80))  # the payer's EDI ID (2100A NM109)
    member_id: Mapped[str] = mapped_column(String(40))  # the subscriber's member ID
    relationship: Mapped[str] = mapped_column(String(2), default="18")  # X12 INS02/SBR02: 18 self, 19 child, 01 spouse
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[str] = mapped_column(String(1), default="U")
    plan_name: Mapped[str] = mapped_column(String(60), default="SANDBOX HEALTH PLAN")
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    copay: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    coinsurance_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    deductible_remaining: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    visits_allowed: Mapped[int | None] = mapped_column(Integer)
    visits_used: Mapped[int] = mapped_column(Integer, default=0)
    auth_required: Mapped[bool] = mapped_column(default=False)
    in_network: Mapped[bool] = mapped_column(default=True)
    # Behavioral health managed by another payer (EB*U with its NM1*PR).
    carve_out_payer_name: Mapped[str | None] = mapped_column(String(100))
    carve_out_payer_id: Mapped[str | None] = mapped_column(String(80))
    # A Medicare member who also has Medicaid: the Sandbox crosses claims over (835 CLP02 19 with NM1*TT).
    crossover_payer_name: Mapped[str | None] = mapped_column(String(100))
    crossover_payer_id: Mapped[str | None] = mapped_column(String(80))

    def is_active_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


class SandboxSettings(db.Model):
    """How the Sandbox behaves for one organization; every rate is a percentage picked by a hash of ``seed`` and
    what is being answered, so the same settings give the same answers. No row: the defaults below (all zero)."""

    __tablename__ = "sandbox_settings"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    delay_minutes: Mapped[int] = mapped_column(Integer, default=0)  # answers are fetchable this long after a send
    reject_999_percent: Mapped[int] = mapped_column(Integer, default=0)  # of transaction sets (IK5 R)
    reject_277ca_percent: Mapped[int] = mapped_column(Integer, default=0)  # of claims, besides member/NPI problems
    recoupment_percent: Mapped[int] = mapped_column(Integer, default=0)  # of paid claims, recouped by a PLB WO
    interest_percent: Mapped[int] = mapped_column(Integer, default=0)  # of 835s paying PLB L6 interest
    reversal_percent: Mapped[int] = mapped_column(Integer, default=0)  # of paid claims reversed (22) and corrected
