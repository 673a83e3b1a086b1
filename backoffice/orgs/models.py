"""The billing company, its client practices, their clinicians, and the payers they bill."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from backoffice.coding.policy import policy_problem
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.rules import (
    Credential,
    PayerKind,
    fee_schedule_problem,
    identifier_problem,
    telehealth_policy_problem,
)

DEFAULT_MFA_ROLES = ("admin", "supervisor")


def _checked(kind: str, field: str, value: str | None, *, optional: bool = False) -> str | None:
    if optional and value is None:
        return None
    problem = identifier_problem(kind, value)
    if problem:
        raise ValidationFailed(f"{field}: {problem}")
    return value


class Organization(db.Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # How we identify ourselves on EDI (837 1000A submitter): the ETIN the clearinghouse assigned us.
    edi_submitter_id: Mapped[str | None] = mapped_column(String(20))
    edi_contact_name: Mapped[str | None] = mapped_column(String(60))
    edi_contact_phone: Mapped[str | None] = mapped_column(String(10))
    # Onboarding (issue 16): the company's legal identity and the submitter name of the 837 1000A loop.
    legal_name: Mapped[str | None] = mapped_column(String(200))
    tax_id: Mapped[str | None] = mapped_column(String(9))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(2))
    zip_code: Mapped[str | None] = mapped_column(String(9))
    edi_submitter_name: Mapped[str | None] = mapped_column(String(60))
    # Multi-factor sign-in (HIPAA 164.312(d)): the roles that must use a TOTP code (admins and supervisors unless an
    # admin changes it), and for how many days a browser may be remembered after a code (0: ask every time).
    mfa_required_roles: Mapped[list[str]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_MFA_ROLES), server_default='["admin", "supervisor"]'
    )
    mfa_remember_days: Mapped[int] = mapped_column(default=30, server_default="30")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    practices: Mapped[list[Practice]] = relationship(back_populates="organization")

    @validates("edi_contact_phone")
    def _validate_phone(self, key: str, value: str | None) -> str | None:
        if value is not None and not (len(value) == 10 and value.isdigit()):
            raise ValidationFailed("organization edi_contact_phone: 10 digits, no punctuation")
        return value


class Practice(db.Model):
    """A client practice. ``owned_steps`` lists the chain steps we are contracted to do for it."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    group_npi: Mapped[str] = mapped_column(String(10))
    tax_id: Mapped[str] = mapped_column(String(9))
    taxonomy: Mapped[str | None] = mapped_column(String(10))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    zip_code: Mapped[str] = mapped_column(String(9))
    phone: Mapped[str | None] = mapped_column(String(20))
    # Where payment goes (837 2010AB) when it is not the service address above; all None: the same address.
    pay_to_line1: Mapped[str | None] = mapped_column(String(200))
    pay_to_city: Mapped[str | None] = mapped_column(String(100))
    pay_to_state: Mapped[str | None] = mapped_column(String(2))
    pay_to_zip_code: Mapped[str | None] = mapped_column(String(9))
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    owned_steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The practice's usual and customary charge per CPT ("90834": "150.00"): what goes in SV102, not what
    # a payer is expected to allow.
    fee_schedule: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    sla_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Underpayment tolerance: a posted line is underpaid when paid + patient responsibility falls short of the
    # contracted allowed amount by more than the larger of these two (dollars, percent of the expected amount).
    underpayment_tolerance: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), default=Decimal("1.00"), server_default="1.00"
    )
    underpayment_tolerance_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal("2.00"), server_default="2.00"
    )
    # Which clearinghouse adapter carries this practice's EDI ("sandbox" or "file_drop") and, for a file
    # drop, the folders the clearinghouse's SFTP sync reads (outbox) and fills (inbox).
    clearinghouse: Mapped[str] = mapped_column(String(16), default="sandbox", server_default="sandbox")
    edi_outbox: Mapped[str | None] = mapped_column(String(500))
    edi_inbox: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(back_populates="practices")
    providers: Mapped[list[Provider]] = relationship(back_populates="practice")

    @validates("fee_schedule")
    def _validate_fees(self, key: str, value: dict[str, str]) -> dict[str, str]:
        problem = fee_schedule_problem(value or {})
        if problem:
            raise ValidationFailed(f"practice fee_schedule: {problem}")
        return dict(value or {})

    @validates("group_npi", "tax_id", "taxonomy", "slug", "zip_code")
    def _validate_identifiers(self, key: str, value: str | None) -> str | None:
        kind = "npi" if key == "group_npi" else key
        return _checked(kind, f"practice {key}", value, optional=key == "taxonomy")


class Provider(db.Model):
    """A rendering clinician of one practice."""

    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("practice_id", "npi"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    npi: Mapped[str] = mapped_column(String(10))
    credential: Mapped[Credential] = mapped_column(str_enum(Credential, 8))
    taxonomy: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(default=True)
    # Licence (state board): an associate may have none yet and bill under a supervisor. Active dates bound the
    # sessions the provider may render. Credentialing (backoffice/credentialing/) edits and watches these.
    license_type: Mapped[str | None] = mapped_column(String(20))
    license_number: Mapped[str | None] = mapped_column(String(40))
    license_state: Mapped[str | None] = mapped_column(String(2))
    license_expires_on: Mapped[date | None]
    active_from: Mapped[date | None]
    active_to: Mapped[date | None]
    # A pre-licensed associate bills under a licensed clinician of the same practice (2310D / payer policy).
    supervising_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))

    practice: Mapped[Practice] = relationship(back_populates="providers")
    supervising_provider: Mapped[Provider | None] = relationship(remote_side="Provider.id")

    @validates("npi", "taxonomy")
    def _validate_identifiers(self, key: str, value: str) -> str | None:
        return _checked(key, f"provider {key}", value)

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}, {self.credential.value}"


class Payer(db.Model):
    """A payer and its rules as data: filing limit, appeal window, telehealth policy, prior-auth CPTs."""

    __tablename__ = "payers"
    __table_args__ = (UniqueConstraint("organization_id", "payer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    payer_id: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[PayerKind] = mapped_column(str_enum(PayerKind))
    filing_limit_days: Mapped[int]
    appeal_window_days: Mapped[int]
    # Days after the original payment/denial a replacement (frequency 7) claim is accepted; None: within timely
    # filing (deadlines.rules.corrected_claim_deadline).
    corrected_claim_window_days: Mapped[int | None]
    telehealth_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prior_auth_cpts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Two services by one clinician on one day that were distinct sessions: 59 or the more specific XE.
    separate_session_modifier: Mapped[str] = mapped_column(String(2), default="59", server_default="59")
    max_96127_units: Mapped[int] = mapped_column(default=4, server_default="4")
    allows_99211_with_addon: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Unit rule, accepted codes, CPT→HCPCS crosswalk, modifier rules and order, associates (coding/policy.py).
    coding_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # Whether a rendering provider must be enrolled (effective) with this payer before its 837 claims go out.
    enrollment_required_837: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Onboarding (issue 16): the payer directory's other facts. Other clearinghouses' IDs for this payer, where
    # claims and appeals go, and whether a provider must be enrolled with
    # this payer before we send it claims (837), eligibility questions (270) or take its remittances (835).
    clearinghouse_payer_ids: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    claims_address: Mapped[str | None] = mapped_column(String(300))
    appeals_address: Mapped[str | None] = mapped_column(String(300))
    appeals_fax: Mapped[str | None] = mapped_column(String(20))
    appeals_portal: Mapped[str | None] = mapped_column(String(300))
    enrollment_required_270: Mapped[bool] = mapped_column(default=True, server_default=true())
    enrollment_required_835: Mapped[bool] = mapped_column(default=True, server_default=true())

    @validates("telehealth_policy")
    def _validate_telehealth(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        problem = telehealth_policy_problem(value or {})
        if problem:
            raise ValidationFailed(f"payer telehealth_policy: {problem}")
        return dict(value or {})

    @validates("coding_policy")
    def _validate_coding_policy(self, key: str, value: dict[str, Any]) -> dict[str, Any]:
        problem = policy_problem(value or {})
        if problem:
            raise ValidationFailed(f"payer coding_policy: {problem}")
        return dict(value or {})

    @validates("separate_session_modifier")
    def _validate_separate_session_modifier(self, key: str, value: str) -> str:
        if value not in ("59", "XE"):
            raise ValidationFailed("payer separate_session_modifier: 59 or XE")
        return value

    @validates("max_96127_units")
    def _validate_96127_cap(self, key: str, value: int) -> int:
        if value is None or not 1 <= int(value) <= 10:
            raise ValidationFailed("payer max_96127_units: between 1 and 10")
        return int(value)

    @validates("filing_limit_days", "appeal_window_days")
    def _validate_days(self, key: str, value: int) -> int:
        if value is None or not 1 <= int(value) <= 3650:
            raise ValidationFailed(f"payer {key}: between 1 and 3650 days")
        return int(value)


class ContractedRate(db.Model):
    """What one payer allows a practice for a CPT/HCPCS (and modifier) from a date: the expected allowed amount.

    ``modifier`` is "" when the rate applies without one. ``effective_to`` None means open-ended. The practice's
    own charge stays in ``Practice.fee_schedule``; underpayment detection compares payments with these rates.
    """

    __tablename__ = "contracted_rates"
    __table_args__ = (
        UniqueConstraint(
            "practice_id", "payer_id", "cpt", "modifier", "effective_from", name="uq_contracted_rates_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    cpt: Mapped[str] = mapped_column(String(5))
    modifier: Mapped[str] = mapped_column(String(2), default="", server_default="")
    allowed: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]

    practice: Mapped[Practice] = relationship()
    payer: Mapped[Payer] = relationship()

    @validates("allowed")
    def _validate_allowed(self, key: str, value: Decimal) -> Decimal:
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise ValidationFailed("contracted rate allowed: a non-negative amount")
        return amount

    def applies_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)
