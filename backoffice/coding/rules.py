"""Pure coding engine: one therapy session's facts plus the payer's rules → claim line drafts and findings.

Source of truth: shared/domain/billing-rules.md sections 1, 2.1-2.3, 3.4 and 4.1. Everything the document calls
payer-dependent comes from ``PayerRules``; CPT conventions (time bands, code families) live in ``cpt.py``.
Same-day edits across several sessions belong to the scrubber, and diagnosis validity to the ICD-10 module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backoffice.coding import cpt
from backoffice.coding.catalogue import RULES, RuleInfo
from backoffice.coding.cpt import crisis_lines, psychotherapy_addon_code, psychotherapy_code

__all__ = [
    "PAYER_DEFAULTS",
    "RULES",
    "CodingResult",
    "Finding",
    "LineDraft",
    "PayerRules",
    "RuleInfo",
    "SessionFacts",
    "TelehealthPolicy",
    "code_session",
    "crisis_lines",
    "psychotherapy_addon_code",
    "psychotherapy_code",
]


@dataclass(frozen=True, slots=True)
class TelehealthPolicy:
    video_modifier: str | None = "95"  # Medicare professional claims: None (no 95)
    audio_only_modifier: str | None = "93"
    audio_only_allowed: bool = True  # False → audio-only sessions are not billable for this payer (error finding)
    home_pos: str = "10"  # patient at home
    other_pos: str = "02"  # patient elsewhere, not home (billing-rules 13.3: payer-configurable)
    # Additions beyond the agreed shape, both defaulted (billing-rules 2.3, Medicare): audio-only only for a
    # patient at home, and the in-person-visit requirement for tele-mental-health that returns on 1 Jan 2028.
    audio_only_home_only: bool = False
    in_person_visit_required_from: date | None = None


@dataclass(frozen=True, slots=True)
class PayerRules:
    kind: str  # "medicare" | "medicaid" | "commercial" | "behavioral_health_carve_out" | "self_pay"
    telehealth: TelehealthPolicy = TelehealthPolicy()
    separate_session_modifier: str = "59"  # or "XE"; the scrubber uses it for distinct same-day sessions (E11)
    max_96127_units: int = 4
    allows_99211_with_addon: bool = False  # billing-rules 1.1: 99211 + psychotherapy add-on is payer-dependent


@dataclass(frozen=True, slots=True)
class SessionFacts:
    service: str  # psychotherapy | intake | intake_medical | crisis | family_with_patient | family_without_patient
    #               | group | em | em_psychotherapy
    minutes: int  # psychotherapy minutes (for em_psychotherapy: psychotherapy time only, separate from E/M)
    em_code: str | None  # 99202-99205 / 99211-99215 for em and em_psychotherapy
    modality: str  # in_person | video | audio_only
    patient_location: str  # office | home | other
    interactive_complexity: bool
    screenings: int  # number of standardized instruments (96127 units)
    diagnoses: tuple[str, ...]  # ICD-10-CM codes in pointer order (with or without the dot)
    credential: str  # MD, DO, NP, PA, PhD, PsyD, LCSW, LPC, LMFT, LMHC
    date_of_service: date


@dataclass(frozen=True, slots=True)
class LineDraft:
    cpt: str
    modifiers: tuple[str, ...]
    units: int
    pos: str
    diagnosis_pointers: tuple[int, ...]  # 1-based indexes into the claim's diagnosis list, max 4, first = primary


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # stable id like "CODE-TIME-UNDER-16"
    severity: str  # "error" (blocks submission) | "warning" (does not)
    message: str  # human sentence naming the field; never patient data
    field: str
    fix: str


@dataclass(frozen=True, slots=True)
class CodingResult:
    lines: tuple[LineDraft, ...]
    findings: tuple[Finding, ...]

    @property
    def billable(self) -> bool:
        """At least one line and no error finding."""
        return bool(self.lines) and not any(f.severity == "error" for f in self.findings)


_RULES_BY_ID: dict[str, RuleInfo] = {r.id: r for r in RULES}
# Static messages are built once, so the common paths of code_session allocate no findings.
_F: dict[str, Finding] = {r.id: Finding(r.id, r.severity, r.message_template, r.field, r.fix) for r in RULES}


def _capped_96127(requested: int, cap: int) -> Finding:
    r = _RULES_BY_ID["CODE-96127-CAPPED"]
    return Finding(r.id, r.severity, r.message_template.format(requested=requested, cap=cap), r.field, r.fix)


_MEDICARE_TELEHEALTH = TelehealthPolicy(
    video_modifier=None, audio_only_home_only=True, in_person_visit_required_from=date(2028, 1, 1)
)
# Defaults per payer kind (billing-rules 2.1, 2.3, 13.1); real payers override them from the payer-rule table.
# X{EPSU} modifiers are CMS's (NCCI), so Medicare and Medicaid default to XE; commercial to the widely accepted 59.
PAYER_DEFAULTS: dict[str, PayerRules] = {
    "medicare": PayerRules("medicare", _MEDICARE_TELEHEALTH, separate_session_modifier="XE"),
    "medicaid": PayerRules("medicaid", separate_session_modifier="XE"),
    "commercial": PayerRules("commercial"),
    "behavioral_health_carve_out": PayerRules("behavioral_health_carve_out"),
    "self_pay": PayerRules("self_pay"),
}

_POINTERS: tuple[tuple[int, ...], ...] = ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4))
_UNTIMED: dict[str, str] = {"intake": cpt.INTAKE, "intake_medical": cpt.INTAKE_MEDICAL, "group": cpt.GROUP}
_FAMILY: dict[str, str] = {
    "family_without_patient": cpt.FAMILY_WITHOUT_PATIENT,
    "family_with_patient": cpt.FAMILY_WITH_PATIENT,
}
_EM_SERVICES = frozenset({"em", "em_psychotherapy"})
_IN_PERSON_POS: dict[str, str] = {"office": "11", "home": "12", "other": "11"}  # 12: clinician visits the home
_LOCATIONS = frozenset(_IN_PERSON_POS)


def _place_and_modifiers(facts: SessionFacts, payer: PayerRules, add: list[Finding]) -> tuple[str, tuple[str, ...]]:
    """POS and the telehealth modifiers that go on every line of the session (billing-rules 2.2, 2.3)."""
    location = facts.patient_location
    if location not in _LOCATIONS:
        add.append(_F["CODE-LOCATION-UNKNOWN"])
    modality = facts.modality
    if modality == "in_person":
        if location == "other":
            add.append(_F["CODE-POS-IN-PERSON-OTHER"])
        return _IN_PERSON_POS.get(location, "11"), ()
    tele = payer.telehealth
    if modality == "video":
        modifier = tele.video_modifier
    elif modality == "audio_only":
        modifier = tele.audio_only_modifier
        if not tele.audio_only_allowed:
            add.append(_F["CODE-TELE-AUDIO-NOT-COVERED"])
        elif tele.audio_only_home_only and location != "home":
            add.append(_F["CODE-TELE-AUDIO-NOT-HOME"])
        if modifier == "95":
            add.append(_F["CODE-TELE-AUDIO-95"])
    else:
        add.append(_F["CODE-MODALITY-UNKNOWN"])
        return "", ()
    required_from = tele.in_person_visit_required_from
    if required_from is not None and facts.date_of_service >= required_from:
        add.append(_F["CODE-TELE-IN-PERSON-VISIT"])
    pos = tele.home_pos if location == "home" else tele.other_pos
    return pos, ((modifier,) if modifier else ())


def _service_codes(facts: SessionFacts, payer: PayerRules, add: list[Finding]) -> list[tuple[str, int]]:
    """(code, units) for the session's service, primary first, then its add-ons (billing-rules 1.1-1.5)."""
    service = facts.service
    minutes = facts.minutes
    if facts.em_code and service not in _EM_SERVICES:
        add.append(_F["CODE-EM-IGNORED"])
    if service == "psychotherapy":
        code = psychotherapy_code(minutes)
        if code is None:
            add.append(_F["CODE-TIME-UNDER-16"])
            return []
        if minutes >= cpt.EXTENDED_SESSION_MINUTES:
            add.append(_F["CODE-TIME-EXTENDED"])
        return [(code, 1)]
    if service in _EM_SERVICES:
        em = facts.em_code
        if not em:
            add.append(_F["CODE-EM-MISSING"])
            return []
        if em not in cpt.EM_OFFICE:
            add.append(_F["CODE-EM-INVALID"])
            return []
        if service == "em":
            return [(em, 1)]
        addon = psychotherapy_addon_code(minutes)
        if addon is None:
            add.append(_F["CODE-ADDON-UNDER-16"])
            return [(em, 1)]
        if minutes >= cpt.EXTENDED_SESSION_MINUTES:
            add.append(_F["CODE-TIME-EXTENDED"])
        if em == cpt.EM_CLINICAL_STAFF and not payer.allows_99211_with_addon:
            add.append(_F["CODE-EM-99211-ADDON"])
        return [(em, 1), (addon, 1)]
    code = _UNTIMED.get(service)
    if code is not None:
        return [(code, 1)]
    code = _FAMILY.get(service)
    if code is not None:
        if minutes < cpt.FAMILY_MIN_MINUTES:
            add.append(_F["CODE-FAMILY-UNDER-26"])
            return []
        return [(code, 1)]
    if service == "crisis":
        lines = crisis_lines(minutes)
        if lines:
            return list(lines)
        add.append(_F["CODE-CRISIS-UNDER-30"])  # under 30: regular psychotherapy by the time bands (1.3)
        code = psychotherapy_code(minutes)
        if code is None:
            add.append(_F["CODE-TIME-UNDER-16"])
            return []
        return [(code, 1)]
    add.append(_F["CODE-SERVICE-UNKNOWN"])
    return []


def _interactive_complexity_refusal(facts: SessionFacts, codes: list[tuple[str, int]]) -> Finding | None:
    """None when +90785 may join these codes, else the finding explaining why it was left off (1.1, 1.4, 1.5)."""
    for code, _ in codes:
        if code in cpt.INTERACTIVE_COMPLEXITY_PRIMARIES:
            return None
    if not codes:
        return _F["CODE-90785-NO-PRIMARY"]
    if codes[0][0] == cpt.CRISIS:
        return _F["CODE-90785-WITH-CRISIS"]
    if facts.service in _FAMILY:
        return _F["CODE-90785-WITH-FAMILY"]
    return _F["CODE-90785-EM-WITHOUT-ADDON"]


def code_session(facts: SessionFacts, payer: PayerRules) -> CodingResult:
    """Line drafts for one session (primary, add-ons, +90785, 96127) and every finding; no same-day edits."""
    findings: list[Finding] = []
    if facts.minutes < 0:
        findings.append(_F["CODE-MINUTES-NEGATIVE"])
    codes = _service_codes(facts, payer, findings)

    if facts.interactive_complexity:
        refusal = _interactive_complexity_refusal(facts, codes)
        if refusal is None:
            codes.append((cpt.INTERACTIVE_COMPLEXITY, 1))
        else:
            findings.append(refusal)

    screenings = facts.screenings
    if screenings > 0:
        cap = payer.max_96127_units
        if screenings > cap:
            findings.append(_capped_96127(screenings, cap))
            screenings = cap
        if screenings > 0:
            codes.append((cpt.SCREENING, screenings))
    elif screenings < 0:
        findings.append(_F["CODE-SCREENINGS-NEGATIVE"])

    credential = facts.credential
    if credential not in cpt.CREDENTIALS:
        findings.append(_F["CODE-CRED-UNKNOWN"])
    elif credential not in cpt.PRESCRIBER_CREDENTIALS:
        for code, _ in codes:
            if code in cpt.PRESCRIBER_ONLY:  # lines stay listed so the biller sees what was refused
                findings.append(_F["CODE-CRED-PRESCRIBER-ONLY"])
                break

    count = len(facts.diagnoses)
    if count == 0:
        findings.append(_F["CODE-DX-NONE"])
    elif count > cpt.MAX_DIAGNOSES:
        findings.append(_F["CODE-DX-OVER-12"])
    pointers = _POINTERS[count if count < cpt.MAX_POINTERS else cpt.MAX_POINTERS]

    pos, modifiers = _place_and_modifiers(facts, payer, findings)
    lines = tuple([LineDraft(code, modifiers, units, pos, pointers) for code, units in codes])
    return CodingResult(lines, tuple(findings))
