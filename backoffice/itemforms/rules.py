"""Pure checks and explanations behind the per-kind item forms (no Flask, SQLAlchemy or Redis).

Benefits entry (billing-rules §8.1), prior-auth entry (§8.3), claim-line edits (§1.1, §2, §4.1) and what a denial or
a front-end rejection means (§6). Every error names its field; none repeats patient data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice import inputs
from backoffice.coding.catalogue import WARNING, RuleInfo
from backoffice.eligibility.rules import BenefitsFacts
from backoffice.remits.carc import CARC, GROUPS, RARC
from backoffice.remits.rules import route_denial

# The CPT/HCPCS codes of billing-rules §1.1 (the behavioral-health catalogue this product codes and scrubs).
CPT_CATALOGUE: frozenset[str] = frozenset(
    {"90785", "90791", "90792", "90832", "90833", "90834", "90836", "90837", "90838", "90839", "90840", "90845",
     "90846", "90847", "90849", "90853", "90863", "96127", "96130", "96131", "96132", "96133", "96136", "96137",
     "96138", "96139", "96146", "99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"}
)  # fmt: skip
MAX_LINES = 6  # an 837P professional claim may have 50; a therapy session never needs more than a handful
MAX_UNITS = 99
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_MONEY = Decimal("1000000")
MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
POS = re.compile(r"^\d{2}$")
CPT_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class BenefitsEntry(BenefitsFacts):
    """What a biller read off the portal or heard on the phone (the same facts a 271 gives, None where the payer
    said nothing), with the call's or the portal's reference number."""

    reference_number: str | None = None


def check_benefits(entry: BenefitsEntry) -> list[str]:
    """Every problem with a benefits entry, each naming its field (empty when it can be recorded)."""
    errors: list[str] = []
    for name, value in (("copay", entry.copay), ("deductible remaining", entry.deductible_remaining),
                        ("out-of-pocket remaining", entry.out_of_pocket_remaining)):  # fmt: skip
        if value is not None and not Decimal(0) <= value < MAX_MONEY:
            errors.append(f"{name}: an amount from 0.00 to 999,999.99")
        elif value is not None and value != value.quantize(Decimal("0.01")):
            errors.append(f"{name}: at most two decimals (cents)")
    if entry.coinsurance_percent is not None and not Decimal(0) <= entry.coinsurance_percent <= 100:
        errors.append("coinsurance %: between 0 and 100")
    for name, count in (("visits allowed", entry.visits_allowed), ("visits remaining", entry.visits_remaining)):
        if count is not None and not 0 <= count <= 1000:
            errors.append(f"{name}: between 0 and 1000")
    if (
        entry.visits_allowed is not None
        and entry.visits_remaining is not None
        and entry.visits_remaining > entry.visits_allowed
    ):
        errors.append("visits remaining: cannot be more than the visits allowed")
    if (entry.carve_out_payer_id or "").strip() and not (entry.carve_out_payer_name or "").strip():
        errors.append("carve-out payer name: required with a carve-out payer ID")
    if entry.active is None:
        errors.append("active: say whether the coverage is active on the date of service")
    return errors


def parse_cpts(text: str | None) -> tuple[list[str], list[str]]:
    """CPT codes typed as a list ("90834, 90837") → (codes in order, errors naming each unknown one)."""
    codes = [code.upper() for code in CPT_SPLIT.split((text or "").strip()) if code]
    unknown = [code for code in codes if code not in CPT_CATALOGUE]
    errors = [f"CPT codes: {code} is not in the catalogue" for code in unknown]
    if not codes:
        errors.append("CPT codes: at least one")
    return list(dict.fromkeys(codes)), errors


def check_authorization(
    *, number: str | None, cpts: Sequence[str], authorized: int | None, start: date | None, end: date | None
) -> list[str]:
    """Problems with a prior-auth entry (§8.3): number, catalogue CPTs, units or visits, end on or after start."""
    errors: list[str] = []
    if not (number or "").strip():
        errors.append("authorization number: required")
    elif len(number.strip()) > 50:
        errors.append("authorization number: at most 50 characters")
    errors.extend(f"CPT codes: {code} is not in the catalogue" for code in cpts if code not in CPT_CATALOGUE)
    if not cpts:
        errors.append("CPT codes: at least one")
    if authorized is None or not 1 <= authorized <= 1000:
        errors.append("units or visits authorized: between 1 and 1000")
    if start is None:
        errors.append("start date: required")
    if end is None:
        errors.append("end date: required")
    if start is not None and end is not None and end < start:
        errors.append("end date: must be on or after the start date")
    return errors


@dataclass(frozen=True, slots=True)
class LineEdit:
    """One claim line as a biller leaves it (the charge comes from the fee schedule, never typed)."""

    cpt: str
    modifiers: tuple[str, ...]
    units: int
    pos: str
    pointers: tuple[int, ...]


def parse_line(raw: dict[str, object], number: int) -> tuple[LineEdit | None, list[str]]:
    """A line from the form or the JSON preview (strings) → a LineEdit, or errors naming line and field."""
    errors: list[str] = []
    where = f"line {number}"
    cpt = str(raw.get("cpt") or "").strip().upper()
    if cpt not in CPT_CATALOGUE:
        errors.append(f"{where}, CPT: {cpt or '(empty)'} is not in the catalogue")
    modifiers = tuple(m for m in CPT_SPLIT.split(str(raw.get("modifiers") or "").strip().upper()) if m)
    if len(modifiers) > MAX_MODIFIERS:
        errors.append(f"{where}, modifiers: at most {MAX_MODIFIERS}")
    bad = [m for m in modifiers if not MODIFIER.match(m)]
    errors.extend(f"{where}, modifiers: {m} is not a two-character modifier" for m in bad)
    try:
        units = inputs.whole_number(str(raw.get("units") or ""), low=1, high=MAX_UNITS)
    except inputs.InputProblem:
        errors.append(f"{where}, units: a whole number from 1 to {MAX_UNITS}")
    pos = str(raw.get("pos") or "").strip()
    if not POS.match(pos):
        errors.append(f"{where}, POS: a two-digit place-of-service code")
    pointers: list[int] = []
    for part in CPT_SPLIT.split(str(raw.get("pointers") or "").strip()):
        if not part:
            continue
        try:
            pointers.append(inputs.whole_number(part))
        except inputs.InputProblem:
            errors.append(f"{where}, diagnosis pointers: {part} is not a number")
    if not pointers:
        errors.append(f"{where}, diagnosis pointers: at least one (1 is the primary diagnosis)")
    elif len(pointers) > MAX_POINTERS:
        errors.append(f"{where}, diagnosis pointers: at most {MAX_POINTERS}")
    if errors:
        return None, errors
    return LineEdit(cpt, modifiers, units, pos, tuple(pointers)), []


def check_lines(lines: Sequence[LineEdit], diagnosis_count: int) -> list[str]:
    """Claim-shape problems across lines: count, pointers into the diagnosis list, repeated pointers."""
    errors: list[str] = []
    if not lines:
        errors.append("lines: at least one")
    if len(lines) > MAX_LINES:
        errors.append(f"lines: at most {MAX_LINES}")
    for number, line in enumerate(lines, start=1):
        bad = [p for p in line.pointers if not 1 <= p <= diagnosis_count]
        if bad:
            errors.append(
                f"line {number}, diagnosis pointers: {', '.join(map(str, bad))} beyond the {diagnosis_count} "
                "diagnosis code(s) of the session"
            )
        if len(set(line.pointers)) != len(line.pointers):
            errors.append(f"line {number}, diagnosis pointers: each at most once")
    return errors


# The charge review's own edits (billing-rules 1.2 and 1.7 decide the code from the session's facts; a biller may
# bill something else, but the note must support it): in docs/rules.md with the coding engine's and the scrubber's.
EDIT_NOT_CODED = RuleInfo(
    "EDIT-NOT-CODED",
    WARNING,
    "cpt",
    "{cpt} is not what the session's facts code to ({derived}): the documentation must support it.",
    "Check the note supports the billed code (minutes, service, who was present), or bill what the session codes to.",
    "billing-rules 1.2, 3.4",
)
EDIT_CODE_DROPPED = RuleInfo(
    "EDIT-CODE-DROPPED",
    WARNING,
    "cpt",
    "{cpt} was coded from the session but is not billed.",
    "Bill it, or leave a note on the item saying why it is left off.",
    "billing-rules 1.2, 3.4",
)
EDIT_RULES: tuple[RuleInfo, ...] = (EDIT_NOT_CODED, EDIT_CODE_DROPPED)


def differences_from_coding(lines: Sequence[LineEdit], coded: Sequence[LineEdit]) -> list[dict[str, str]]:
    """A warning for every code the biller's lines bill that the coding engine did not derive from the session's
    facts (minutes, service, modality), and for every coded code left off: the record must support the edit."""
    edited, derived = [line.cpt for line in lines], [line.cpt for line in coded]
    found = []
    for rule, cpts in ((EDIT_NOT_CODED, set(edited) - set(derived)), (EDIT_CODE_DROPPED, set(derived) - set(edited))):
        for cpt in sorted(cpts):
            message = rule.message_template.format(cpt=cpt, derived=", ".join(derived) or "nothing")
            found.append({"rule": rule.id, "severity": rule.severity, "field": rule.field, "message": message})
    return found


def has_errors(findings: Iterable[dict[str, str]]) -> bool:
    """Whether any finding blocks submission."""
    return any(f.get("severity") == "error" for f in findings)


# ---- denials and rejections (§6) ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeExplained:
    code: str  # "CO-50"
    group: str
    group_meaning: str
    carc: str
    meaning: str
    family: str
    action: str
    appealable: bool


def split_code(code: str) -> tuple[str, str]:
    """ "CO-50" → ("CO", "50"); a bare CARC has no group."""
    group, _, carc = code.strip().upper().partition("-")
    return (group, carc) if carc else ("", group)


def explain_denial(codes: Sequence[str], remarks: Sequence[str], payer_kind: str = "") -> list[CodeExplained]:
    """Each adjustment code with its group and CARC meaning, its §6.6 family and the suggested action
    (``route_denial``: the RARCs refine the generic CARCs)."""
    out = []
    for code in codes:
        group, carc = split_code(code)
        route = route_denial(group, carc, remarks, payer_kind=payer_kind)
        out.append(
            CodeExplained(
                code=f"{group}-{carc}" if group else carc,
                group=group,
                group_meaning=GROUPS.get(group, "no group"),
                carc=carc,
                meaning=CARC.get(carc, "no description on file"),
                family=route.family.value,
                action=route.action,
                appealable=route.appealable,
            )  # fmt: skip
        )
    return out


def explain_remarks(remarks: Sequence[str]) -> list[tuple[str, str]]:
    """(RARC, meaning) pairs; an unknown remark code keeps its code with no meaning to show."""
    return [(code, RARC.get(code.strip().upper(), "no description on file")) for code in remarks]
