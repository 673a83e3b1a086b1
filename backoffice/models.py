"""Imports every feature's models so SQLAlchemy's metadata (and Alembic) sees all tables."""

from backoffice.accounts.models import LoginThrottle, RecoveryCode, TrustedDevice, User, UserSession, user_practices
from backoffice.api.models import ApiToken
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.audit.models import AuditEvent
from backoffice.balances.models import (
    GoodFaithEstimate,
    PatientStatement,
    PaymentPlan,
    PaymentPlanInstalment,
    SlidingScaleDetermination,
    SlidingScaleTier,
)
from backoffice.claims.models import Claim, ClaimLine
from backoffice.clearinghouse.models import Connection, FetchedFile
from backoffice.exchange.models import ClaimSubmission, ControlNumber, EdiFile
from backoffice.orgs.models import ContractedRate, Organization, Payer, Practice, Provider
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, LedgerEntry, Patient
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.routing.models import RoutingRule
from backoffice.sessions.models import Session
from backoffice.supervisor.models import WriteOffRequest
from backoffice.work.models import Interaction, KpiSnapshot, WorkItem, WorkItemDependency

__all__ = [
    "ApiToken",
    "Appeal",
    "AppealTemplate",
    "AuditEvent",
    "Authorization",
    "BenefitsCheck",
    "Claim",
    "ClaimLine",
    "ClaimPayment",
    "ClaimSubmission",
    "Connection",
    "ControlNumber",
    "Coverage",
    "EdiFile",
    "FetchedFile",
    "GoodFaithEstimate",
    "Interaction",
    "KpiSnapshot",
    "LedgerEntry",
    "LoginThrottle",
    "ContractedRate",
    "Organization",
    "Patient",
    "PatientStatement",
    "Payer",
    "PaymentAdjustment",
    "PaymentPlan",
    "PaymentPlanInstalment",
    "Practice",
    "Provider",
    "RecoveryCode",
    "Remittance",
    "RoutingRule",
    "Session",
    "SlidingScaleDetermination",
    "SlidingScaleTier",
    "TrustedDevice",
    "User",
    "UserSession",
    "WorkItem",
    "WorkItemDependency",
    "WriteOffRequest",
    "user_practices",
]
