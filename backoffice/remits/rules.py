"""Posting decisions for an 835 (pure, no I/O): what each CAS triple means for us, which queue works a denial
(billing-rules §6.2, §6.3, §6.6), and how urgent it is.

A CAS triple is one of: an expected contractual adjustment (CO-45, CO-253: written off, reviewed weekly for
underpayment), patient responsibility (PR: to the patient or the secondary payer), informational (OA-23 prior
payer impact, zero amounts), or a denial to work. Denials route by CARC family; a RARC refines the generic CARCs
(16, A1, 96, unknown ones): CO-16 + M62 is an authorization problem, CO-16 + MA130 a new claim with no appeal rights.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, TypeVar

from backoffice.remits.carc import CARC


class Disposition(StrEnum):
    CONTRACTUAL = "contractual"
    PATIENT = "patient"
    INFORMATIONAL = "informational"
    DENIAL = "denial"


class Family(StrEnum):
    ELIGIBILITY = "eligibility"
    AUTHORIZATION = "authorization"
    CODING = "coding"
    CREDENTIALING = "credentialing"
    MEDICAL_NECESSITY = "medical_necessity"
    # CO-119: the plan's visit or dollar maximum for the period is used up. Not a medical-necessity question: the
    # next payer (secondary) or the patient owes it; an appeal only when the limit itself breaks parity (§6.3).
    BENEFIT_MAXIMUM = "benefit_maximum"
    RECORDS = "records"
    TIMELY_FILING = "timely_filing"
    PATIENT_RESPONSIBILITY = "patient_responsibility"
    UNDERPAYMENT = "underpayment"
    WRITE_OFF = "write_off"
    REVIEW = "review"  # a denial no family claims (CO-96, CO-204, A1 without a telling RARC): a person reads it


# Work kinds as the work feature names them (work/rules.py WorkKind.APPEAL, ExceptionKind.WORK_DENIAL).
KIND_APPEAL = "appeal"
KIND_WORK_DENIAL = "work_denial"

EXPECTED_CONTRACTUAL = frozenset({"45", "253"})  # CO-45 contracted rate, CO-253 sequestration (§6.3: CA)
INFORMATIONAL_OTHER = frozenset({"23", "94", "B13"})  # OA-23 prior payer impact; OA-94 excess; B13 previously paid

CARC_FAMILY: dict[str, Family] = {
    **dict.fromkeys(("22", "27", "31", "109", "140"), Family.ELIGIBILITY),
    **dict.fromkeys(("197", "198", "243", "284", "296", "39", "15", "62"), Family.AUTHORIZATION),
    **dict.fromkeys(
        ("4", "5", "11", "16", "18", "97", "146", "167", "181", "182", "234", "236", "107", "B15"), Family.CODING
    ),
    **dict.fromkeys(("170", "171", "185", "B7", "206", "207", "208"), Family.CREDENTIALING),
    **dict.fromkeys(("50", "151", "242", "272", "273", "B5"), Family.MEDICAL_NECESSITY),
    "119": Family.BENEFIT_MAXIMUM,
    "252": Family.RECORDS,
    "29": Family.TIMELY_FILING,
}
RARC_FAMILY: dict[str, Family] = {
    **dict.fromkeys(("N30", "MA04", "N479", "N4", "N382"), Family.ELIGIBILITY),
    **dict.fromkeys(("M62", "N54"), Family.AUTHORIZATION),
    **dict.fromkeys(("N290", "N257", "M51", "M76", "N56", "N657", "N822", "N823", "N122", "N362"), Family.CODING),
    "N95": Family.CREDENTIALING,
    **dict.fromkeys(("N705", "N706", "M127", "N729"), Family.RECORDS),
    **dict.fromkeys(("N115", "N386", "N640", "N435"), Family.MEDICAL_NECESSITY),
}
# CARCs that say little by themselves: the RARC decides the family (§6.3 "read RARC").
GENERIC_CARCS = frozenset({"16", "A1", "96", "204", "125", "17"})

QUEUES: dict[Family, str] = {
    Family.ELIGIBILITY: "eligibility",
    Family.AUTHORIZATION: "authorization",
    Family.CODING: "coding",
    Family.CREDENTIALING: "credentialing",
    Family.MEDICAL_NECESSITY: "appeals",
    Family.BENEFIT_MAXIMUM: "patient-balances",
    Family.RECORDS: "records",
    Family.TIMELY_FILING: "timely-filing",
    Family.PATIENT_RESPONSIBILITY: "patient-balances",
    Family.UNDERPAYMENT: "underpayments",
    Family.WRITE_OFF: "write-offs",
    Family.REVIEW: "denials",
}
# §6.6 default SLAs in business days (configurable per practice through its SLA overrides).
SLA_BUSINESS_DAYS: dict[Family, int] = {
    Family.ELIGIBILITY: 2,
    Family.AUTHORIZATION: 2,
    Family.CODING: 2,
    Family.CREDENTIALING: 5,
    Family.MEDICAL_NECESSITY: 5,
    Family.BENEFIT_MAXIMUM: 5,  # statement cycle, like patient responsibility
    Family.RECORDS: 3,
    Family.TIMELY_FILING: 2,
    Family.PATIENT_RESPONSIBILITY: 5,  # statement cycle
    Family.UNDERPAYMENT: 5,  # weekly batch
    Family.WRITE_OFF: 2,
    Family.REVIEW: 2,
}
ACTIONS: dict[Family, str] = {
    Family.ELIGIBILITY: "Re-verify eligibility and coordination of benefits; bill the right payer",
    Family.AUTHORIZATION: "Find or request the authorization (retro if allowed); add REF*G1 and resubmit, or appeal",
    Family.CODING: "Correct the claim (code, modifier, POS, diagnosis) and resubmit as a replacement",
    Family.CREDENTIALING: "Check the clinician's enrollment and effective dates; escalate to credentialing",
    Family.MEDICAL_NECESSITY: "Draft the appeal with the treatment plan, notes and measures; file before the deadline",
    Family.BENEFIT_MAXIMUM: "Benefit maximum reached: bill the secondary payer if there is one, otherwise the patient "
    "(confirm the visit count; appeal only if the limit breaks parity)",
    Family.RECORDS: "Send the requested records with the payer claim number",
    Family.TIMELY_FILING: "Find proof of timely filing: appeal with it, otherwise request a write-off",
    Family.PATIENT_RESPONSIBILITY: "Bill the secondary payer or the patient",
    Family.UNDERPAYMENT: "Compare the allowed amount with the contracted rate",
    Family.WRITE_OFF: "Supervisor decides the write-off",
    Family.REVIEW: "Read the CARC/RARC and decide: correct, appeal or write off",
}
# Likelihood of recovering the money, by family (§6.6's priority suggestion; §6.3 notes 197 rarely recovers).
RECOVERY: dict[Family, Decimal] = {
    Family.CODING: Decimal("0.9"),
    Family.RECORDS: Decimal("0.9"),
    Family.ELIGIBILITY: Decimal("0.8"),
    Family.MEDICAL_NECESSITY: Decimal("0.6"),
    Family.BENEFIT_MAXIMUM: Decimal("0.5"),
    Family.CREDENTIALING: Decimal("0.5"),
    Family.REVIEW: Decimal("0.5"),
    Family.AUTHORIZATION: Decimal("0.4"),
    Family.TIMELY_FILING: Decimal("0.3"),
    Family.UNDERPAYMENT: Decimal("0.5"),
    Family.PATIENT_RESPONSIBILITY: Decimal("0.5"),
    Family.WRITE_OFF: Decimal("0.1"),
}
NO_APPEAL_RARCS = frozenset({"MA130", "N211"})
FORWARDED = frozenset({"19", "20", "21"})  # CLP02: processed and forwarded to the next payer (crossover)


@dataclass(frozen=True, slots=True)
class DenialRoute:
    """Where a denial goes: its family, queue, work kind, SLA (business days), what to do, and whether an
    appeal is a route at all (CO-16 + MA130, N211 and Medicare CO-29 have no appeal rights)."""

    family: Family
    queue: str
    kind: str
    sla_business_days: int
    action: str
    appealable: bool


def _codes(rarcs: Collection[str]) -> list[str]:
    return [code.strip().upper() for code in rarcs if code and code.strip()]


def disposition(group: str, carc: str, amount: Decimal) -> Disposition:
    """What one CAS triple is: contractual (CO-45/253), patient (PR), informational (OA-23, zero), or a denial."""
    group, carc = group.strip().upper(), carc.strip().upper()
    if amount == 0:
        return Disposition.INFORMATIONAL
    if group == "PR":
        return Disposition.PATIENT
    if group == "CO" and carc in EXPECTED_CONTRACTUAL:
        return Disposition.CONTRACTUAL
    if group == "OA" and (carc in INFORMATIONAL_OTHER or carc not in CARC_FAMILY):
        return Disposition.INFORMATIONAL
    return Disposition.DENIAL


def denial_family(group: str, carc: str, rarcs: Collection[str] = (), *, credentialing_noted: bool = False) -> Family:
    """The §6.6 family of an adjustment; a RARC decides for the generic CARCs (16, A1, 96, 204) and unknown ones."""
    group, carc = group.strip().upper(), carc.strip().upper()
    codes = _codes(rarcs)
    if group == "PR":
        return Family.PATIENT_RESPONSIBILITY
    if group == "CO" and carc in EXPECTED_CONTRACTUAL:
        return Family.UNDERPAYMENT
    if carc == "16" and "MA130" in codes:
        return Family.CODING  # unprocessable: a new claim, not an appeal
    if carc == "16" and "N290" in codes and credentialing_noted:
        return Family.CREDENTIALING  # the NPI is valid but not linked to the group (§6.6)
    family = CARC_FAMILY.get(carc)
    if family is None or carc in GENERIC_CARCS:
        for code in codes:
            if code in RARC_FAMILY:
                return RARC_FAMILY[code]
    if family is None and any(code in RARC_FAMILY for code in codes):
        return next(RARC_FAMILY[code] for code in codes if code in RARC_FAMILY)
    return family or Family.REVIEW


def route_denial(
    group: str, carc: str, rarcs: Collection[str] = (), *, payer_kind: str = "", credentialing_noted: bool = False
) -> DenialRoute:
    """The §6.6 route of a denial: medical necessity becomes an appeal item, anything else a denial to work."""
    family = denial_family(group, carc, rarcs, credentialing_noted=credentialing_noted)
    codes = set(_codes(rarcs))
    carc = carc.strip().upper()
    appealable = not (codes & NO_APPEAL_RARCS)
    if family is Family.TIMELY_FILING and payer_kind == "medicare":
        appealable = False  # 42 CFR 424.44: a timely-filing denial is not an initial determination
    action = ACTIONS[family]
    if carc == "16" and "MA130" in codes:
        action = "Correct and submit a new claim: unprocessable (MA130), no appeal rights"
    kind = KIND_APPEAL if family is Family.MEDICAL_NECESSITY and appealable else KIND_WORK_DENIAL
    return DenialRoute(family, QUEUES[family], kind, SLA_BUSINESS_DAYS[family], action, appealable)


# Work items are taken by priority first; an escalation adds 50 (work/rules.py), so a denial's score stays
# below that and an escalated item still comes before any fresh denial in a shared queue.
MAX_DENIAL_PRIORITY = 49


def denial_priority(*, family: Family, amount: Decimal, days_left: int | None) -> int:
    """§6.6 priority score 0-49: urgency (deadline nearer is higher) × dollars (more is higher) × recoverability.

    Urgency is 30 / (30 + days left), 0.5 without a known deadline; dollars run from 0.1 to 1 at $450 and up.
    """
    urgency = Decimal("0.5") if days_left is None else Decimal(30) / Decimal(30 + max(days_left, 0))
    dollars = min(Decimal(1), Decimal("0.1") + max(amount, Decimal(0)) / Decimal(500))
    score = Decimal(MAX_DENIAL_PRIORITY) * urgency * dollars * RECOVERY[family]
    return int(score.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def days_left(deadline: date | None, today: date) -> int | None:
    """Calendar days from ``today`` to ``deadline`` (negative once past), None without one."""
    return None if deadline is None else (deadline - today).days


def claim_status_after(*, charge: Decimal, paid: Decimal, denied: Decimal) -> str:
    """The claim status an 835 claim leads to: paid in full of what was not denied, partially paid, or denied.

    A claim with money paid and a denial to work is partially paid; nothing paid with any denial is denied;
    nothing paid and nothing denied (all to the patient: deductible) is paid (the payer has finished with it).
    """
    if paid > 0:
        return "partially_paid" if denied > 0 else "paid"
    return "denied" if denied > 0 or charge <= 0 else "paid"


def secondary_account_number(primary: str) -> str:
    """CLM01 of the secondary claim: the primary's with ``S`` appended, within the 38-character limit."""
    return (primary[:37] + "S") if len(primary) >= 38 else primary + "S"


def next_payer_account_number(account_number: str, sequence: str) -> str:
    """CLM01 of the claim to the next payer: the secondary's (``S``) is the primary's number with ``S`` appended;
    the tertiary's (``T``) is the secondary's with its final ``S`` turned into ``T`` (the primary's number + ``T``)."""
    if sequence == "S":
        return secondary_account_number(account_number)
    if sequence == "T" and account_number.endswith("S"):
        return account_number[:-1] + "T"
    raise ValueError(f"claim {account_number}: no claim number for payer sequence {sequence!r}")


LEDGER_REASONS: dict[str, str] = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def ledger_reason(group: str, carc: str) -> str:
    """``PR-1 deductible``, ``PR-2 coinsurance``; other PR codes by their CARC meaning when known."""
    meaning = LEDGER_REASONS.get(carc) or CARC.get(carc, "patient responsibility")
    return f"{group}-{carc} {meaning}"[:200]


Line = TypeVar("Line")


def match_service_lines(lines: Sequence[Line], services: Sequence[Any]) -> list[Line | None]:
    """Each 835 service line's claim line, each claim line used once: REF*6R when the payer echoes our line number
    (or line id), else the same code, modifiers and date, else the same code (or the code before the payer
    changed it), else the next line in order. ``None`` when the claim has fewer lines than the 835."""
    if len(lines) == 1 and len(services) == 1:
        return [lines[0]]  # every step below ends with the only line (the common one-line claim, fast)
    free = list(lines)
    matched: list[Line | None] = [None] * len(services)

    def take(i: int, test: Callable[[Any], bool]) -> None:
        line = next((line for line in free if test(line)), None)
        if line is not None:
            matched[i] = line
            free.remove(line)

    for i, svc in enumerate(services):
        if svc.control_number:
            take(i, lambda line, ref=svc.control_number: ref in (str(line.line_number), str(line.id)))
    for i, svc in enumerate(services):
        if matched[i] is None:
            take(i, lambda line, s=svc: line.cpt == s.code and sorted(line.modifiers or []) == sorted(s.modifiers)
                 and (s.date is None or line.date_of_service == s.date))  # fmt: skip
    for i, svc in enumerate(services):
        if matched[i] is None:
            take(i, lambda line, s=svc: line.cpt in (s.code, s.original_code))
    for i in range(len(services)):
        if matched[i] is None:
            take(i, lambda line: True)
    return matched


# --- Provider-level adjustments (PLB), expected payment, duplicates ----------------------------------------------

RECOUPMENT_PLB = frozenset({"WO", "72", "FB"})  # overpayment recovery, authorized return, forwarding balance
INTEREST_PLB = "L6"


def plb_kind(reason: str) -> str:
    """What posting does with a PLB reason: ``recoupment`` (WO/72/FB), ``interest`` (L6) or ``other``."""
    reason = reason.strip().upper()
    if reason in RECOUPMENT_PLB:
        return "recoupment"
    return "interest" if reason == INTEREST_PLB else "other"


CENT = Decimal("0.01")


def tolerance(expected: Decimal, dollars: Decimal, percent: Decimal) -> Decimal:
    """The underpayment tolerance of a line: the larger of ``dollars`` and ``percent`` of the expected amount
    (defaults $1.00 and 2%: $1.00 up to a $50 allowed, 2% above it)."""
    share = (expected * percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    return max(dollars, share)


def choose_rate(rates: Sequence[Any], modifiers: Sequence[str], day: date) -> Any | None:
    """The contracted rate of a line on ``day`` among ``rates`` (same practice, payer and CPT; each has
    ``modifier``, ``effective_from``, ``effective_to``): one for the line's first modifier that has a rate wins over
    the rate without a modifier (""); among those in force, the latest ``effective_from``."""
    in_force = [r for r in rates if r.effective_from <= day and (r.effective_to is None or day <= r.effective_to)]
    for modifier in [*(m.strip().upper() for m in modifiers if m), ""]:
        matching = [r for r in in_force if r.modifier == modifier]
        if matching:
            return max(matching, key=lambda r: r.effective_from)
    return None


def spread(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` split over lines in proportion to ``weights`` (a recoupment: each line's paid amount), to the
    cent, rounded half up, the rounding remainder on the last line with a weight, so the shares always add up to
    ``amount`` exactly. Lines with no positive weight get nothing; when none has one, the last line takes it all."""
    shares = [Decimal("0.00")] * len(weights)
    if not weights:
        return shares
    positive = [i for i, w in enumerate(weights) if w > 0]
    if not positive:
        shares[-1] = amount
        return shares
    total = sum((weights[i] for i in positive), Decimal(0))
    for i in positive[:-1]:
        shares[i] = (amount * weights[i] / total).quantize(CENT, rounding=ROUND_HALF_UP)
    shares[positive[-1]] = amount - sum(shares, Decimal("0.00"))
    return shares


def line_map_problems(
    services: Sequence[str], line_numbers: Collection[int], chosen: Sequence[int | None]
) -> list[str]:
    """Why a person's mapping of an 835 claim's service lines (``services``: each one's label) to claim lines
    (``chosen``: the claim line number for each, None when none was chosen) cannot post: every service line needs
    one line of the claim, and no claim line takes two."""
    problems: list[str] = []
    if len(chosen) != len(services):
        return [f"service lines: {len(services)} to map, {len(chosen)} mapped"]
    taken: dict[int, int] = {}
    for n, (label, number) in enumerate(zip(services, chosen, strict=True), start=1):
        where = f"service line {n} ({label})"
        if number is None:
            problems.append(f"{where}: choose the claim line it pays")
        elif number not in line_numbers:
            problems.append(f"{where}: the claim has no line {number}")
        elif number in taken:
            problems.append(f"{where}: claim line {number} is already taken by service line {taken[number]}")
        else:
            taken[number] = n
    return problems


@dataclass(frozen=True, slots=True)
class LineCheck:
    """One posted line against its contract: expected allowed, what the payer allowed (paid + patient
    responsibility), the shortfall beyond tolerance (0 when within it), and whether a CO-45 took the payer's
    allowed (charge − CO-45) below the contract."""

    expected: Decimal
    allowed: Decimal
    shortfall: Decimal
    co45_below_contract: bool


def check_line(
    *,
    expected: Decimal,
    charge: Decimal,
    paid: Decimal,
    patient: Decimal,
    co45: Decimal,
    tolerance_dollars: Decimal,
    tolerance_percent: Decimal,
) -> LineCheck:
    """Underpaid when expected − (paid + patient responsibility) exceeds the tolerance; the shortfall is then the
    whole difference (not the part above the tolerance)."""
    allowed = paid + patient
    limit = tolerance(expected, tolerance_dollars, tolerance_percent)
    difference = expected - allowed
    shortfall = difference if difference > limit else Decimal("0.00")
    below = co45 > 0 and (charge - co45) < expected - limit
    return LineCheck(expected, allowed, shortfall, below)


def is_duplicate_payment(
    *, is_reversal: bool, paid: Decimal, claim_paid: Decimal, claim_status: str, lines_paid: Sequence[Decimal | None]
) -> bool:
    """A second payment of an already-paid claim: an original (not a reversal) paying money on a claim that is
    paid or partially paid already, every one of whose service lines matches a claim line already paid (a line
    the 835 names that matches no claim line, None, makes it no duplicate). A claim paid $0 before (denied, all to
    the deductible) or reversed since is not already paid."""
    if is_reversal or paid <= 0 or claim_paid <= 0 or claim_status not in ("paid", "partially_paid"):
        return False
    return all(amount is not None and amount > 0 for amount in lines_paid)


# --- Paper EOB --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EobAdjustment:
    group: str  # CO, PR, OA, PI, CR
    reason: str  # CARC
    amount: Decimal


@dataclass(frozen=True, slots=True)
class EobLine:
    """One claim line as the paper EOB shows it: ``line_number`` and ``charge`` are the claim line's."""

    line_number: int
    cpt: str
    charge: Decimal
    paid: Decimal
    adjustments: tuple[EobAdjustment, ...]
    remarks: tuple[str, ...] = ()


GROUP_CODES = frozenset({"CO", "PR", "OA", "PI", "CR"})


def eob_problems(lines: Sequence[EobLine], *, claim_charge: Decimal, claim_paid: Decimal | None = None) -> list[str]:
    """Why a paper EOB cannot post, each naming the line and the field: a group code that is not one of CO/PR/OA/
    PI/CR, a CARC missing, a line whose charge is not paid + adjustments, claim totals that do not add up."""
    problems: list[str] = []
    for line in lines:
        where = f"line {line.line_number} ({line.cpt})"
        for n, a in enumerate(line.adjustments, start=1):
            if a.group not in GROUP_CODES:
                problems.append(f"{where} adjustment {n} group code: {a.group!r} is not one of CO, PR, OA, PI, CR")
            if not a.reason:
                problems.append(f"{where} adjustment {n} reason: a CARC is required")
        adjusted = sum((a.amount for a in line.adjustments), Decimal("0.00"))
        if line.paid + adjusted != line.charge:
            problems.append(
                f"{where} paid: charge {line.charge:.2f} ≠ paid {line.paid:.2f} + adjustments {adjusted:.2f} "
                f"(off by {line.charge - line.paid - adjusted:.2f})"
            )
    charge = sum((line.charge for line in lines), Decimal("0.00"))
    paid = sum((line.paid for line in lines), Decimal("0.00"))
    if charge != claim_charge:
        problems.append(f"claim charge: the lines add up to {charge:.2f} but the claim's total charge is "
                        f"{claim_charge:.2f}")  # fmt: skip
    if claim_paid is not None and paid != claim_paid:
        problems.append(f"claim paid: the lines add up to {paid:.2f} but the EOB's claim paid is {claim_paid:.2f}")
    return problems
