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


# --- appeal levels, template choice, sending and outcomes (pure) ---

LEVEL_NUMBERS = (1, 2, 3)  # 1 and 2: the payer's own levels; 3: the independent/external level
# The payer-kind level each number stands for (billing-rules §5.3, §7.1). Level 1 is the first level the payer has,
# the same one the posting step counts the appeal item's deadline from (deadlines.appeals.levels_for(kind)[0]).
LEVEL_NAMES: dict[str, dict[int, str]] = {
    "medicare": {1: "redetermination", 2: "reconsideration", 3: "alj_hearing"},
    "commercial": {1: "provider_reconsideration", 2: "internal_appeal", 3: "external_review"},
    "behavioral_health_carve_out": {1: "provider_reconsideration", 2: "internal_appeal", 3: "external_review"},
    "medicaid": {1: "provider_reconsideration", 2: "plan_appeal", 3: "state_fair_hearing"},
}
SEND_METHODS = ("fax", "mail", "portal", "email")
OUTCOMES = ("overturned", "partial", "upheld")
WINS = frozenset({"overturned", "partial"})  # the overturn rate counts a partial win as a win
STATUSES = ("draft", "sent", "decided", "withdrawn")
# A sent appeal's item waits this many days for the decision (ERISA: 30 days pre-service, 60 post-service), then
# comes back to check on it.
DECISION_CHECK_DAYS = 30
MAX_REFERENCE = 80
MAX_LATE_REASON = 2000


def level_name(payer_kind: str, level: int) -> str:
    """The payer kind's name for appeal level 1, 2 or 3 (e.g. Medicare 2 → ``reconsideration``)."""
    names = LEVEL_NAMES.get(payer_kind)
    if names is None or level not in names:
        raise ValueError(f"level: {payer_kind} payers have no appeal level {level}")
    return names[level]


def level_title(name: str) -> str:
    """``internal_appeal`` → ``Internal Appeal``."""
    return name.replace("_", " ").title()


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    id: int
    denial_family: str
    payer_id: int | None
    level: int
    active: bool
    updated_order: tuple = ()  # anything comparable: later wins a tie (updated_at, id)


def choose_template(
    candidates: list[TemplateChoice], *, family: str, payer_id: int | None, level: int
) -> TemplateChoice | None:
    """The most specific active template for (family, payer, level): one for this payer beats one for any payer;
    among equals the latest edited wins. None: use the built-in letter (``draft_appeal_letter``)."""
    fitting = [
        c for c in candidates
        if c.active and c.denial_family == family and c.level == level and c.payer_id in (None, payer_id)
    ]  # fmt: skip
    if not fitting:
        return None
    return max(fitting, key=lambda c: (c.payer_id is not None, c.updated_order))


def sent_problems(
    *, sent_on: date | None, method: str, today: date, deadline: date | None, late_reason: str, reference: str
) -> list[str]:
    """What is wrong with recording an appeal as sent: each message names its field. A send after the deadline
    needs a reason (payers accept good-cause late appeals; the reason is kept on the log)."""
    problems = []
    if sent_on is None:
        problems.append("sent date: required")
    elif sent_on > today:
        problems.append("sent date: cannot be in the future")
    if method not in SEND_METHODS:
        problems.append(f"method: one of {', '.join(SEND_METHODS)}")
    if len(reference) > MAX_REFERENCE:
        problems.append(f"reference #: at most {MAX_REFERENCE} characters")
    if len(late_reason) > MAX_LATE_REASON:
        problems.append(f"late reason: at most {MAX_LATE_REASON} characters")
    if sent_on is not None and deadline is not None and sent_on > deadline and not late_reason.strip():
        problems.append(f"late reason: the deadline was {deadline:%m/%d/%Y}; say why it is sent late (good cause)")
    return problems


def outcome_problems(
    *,
    outcome: str,
    decided_on: date | None,
    today: date,
    sent_on: date | None,
    recovered: Decimal | None,
    amount: Decimal,
) -> list[str]:
    """What is wrong with a payer decision: overturned recovers up to the amount in dispute, partial strictly
    between nothing and all of it, upheld nothing."""
    problems = []
    if outcome not in OUTCOMES:
        problems.append(f"outcome: one of {', '.join(OUTCOMES)}")
    if decided_on is None:
        problems.append("decision date: required")
    elif decided_on > today:
        problems.append("decision date: cannot be in the future")
    elif sent_on is not None and decided_on < sent_on:
        problems.append(f"decision date: before the appeal was sent ({sent_on:%m/%d/%Y})")
    if recovered is not None and recovered < 0:
        problems.append("recovered: cannot be negative")
    elif outcome == "partial" and not (recovered is not None and 0 < recovered < amount):
        problems.append(f"recovered: a partial win recovers more than $0.00 and less than {money(amount)}")
    elif outcome == "overturned" and recovered is not None and recovered > amount:
        problems.append(f"recovered: more than the {money(amount)} in dispute")
    elif outcome == "upheld" and recovered not in (None, Decimal("0")):
        problems.append("recovered: an upheld denial recovers nothing")
    return problems


def recovered_for(outcome: str, recovered: Decimal | None, amount: Decimal) -> Decimal:
    """The amount to record: an overturn without a figure recovers the amount in dispute; upheld recovers 0."""
    if outcome == "upheld":
        return Decimal("0.00")
    if recovered is None:
        return amount
    return recovered


def overturn_rate(overturned: int, partial: int, decided: int) -> Decimal | None:
    """Wins (overturned + partial) as a percentage of decided appeals, one decimal; None when none decided."""
    if decided <= 0:
        return None
    return (Decimal(100 * (overturned + partial)) / Decimal(decided)).quantize(Decimal("0.1"))


def days_to_deadline(deadline: date | None, today: date) -> int | None:
    """Calendar days left to file (negative once past); None without a deadline."""
    return None if deadline is None else (deadline - today).days


REPORT_HEADERS = ("Denial family", "Payer", "Level", "Month", "Decided", "Overturned", "Partial", "Upheld",
                  "Overturn rate %", "Recovered $")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Decision:
    family: str
    payer: str
    level: int
    decided_on: date
    outcome: str
    recovered: Decimal


def overturn_table(
    decisions: list[Decision], *, by: tuple[str, ...] = ("family", "payer", "level", "month")
) -> list[list[object]]:
    """Rows of the overturn-rate report grouped by ``by`` (family, payer, level, month as YYYY-MM): decided,
    overturned, partial, upheld, overturn rate (overturned + partial count as wins) and dollars recovered."""
    groups: dict[tuple, list[Decision]] = {}
    for d in decisions:
        values = {"family": d.family, "payer": d.payer, "level": d.level, "month": f"{d.decided_on:%Y-%m}"}
        groups.setdefault(tuple(values[k] for k in by), []).append(d)
    rows: list[list[object]] = []
    for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
        members = groups[key]
        counts = {o: sum(1 for d in members if d.outcome == o) for o in OUTCOMES}
        recovered = sum((d.recovered for d in members), Decimal("0.00"))
        rate = overturn_rate(counts["overturned"], counts["partial"], len(members))
        rows.append([*key, len(members), counts["overturned"], counts["partial"], counts["upheld"], rate,
                     recovered.quantize(Decimal("0.01"))])  # fmt: skip
    return rows


def deadline_countdown(deadline: date | None, today: date) -> str:
    """'12 days left', 'due today', '3 days overdue', 'no deadline on file'."""
    left = days_to_deadline(deadline, today)
    if left is None:
        return "no deadline on file"
    if left == 0:
        return "due today"
    plural = "" if abs(left) == 1 else "s"
    return f"{left} day{plural} left" if left > 0 else f"{-left} day{plural} overdue"
