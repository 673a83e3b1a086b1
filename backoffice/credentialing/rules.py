"""Pure credentialing rules: enrolment statuses, when a provider may bill a payer, licence and supervision checks,
and the 90/60/30-day expiry reminders. Values in, values out; ``today`` is always passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from backoffice.deadlines.rules import timely_filing_deadline
from backoffice.orgs.rules import Credential, identifier_problem, npi_problem

EXPIRY_STAGES: tuple[int, ...] = (90, 60, 30)  # days before an expiry when a renewal item is opened / raised
STAGE_PRIORITY = {90: 0, 60: 10, 30: 30}
STATE_RE = re.compile(r"^[A-Z]{2}$")
LICENSE_NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-./ ]{0,39}$")


@dataclass(frozen=True)
class ProviderInput:
    """A provider as a form, the API or a CSV row gives it (strings checked by ``provider_problem``)."""

    first_name: str
    last_name: str
    npi: str
    credential: str
    taxonomy: str
    license_type: str | None = None
    license_number: str | None = None
    license_state: str | None = None
    license_expires_on: date | None = None
    active_from: date | None = None
    active_to: date | None = None
    supervising_npi: str | None = None
    active: bool = True


@dataclass(frozen=True)
class EnrollmentInput:
    """An enrolment as the page or the API gives it."""

    status: str
    submitted_on: date | None = None
    effective_from: date | None = None
    terminated_on: date | None = None
    payer_provider_id: str | None = None
    revalidation_due: date | None = None
    caqh_reattestation_due: date | None = None


class EnrollmentStatus(StrEnum):
    NOT_STARTED = "not_started"
    SUBMITTED = "submitted"
    PENDING = "pending"
    EFFECTIVE = "effective"
    DENIED = "denied"
    TERMINATED = "terminated"


STATUS_LABELS = {
    EnrollmentStatus.NOT_STARTED: "Not started",
    EnrollmentStatus.SUBMITTED: "Submitted",
    EnrollmentStatus.PENDING: "Pending",
    EnrollmentStatus.EFFECTIVE: "Effective",
    EnrollmentStatus.DENIED: "Denied",
    EnrollmentStatus.TERMINATED: "Terminated",
}


class ExpiryKind(StrEnum):
    LICENSE = "license"
    REVALIDATION = "revalidation"
    CAQH = "caqh"


EXPIRY_LABELS = {
    ExpiryKind.LICENSE: "licence",
    ExpiryKind.REVALIDATION: "payer enrolment revalidation",
    ExpiryKind.CAQH: "CAQH re-attestation",
}


@dataclass(frozen=True)
class EnrollmentFacts:
    """One provider × payer enrolment as the gate sees it."""

    status: str
    effective_from: date | None
    terminated_on: date | None


def enrolled_on(facts: EnrollmentFacts | None, day: date) -> bool:
    """Whether the provider may bill the payer for a service on ``day``: the enrolment is (or was, for a service
    before its termination) effective on that day. A retroactive effective date covers earlier services."""
    if facts is None or facts.effective_from is None:
        return False
    if facts.status not in (EnrollmentStatus.EFFECTIVE, EnrollmentStatus.TERMINATED):
        return False
    if day < facts.effective_from:
        return False
    return facts.terminated_on is None or day < facts.terminated_on


def hold_reason(facts: EnrollmentFacts | None, day: date, *, required: bool, payer_code: str) -> str | None:
    """Why a claim for a service on ``day`` must wait for enrolment, or None when it may go out (enrolled, or the
    payer does not require enrolment for 837 claims)."""
    if not required or enrolled_on(facts, day):
        return None
    if facts is None:
        return f"provider has no enrolment with {payer_code}: claim held until it is effective"
    status = STATUS_LABELS[EnrollmentStatus(facts.status)].lower()
    if facts.effective_from is not None and day < facts.effective_from:
        return (f"enrolment with {payer_code} effective only from {facts.effective_from:%Y-%m-%d} ({status}): "
                "claim held until it covers the date of service")  # fmt: skip
    if facts.terminated_on is not None and day >= facts.terminated_on:
        return f"enrolment with {payer_code} terminated on {facts.terminated_on:%Y-%m-%d}: claim held"
    return f"enrolment with {payer_code} is {status}: claim held until it is effective"


def filing_deadline(day: date, *, payer_kind: str, filing_limit_days: int | None) -> date:
    """The last day to file the held claim (deadlines/rules.timely_filing_deadline)."""
    return timely_filing_deadline(day, payer_kind=payer_kind, filing_limit_days=filing_limit_days).due


def expiry_stage(expires_on: date | None, today: date) -> int | None:
    """The reminder stage (90, 60 or 30 days before) that ``today`` falls in, or None when the expiry is further
    away than 90 days (or unknown). An expiry already past is stage 30: the most urgent."""
    if expires_on is None:
        return None
    left = (expires_on - today).days
    stages = [stage for stage in EXPIRY_STAGES if left <= stage]
    return min(stages) if stages else None


def status_problem(value: str) -> str | None:
    """Why ``value`` is not an enrolment status token, or None."""
    if value in set(EnrollmentStatus):
        return None
    return f"one of {', '.join(s.value for s in EnrollmentStatus)}"


def enrollment_dates_problem(
    status: str, submitted_on: date | None, effective_from: date | None, terminated_on: date | None
) -> tuple[str, str] | None:
    """(field, why) when the dates do not fit the status, or None."""
    if status in (EnrollmentStatus.EFFECTIVE, EnrollmentStatus.TERMINATED) and effective_from is None:
        return "effective_from", f"an {status} enrolment needs its effective date"
    if status == EnrollmentStatus.TERMINATED and terminated_on is None:
        return "terminated_on", "a terminated enrolment needs its termination date"
    if effective_from and terminated_on and terminated_on <= effective_from:
        return "terminated_on", "must be after the effective date"
    if submitted_on and effective_from and status == EnrollmentStatus.SUBMITTED and effective_from < submitted_on:
        return None  # payers do make enrolments retroactive to before the application
    return None


@dataclass(frozen=True)
class ProviderFacts:
    """A provider as the supervision check sees it."""

    id: int | None
    practice_id: int
    credential: str
    active: bool
    license_number: str | None
    license_expires_on: date | None


def supervisor_problem(associate: ProviderFacts, supervisor: ProviderFacts | None, today: date) -> str | None:
    """Why ``supervisor`` cannot supervise ``associate``, or None: an active, licensed provider of the same
    practice (licence on file and not expired), and not the associate itself."""
    if supervisor is None:
        return "no such provider in this practice"
    if associate.id is not None and supervisor.id == associate.id:
        return "a provider cannot supervise itself"
    if supervisor.practice_id != associate.practice_id:
        return "the supervisor must be a provider of the same practice"
    if not supervisor.active:
        return "the supervisor is not active"
    if not supervisor.license_number:
        return "the supervisor has no licence on file"
    if supervisor.license_expires_on is not None and supervisor.license_expires_on < today:
        return f"the supervisor's licence expired on {supervisor.license_expires_on:%Y-%m-%d}"
    return None


def individual_npi_problem(npi: str) -> str | None:
    """Why ``npi`` is not a valid individual (type 1) NPI, or None."""
    problem = npi_problem(npi or "")
    if problem:
        return problem
    return None if npi.startswith("1") else "an individual provider's NPI starts with 1 (type 1)"


def license_problem(
    license_type: str | None, number: str | None, state: str | None, expires_on: date | None
) -> tuple[str, str] | None:
    """(field, why) when the licence fields are inconsistent, or None (all empty is allowed: an associate)."""
    given = [v for v in (license_type, number, state, expires_on) if v]
    if not given:
        return None
    if not number or not LICENSE_NUMBER_RE.match(number):
        return "license_number", "letters, digits, hyphens, dots or slashes (up to 40)"
    if not state or not STATE_RE.match(state):
        return "license_state", "a two-letter state code such as NY"
    if not license_type:
        return "license_type", "required with a licence number (e.g. LCSW, LPC, MD)"
    return None


def provider_field_problem(data: ProviderInput) -> tuple[str, str] | None:
    """(field, why) for the first value of a provider that is refused on its own (no database needed), or None."""
    for name in ("first_name", "last_name"):
        value = getattr(data, name)
        if not value or not value.strip() or len(value) > 100:
            return name, "required, up to 100 characters"
    problem = individual_npi_problem(data.npi)
    if problem:
        return "npi", problem
    if data.credential not in {c.value for c in Credential}:
        return "credential", f"one of {', '.join(c.value for c in Credential)}"
    problem = identifier_problem("taxonomy", data.taxonomy)
    if problem:
        return "taxonomy", problem
    found = license_problem(data.license_type, data.license_number, data.license_state, data.license_expires_on)
    if found:
        return found
    if data.active_from and data.active_to and data.active_to < data.active_from:
        return "active_to", "must not be before active_from"
    return None
