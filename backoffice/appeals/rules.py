"""Pure appeal-letter drafting (billing-rules.md §7.2 sections, §7.3 parity, §5.3 deadlines): a first draft a biller
edits before sending, filled from the claim, the denial codes and their meaning, the session and the provider.

The argument depends on the denial family. Facts are plain values; the letter is plain text (the UI renders and
exports it). Patient data appears only in the letter itself, which is PHI and stays in the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class DeniedLine:
    code: str
    modifiers: tuple[str, ...]
    units: int
    charge: Decimal
    paid: Decimal


@dataclass(frozen=True, slots=True)
class Denial:
    group: str
    reason: str  # CARC
    meaning: str  # the CARC's wording, paraphrased from the X12 list
    amount: Decimal
    remarks: tuple[tuple[str, str], ...] = ()  # (RARC, meaning)


@dataclass(frozen=True, slots=True)
class AppealFacts:
    today: date
    family: str  # the denial family: medical_necessity, authorization, timely_filing, coding, eligibility, ...
    level: str  # e.g. "redetermination", "internal_appeal"
    deadline: date | None
    payer_name: str
    payer_kind: str
    payer_claim_number: str
    account_number: str
    denial_date: date | None
    patient_name: str
    patient_dob: date
    member_id: str
    date_of_service: date
    diagnoses: tuple[str, ...]
    lines: tuple[DeniedLine, ...]
    denials: tuple[Denial, ...]
    provider_name: str
    provider_credential: str
    provider_npi: str
    practice_name: str
    practice_npi: str
    practice_tax_id: str
    practice_phone: str
    authorization_number: str = ""
    submitted_on: date | None = None  # first submission: the timely-filing proof
    accepted_on: date | None = None  # 277CA acceptance date


ARGUMENTS: dict[str, str] = {
    "medical_necessity": (
        "The services were medically necessary. The enclosed diagnostic evaluation, treatment plan and progress notes "
        "document the diagnosis, the severity of symptoms, the functional impairment and risk, the measurable goals "
        "and interventions, and standardized measure scores over time showing why this frequency and duration of "
        "care is needed and what would happen without it. The decision should rest on generally accepted standards "
        "of care (for example LOCUS/CALOCUS criteria)."
    ),
    "authorization": (
        "The service was authorized or did not require authorization. The authorization on file (number below) "
        "covers this service, date and clinician; where it was not on the original claim, it is now supplied. If "
        "authorization was not obtained in advance, we request retroactive review of the enclosed clinical records."
    ),
    "timely_filing": (
        "The claim was filed on time. Our clearinghouse records show the original submission and the payer's "
        "acknowledgment within the filing limit (dates below); we request that the claim be processed as timely."
    ),
    "coding": (
        "The claim is correctly coded for the documented service (CPT time rules and same-day edits applied), or a "
        "corrected claim is enclosed. We request reprocessing of the lines below."
    ),
    "eligibility": (
        "The patient was covered on the date of service under the member ID below, as verified before the visit. "
        "We request reprocessing, or the name of the payer responsible if coverage belongs elsewhere."
    ),
    "credentialing": (
        "The rendering clinician was credentialed and enrolled with the plan on the date of service (NPI below). "
        "We request reprocessing under the effective enrollment."
    ),
}
DEFAULT_ARGUMENT = "We believe this denial is incorrect for the reasons documented in the enclosed records."
PARITY_ARGUMENT = (
    "Under the Mental Health Parity and Addiction Equity Act, the plan may not apply medical-necessity criteria, "
    "prior authorization or visit limits to mental-health benefits more restrictively than to comparable "
    "medical/surgical benefits in the same classification. We request the plan's comparative analysis for the "
    "nonquantitative treatment limitation applied here (Consolidated Appropriations Act, 2021, section 203)."
)
ERISA_RIGHTS = (
    "We also request, free of charge, copies of all documents, records and criteria relied upon in this decision "
    "(29 CFR 2560.503-1)."
)
# MHPAEA governs group and individual commercial plans and Medicaid managed care, not Medicare FFS (§7.3).
PARITY_PAYER_KINDS = frozenset({"commercial", "behavioral_health_carve_out", "medicaid"})
PARITY_FAMILIES = frozenset({"medical_necessity", "authorization"})
ATTACHMENTS: dict[str, tuple[str, ...]] = {
    "medical_necessity": ("Treatment plan", "Diagnostic evaluation", "Progress notes for the date of service "
                          "(not psychotherapy notes)", "Standardized measure scores (PHQ-9/GAD-7) over time"),
    "authorization": ("Authorization approval letter", "Progress notes for the date of service"),
    "timely_filing": ("Clearinghouse acceptance report / 277CA for the original submission",),
    "coding": ("Corrected claim, if any", "Progress note documenting time and service"),
}  # fmt: skip


def money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def draft_appeal_letter(facts: AppealFacts) -> str:
    """The first draft of the appeal letter for one denied claim, in the §7.2 section order."""
    billed = sum((line.charge for line in facts.lines), Decimal("0"))
    lines = [
        f"{facts.today:%B %d, %Y}",
        "",
        f"{facts.payer_name}",
        "Appeals Department",
        "",
        f"Re: {facts.level.replace('_', ' ').title()} — request to overturn the denial of claim "
        f"{facts.payer_claim_number or facts.account_number}",
        "",
        f"Patient: {facts.patient_name}    Date of birth: {facts.patient_dob:%m/%d/%Y}    Member ID: {facts.member_id}",
        f"Payer claim number: {facts.payer_claim_number or 'not assigned'}    Our account: {facts.account_number}",
        f"Date of service: {facts.date_of_service:%m/%d/%Y}    Billed: {money(billed)}"
        + (f"    Denied on: {facts.denial_date:%m/%d/%Y}" if facts.denial_date else ""),
        f"Diagnoses: {', '.join(facts.diagnoses)}",
    ]
    if facts.authorization_number:
        lines.append(f"Authorization: {facts.authorization_number}")
    lines += ["", "Services:"]
    for line in facts.lines:
        code = line.code + ("-" + "-".join(line.modifiers) if line.modifiers else "")
        lines.append(f"  {code} x{line.units}  billed {money(line.charge)}  paid {money(line.paid)}")
    lines += ["", "Denial:"]
    for denial in facts.denials:
        lines.append(f"  {denial.group}-{denial.reason} ({money(denial.amount)}): {denial.meaning}")
        lines.extend(f"    {code}: {meaning}" for code, meaning in denial.remarks)
    lines += [
        "",
        f"Rendering clinician: {facts.provider_name}, {facts.provider_credential}, NPI {facts.provider_npi}",
        f"Billing provider: {facts.practice_name}, NPI {facts.practice_npi}, TIN {facts.practice_tax_id}"
        + (f", phone {facts.practice_phone}" if facts.practice_phone else ""),
        "",
        "Request: please overturn the denial and reprocess the claim for payment of the lines above.",
        "",
        "Chronology:",
        f"  Service provided {facts.date_of_service:%m/%d/%Y}.",
    ]
    if facts.submitted_on:
        lines.append(f"  Claim first submitted electronically {facts.submitted_on:%m/%d/%Y}.")
    if facts.accepted_on:
        lines.append(f"  Accepted by the payer's front end (277CA) {facts.accepted_on:%m/%d/%Y}.")
    if facts.denial_date:
        lines.append(f"  Denied {facts.denial_date:%m/%d/%Y}.")
    lines += ["", "Why the denial should be overturned:", ARGUMENTS.get(facts.family, DEFAULT_ARGUMENT)]
    if facts.family in PARITY_FAMILIES and facts.payer_kind in PARITY_PAYER_KINDS:
        lines += ["", PARITY_ARGUMENT]
    if facts.payer_kind in ("commercial", "behavioral_health_carve_out"):
        lines += ["", ERISA_RIGHTS]
    lines += ["", "Enclosed:", "  Copy of the remittance advice (ERA/EOB) showing the denial"]
    lines.extend(f"  {item}" for item in ATTACHMENTS.get(facts.family, ()))
    if facts.deadline:
        lines += ["", f"Appeal filing deadline: {facts.deadline:%m/%d/%Y}."]
    lines += ["", "Sincerely,", "", f"{facts.practice_name} billing office", ""]
    return "\n".join(lines)
