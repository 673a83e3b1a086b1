"""Imports every feature's models so SQLAlchemy's metadata (and Alembic) sees all tables."""

from backoffice.accounts.models import LoginFailure, User, user_practices
from backoffice.claims.models import Claim, ClaimLine
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.patients.models import Authorization, Coverage, Patient
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency

__all__ = [
    "Authorization",
    "Claim",
    "ClaimLine",
    "Coverage",
    "Interaction",
    "LoginFailure",
    "Organization",
    "Patient",
    "Payer",
    "Practice",
    "Provider",
    "Session",
    "User",
    "WorkItem",
    "WorkItemDependency",
    "user_practices",
]
