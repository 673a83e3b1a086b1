"""HCPCS Level II codes state Medicaid programmes pay for behavioural health, and how each one counts units.

Pure data. Descriptions are paraphrased from the CMS HCPCS Level II file (the "per 15 minutes" / "per diem" /
"per hour" in each descriptor decides the unit kind); which of them a payer accepts, and which one it wants instead
of a CPT, is payer data (``coding.policy.CodingPolicy``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIFTEEN_MINUTES = "15_minutes"  # units by the payer's 15-minute rule (CMS eight-minute rule or midpoint)
HOUR = "hour"  # 60-minute units, a unit attained when the midpoint (31 minutes) is passed
PER_DIEM = "per_diem"  # one unit per date of service, however long
ENCOUNTER = "encounter"  # one unit per encounter, not timed
UNIT_KINDS = (FIFTEEN_MINUTES, HOUR, PER_DIEM, ENCOUNTER)

HCPCS_RE = re.compile(r"^[A-V][0-9]{4}$")
SOURCE = "CMS HCPCS Level II code file (descriptors, 2026)"


@dataclass(frozen=True, slots=True)
class Hcpcs:
    code: str
    description: str
    unit_kind: str


_CODES: tuple[Hcpcs, ...] = (
    Hcpcs("H0001", "Alcohol and/or drug assessment", ENCOUNTER),
    Hcpcs("H0004", "Behavioral health counseling and therapy, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H0005", "Alcohol and/or drug services; group counseling by a clinician", ENCOUNTER),
    Hcpcs("H0015", "Alcohol and/or drug services; intensive outpatient, per diem", PER_DIEM),
    Hcpcs("H0023", "Behavioral health outreach service (planned approach to reach a population)", ENCOUNTER),
    Hcpcs("H0025", "Behavioral health prevention education service", ENCOUNTER),
    Hcpcs("H0031", "Mental health assessment, by non-physician", ENCOUNTER),
    Hcpcs("H0032", "Mental health service plan development by non-physician", ENCOUNTER),
    Hcpcs("H0035", "Mental health partial hospitalization, treatment, less than 24 hours (per diem)", PER_DIEM),
    Hcpcs("H0036", "Community psychiatric supportive treatment, face-to-face, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H0038", "Self-help/peer services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H0046", "Mental health services, not otherwise specified", ENCOUNTER),
    Hcpcs("H2000", "Comprehensive multidisciplinary evaluation", ENCOUNTER),
    Hcpcs("H2010", "Comprehensive medication services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2011", "Crisis intervention service, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2012", "Behavioral health day treatment, per hour", HOUR),
    Hcpcs("H2014", "Skills training and development, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2015", "Comprehensive community support services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2017", "Psychosocial rehabilitation services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2019", "Therapeutic behavioral services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2020", "Therapeutic behavioral services, per diem", PER_DIEM),
    Hcpcs("H2021", "Community-based wrap-around services, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2022", "Community-based wrap-around services, per diem", PER_DIEM),
    Hcpcs("H2023", "Supported employment, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2027", "Psychoeducational service, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("H2033", "Multisystemic therapy for juveniles, per 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("S9480", "Intensive outpatient psychiatric services, per diem", PER_DIEM),
    Hcpcs("S9484", "Crisis intervention mental health services, per hour", HOUR),
    Hcpcs("S9485", "Crisis intervention mental health services, per diem", PER_DIEM),
    Hcpcs("T1016", "Case management, each 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("T1017", "Targeted case management, each 15 minutes", FIFTEEN_MINUTES),
    Hcpcs("T1023", "Screening to determine appropriateness for a specified program, per encounter", ENCOUNTER),
)
CODES: dict[str, Hcpcs] = {c.code: c for c in _CODES}


def is_hcpcs(code: str) -> bool:
    """Whether ``code`` has the shape of a HCPCS Level II code (a letter A-V and four digits)."""
    return bool(HCPCS_RE.match(code))
