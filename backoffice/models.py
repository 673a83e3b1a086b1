"""Imports every feature's models so SQLAlchemy's metadata (and Alembic) sees all tables."""

from backoffice.accounts.models import LoginFailure, User, user_practices
from backoffice.api.models import ApiToken
from backoffice.claims.models import Claim, ClaimLine
from backoffice.edi.models import ClaimSubmission, ControlNumber, EdiFile
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, LedgerEntry, Patient
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, KpiSnapshot, WorkItem, WorkItemDependency

__all__ = [
    "ApiToken",
    "Authorization",
    "BenefitsCheck",
    "Claim",
    "ClaimLine",
    "ClaimPayment",
    "ClaimSubmission",
    "ControlNumber",
    "Coverage",
    "EdiFile",
    "Interaction",
    "KpiSnapshot",
    "LedgerEntry",
    "LoginFailure",
    "Organization",
    "Patient",
    "Payer",
    "PaymentAdjustment",
    "Practice",
    "Provider",
    "Remittance",
    "Session",
    "User",
    "WorkItem",
    "WorkItemDependency",
    "user_practices",
]
