"""The one mapping from our parties and claims to the 837P writer's values, shared by `edi build-837` (import
rows) and submission (stored Claim, ClaimLine, Session, Patient, Coverage and Provider rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from backoffice.authorizations.queries import authorization_number_for
from backoffice.claims.models import Claim
from backoffice.coding.policy import SUPERVISOR_2310D, UNDER_SUPERVISOR
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.patients.models import Coverage
from backoffice.scrubber.queries import payer_facts
from backoffice.sessions.models import Session
from backoffice.x12.claim837_model import (
    Address,
    Batch,
    BillingProvider,
    ClaimInfo,
    Patient,
    PayerInfo,
    PriorPayer,
    Receiver,
    RenderingProvider,
    ServiceLine,
    Submitter,
    Subscriber,
    SupervisingProvider,
)

# SBR09 claim filing indicator by payer kind (billing-rules 4.1; BCBS plans use BL).
FILING_INDICATOR = {
    "medicare": "MB", "medicaid": "MC", "medicaid_managed_care": "MC", "commercial": "CI",
    "behavioral_health_carve_out": "CI",
}  # fmt: skip

Entry = tuple[Subscriber, Patient | None, ClaimInfo]


def submitter_of(organization: Organization) -> Submitter:
    """1000A: the organization's EDI identity; ValidationFailed naming what is not set up."""
    missing = [
        name
        for name in ("edi_submitter_id", "edi_contact_name", "edi_contact_phone")
        if not getattr(organization, name)
    ]
    if missing:
        raise ValidationFailed(f"organization {organization.slug}: set {', '.join(missing)} before building an 837P")
    return Submitter(
        organization.name, organization.edi_submitter_id or "", organization.edi_contact_name or "",
        organization.edi_contact_phone or "",
    )  # fmt: skip


def billing_provider_of(practice: Practice) -> BillingProvider:
    """2010AA: the practice as billing provider; ValidationFailed when its taxonomy is missing."""
    if not practice.taxonomy:
        raise ValidationFailed(f"practice {practice.slug}: set its taxonomy (PRV*BI) before building an 837P")
    return BillingProvider(
        practice.name, practice.group_npi, practice.tax_id, practice.taxonomy or "",
        Address(practice.address_line1, practice.city, practice.state, practice.zip_code, practice.address_line2 or ""),
    )  # fmt: skip


def filing_indicator(payer: Payer) -> str:
    """SBR09 for ``payer`` (BCBS plans BL, otherwise by payer kind; ZZ when unknown)."""
    return "BL" if payer.payer_id == "BCBS" else FILING_INDICATOR.get(str(payer.kind), "ZZ")


def claim_info(
    *,
    account_number: str,
    diagnoses: Sequence[str],
    lines: Sequence[ServiceLine],
    payer: Payer,
    provider: Provider,
    auth_number: str | None,
    frequency: str = "1",
    payer_claim_number: str | None = None,
    prior_payers: tuple[PriorPayer, ...] = (),
) -> ClaimInfo:
    """2300/2310B/2400: one claim with its rendering clinician, prior auth and (replacements) REF*F8."""
    rendering = RenderingProvider(provider.last_name, provider.first_name, provider.npi, provider.taxonomy)
    supervising = None
    supervisor = provider.supervising_provider
    if supervisor is not None:  # an associate: the payer's policy decides who renders (coding/policy.py)
        decision = payer_facts(payer).rules.coding.associate_billing
        if decision == SUPERVISOR_2310D:
            supervising = SupervisingProvider(supervisor.last_name, supervisor.first_name, supervisor.npi)
        elif decision == UNDER_SUPERVISOR:
            rendering = RenderingProvider(
                supervisor.last_name, supervisor.first_name, supervisor.npi, supervisor.taxonomy
            )
    return ClaimInfo(
        account_number=account_number, diagnoses=tuple(diagnoses), lines=tuple(lines),
        claim_filing_indicator=filing_indicator(payer), prior_auth=auth_number or "", rendering=rendering,
        supervising=supervising,
        frequency=frequency, payer_claim_number=payer_claim_number or "", prior_payers=prior_payers,
    )  # fmt: skip


def batches_by_payer(
    entries: Iterable[tuple[Payer, Entry]], *, submitter: Submitter, receiver: Receiver, billing: BillingProvider
) -> list[Batch]:
    """One Batch per payer (first-seen order) of one billing provider; claims keep their order."""
    grouped: dict[str, tuple[Payer, list[Entry]]] = {}
    for payer, entry in entries:
        grouped.setdefault(payer.payer_id, (payer, []))[1].append(entry)
    return [
        Batch(submitter, receiver, billing, PayerInfo(payer.name, payer.payer_id), tuple(claims))
        for payer, claims in grouped.values()
    ]


def stored_claim_entry(
    claim: Claim, *, prior_payers_for: Callable[[Claim], tuple[PriorPayer, ...]] | None = None
) -> Entry:
    """The writer's values for a stored claim (its lines, session, patient, coverage and clinician).

    Raises ValidationFailed naming the claim (account number) and what is missing; never patient data."""

    where = f"claim {claim.account_number}"
    session = db.session.get(Session, claim.session_id) if claim.session_id else None
    if session is None:
        raise ValidationFailed(f"{where}: no session (diagnoses, rendering clinician) to bill from")
    coverage = db.session.get(Coverage, claim.coverage_id) if claim.coverage_id else None
    if coverage is None:
        raise ValidationFailed(f"{where}: no coverage (member id) on the claim")
    patient = session.patient
    if not patient.address_line1 or not patient.city or not patient.state or not patient.zip_code:
        raise ValidationFailed(f"{where}: the patient has no address on file (2010BA N3/N4)")
    if not claim.lines:
        raise ValidationFailed(f"{where}: no service lines")
    address = Address(patient.address_line1, patient.city, patient.state, patient.zip_code)
    sequence = claim.payer_sequence if claim.payer_sequence in ("S", "T") else "P"  # SBR01
    relationship = str(coverage.relationship_to_subscriber.value)
    dependent: Patient | None = None
    if relationship == "18":
        subscriber = Subscriber(
            coverage.member_id, patient.first_name, patient.last_name, patient.date_of_birth, str(patient.sex.value),
            address, coverage.group_number or "", sequence,
        )  # fmt: skip
    else:
        if not (coverage.subscriber_first_name and coverage.subscriber_last_name and coverage.subscriber_date_of_birth):
            raise ValidationFailed(f"{where}: the coverage's subscriber name and date of birth are missing")
        subscriber = Subscriber(
            coverage.member_id, coverage.subscriber_first_name, coverage.subscriber_last_name,
            coverage.subscriber_date_of_birth, str(coverage.subscriber_sex.value) if coverage.subscriber_sex else "U",
            address, coverage.group_number or "", sequence,
        )  # fmt: skip
        dependent = Patient(
            patient.first_name, patient.last_name, patient.date_of_birth, str(patient.sex.value), address, relationship
        )
    priors: tuple[PriorPayer, ...] = ()
    if sequence != "P":
        priors = prior_payers_for(claim) if prior_payers_for is not None else ()
        if not priors:
            raise ValidationFailed(f"{where}: a secondary or tertiary claim needs the prior payers' adjudications "
                                   "(835)")  # fmt: skip
    lines = [
        ServiceLine(
            line.cpt,
            tuple(line.modifiers or ()),
            line.units,
            Decimal(line.charge),
            tuple(line.diagnosis_pointers or ()),
            line.date_of_service,
            line.place_of_service,
        )  # fmt: skip
        for line in claim.lines
    ]
    info = claim_info(
        account_number=claim.account_number, diagnoses=session.diagnoses or (), lines=lines,
        payer=coverage.payer if coverage.payer_id == claim.payer_id else db.session.get(Payer, claim.payer_id),
        provider=session.provider, auth_number=authorization_number_for(claim) or session.auth_number,
        frequency=claim.frequency_code,
        payer_claim_number=claim.payer_claim_number, prior_payers=priors,
    )  # fmt: skip
    return subscriber, dependent, info
