"""Pure identifier and credential rules for organizations, practices, providers and payers."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum

NPI_PREFIX_SUM = 24  # contribution of the implied health-industry prefix 80840 (billing-rules.md 4.3)
TAXONOMY_RE = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
EIN_RE = re.compile(r"^[0-9]{9}$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ZIP_RE = re.compile(r"^[0-9]{5}(?:[0-9]{4})?$")


class Credential(StrEnum):
    MD = "MD"
    DO = "DO"
    NP = "NP"
    PA = "PA"
    PHD = "PhD"
    PSYD = "PsyD"
    LCSW = "LCSW"
    LPC = "LPC"
    LMFT = "LMFT"
    LMHC = "LMHC"


# May perform medical services: E/M, 90792 and the psychotherapy add-ons (billing-rules.md 1.7).
PRESCRIBERS = frozenset({Credential.MD, Credential.DO, Credential.NP, Credential.PA})


class PayerKind(StrEnum):
    MEDICARE = "medicare"
    MEDICARE_ADVANTAGE = "medicare_advantage"
    MEDICAID = "medicaid"  # state Medicaid fee-for-service
    MEDICAID_MANAGED_CARE = "medicaid_managed_care"
    COMMERCIAL = "commercial"
    TRICARE = "tricare"
    EAP = "eap"  # employee assistance programme: a few sessions, no diagnosis needed by most
    BH_CARVE_OUT = "behavioral_health_carve_out"
    SELF_PAY = "self_pay"  # no insurer: the patient pays (Good Faith Estimate, statements)


def npi_check_digit(base9: str) -> int:
    """Luhn check digit of a 9-digit NPI base, computed as if prefixed by 80840."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError("an NPI base is exactly 9 digits")
    total = NPI_PREFIX_SUM
    for position, char in enumerate(reversed(base9)):
        digit = int(char)
        if position % 2 == 0:  # rightmost base digit and every other one leftwards are doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def npi_is_valid(npi: str) -> bool:
    """True when ``npi`` is 10 digits, starts with 1 or 2 and carries the right check digit."""
    if len(npi) != 10 or not npi.isdigit() or npi[0] not in "12":
        return False
    return npi_check_digit(npi[:9]) == int(npi[9])


def npi_problem(npi: str) -> str | None:
    """Why ``npi`` is not a valid NPI, or None; the message names the rule that failed."""
    if len(npi) != 10 or not npi.isdigit():
        return "NPI must be exactly 10 digits"
    if npi[0] not in "12":
        return "NPI must start with 1 (individual) or 2 (organization)"
    if not npi_is_valid(npi):
        return f"NPI check digit is wrong (expected {npi_check_digit(npi[:9])})"
    return None


def is_prescriber(credential: str) -> bool:
    """Whether a clinician with this credential may bill E/M, 90792 and psychotherapy add-ons."""
    return credential in PRESCRIBERS


def complete_npi(base9: str) -> str:
    """The valid 10-digit NPI for a 9-digit base (appends the check digit)."""
    return f"{base9}{npi_check_digit(base9)}"


def identifier_problem(kind: str, value: str | None) -> str | None:
    """Why ``value`` is not a valid ``kind`` (npi, tax_id, taxonomy, slug, zip_code), or None when it is."""
    value = value or ""
    if kind == "npi":
        return npi_problem(value)
    checks = {
        "tax_id": (EIN_RE, "a tax ID is 9 digits with no hyphen"),
        "taxonomy": (TAXONOMY_RE, "a NUCC taxonomy is 10 characters ending in X, e.g. 1041C0700X"),
        "slug": (SLUG_RE, "a slug is lower-case letters, digits and single hyphens"),
        "zip_code": (ZIP_RE, "a ZIP code is 5 or 9 digits with no hyphen"),
    }
    pattern, message = checks[kind]
    return None if pattern.match(value) else message


TELEHEALTH_POLICY_KEYS = frozenset(
    {"video_modifier", "audio_only_modifier", "audio_only_allowed", "audio_only_home_only", "home_pos", "other_pos",
     "in_person_visit_required_from"}
)  # fmt: skip
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")
POS_RE = re.compile(r"^[0-9]{2}$")


def telehealth_policy_problem(policy: dict[str, object]) -> str | None:
    """Why a payer's telehealth policy (billing-rules 2.3, as data) is malformed, or None.

    Keys: video_modifier / audio_only_modifier (two characters, or null for none), audio_only_allowed (bool),
    home_pos / other_pos (two-digit place of service for a patient at home / elsewhere).
    """
    unknown = set(policy) - TELEHEALTH_POLICY_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)}; known: {sorted(TELEHEALTH_POLICY_KEYS)}"
    for key in ("video_modifier", "audio_only_modifier"):
        value = policy.get(key)
        if value is not None and not (isinstance(value, str) and MODIFIER_RE.match(value)):
            return f"{key}: a two-character modifier such as 95, 93 or GT, or null"
    for key in ("home_pos", "other_pos"):
        value = policy.get(key)
        if value is not None and not (isinstance(value, str) and POS_RE.match(value)):
            return f"{key}: a two-digit place of service such as 10 or 02"
    for key in ("audio_only_allowed", "audio_only_home_only"):
        if key in policy and not isinstance(policy[key], bool):
            return f"{key}: true or false"
    since = policy.get("in_person_visit_required_from")
    if since is not None:
        try:
            date.fromisoformat(str(since))
        except ValueError:
            return "in_person_visit_required_from: a date as YYYY-MM-DD, or null"
    return None


CPT_RE = re.compile(r"^(?:[0-9]{4}[0-9A-Z]|[A-V][0-9]{4})$")  # CPT (incl. Category II/III) or HCPCS Level II
MONEY_RE = re.compile(r"^[0-9]{1,7}(?:\.[0-9]{1,2})?$")


def fee_schedule_problem(fees: dict[str, object]) -> str | None:
    """Why a fee schedule (CPT → charge as a decimal string) is malformed, or None."""
    for cpt, charge in fees.items():
        if not CPT_RE.match(str(cpt)):
            return f"{cpt!r} is not a CPT/HCPCS code"
        if not isinstance(charge, str) or not MONEY_RE.match(charge) or Decimal(charge) <= 0:
            return f'charge for {cpt}: a positive amount as a string, such as "150.00"'
    return None
