"""Imports every feature's models so SQLAlchemy's metadata (and Alembic) sees all tables."""

from backoffice.accounts.models import LoginThrottle, RecoveryCode, TrustedDevice, User, UserSession, user_practices
from backoffice.api.models import ApiToken
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.appointments.models import Appointment
from backoffice.audit.models import AuditEvent
from backoffice.authorizations.models import AuthorizationUse
from backoffice.balances.models import (
    GoodFaithEstimate,
    PatientStatement,
    PaymentPlan,
    PaymentPlanInstalment,
    SlidingScaleDetermination,
    SlidingScaleTier,
)
from backoffice.claims.models import Claim, ClaimLine, ClaimVersion
from backoffice.clearinghouse.models import Connection, FetchedFile
from backoffice.clearinghouse.sandbox_models import SandboxMember, SandboxSettings
from backoffice.contracts.models import ClientContract, Invoice, InvoiceLine, InvoiceSource
from backoffice.credentialing.models import Enrollment
from backoffice.documents.models import Document
from backoffice.exchange.models import ClaimSubmission, ControlNumber, EdiFile
from backoffice.money.models import Deposit, PatientPayment, RefundRequest
from backoffice.orgs.models import ContractedRate, Organization, Payer, Practice, Provider
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, LedgerEntry, Patient
from backoffice.portal.models import PracticeRequest
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, ProviderAdjustment, Remittance
from backoffice.routing.models import RoutingRule
from backoffice.sessions.models import Session
from backoffice.supervisor.models import WriteOffRequest
from backoffice.work.models import Interaction, KpiSnapshot, SlaPause, WorkItem, WorkItemDependency

__all__ = [
    "ApiToken",
    "Appeal",
    "Appointment",
    "AppealTemplate",
    "AuditEvent",
    "Authorization",
    "AuthorizationUse",
    "BenefitsCheck",
    "Claim",
    "ClaimLine",
    "ClaimVersion",
    "ClaimPayment",
    "ClaimSubmission",
    "Connection",
    "ControlNumber",
    "Coverage",
    "EdiFile",
    "Enrollment",
    "FetchedFile",
    "GoodFaithEstimate",
    "Interaction",
    "KpiSnapshot",
    "LedgerEntry",
    "LoginThrottle",
    "ClientContract",
    "ContractedRate",
    "Document",
    "Invoice",
    "InvoiceLine",
    "InvoiceSource",
    "Organization",
    "Patient",
    "PatientStatement",
    "Payer",
    "PaymentAdjustment",
    "PaymentPlan",
    "PaymentPlanInstalment",
    "Practice",
    "PracticeRequest",
    "Provider",
    "ProviderAdjustment",
    "RecoveryCode",
    "Remittance",
    "RoutingRule",
    "SandboxMember",
    "SandboxSettings",
    "Session",
    "SlaPause",
    "SlidingScaleDetermination",
    "SlidingScaleTier",
    "TrustedDevice",
    "User",
    "UserSession",
    "WorkItem",
    "WorkItemDependency",
    "WriteOffRequest",
    # issue 18: patient payments, refunds, deposits
    "Deposit",
    "PatientPayment",
    "RefundRequest",
    "user_practices",
]
