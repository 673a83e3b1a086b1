"""Pure coding engine: one therapy session's facts plus the payer's rules → claim line drafts and findings.

Source of truth: shared/domain/billing-rules.md sections 1, 2.1-2.3, 3.4 and 4.1. Everything the document calls
payer-dependent comes from ``PayerRules``; CPT conventions (time bands, code families) live in ``cpt.py``.
Same-day edits across several sessions belong to the scrubber, and diagnosis validity to the ICD-10 module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from backoffice.coding import cpt, hcpcs, policy, units
from backoffice.coding.catalogue import RULES, RuleInfo
from backoffice.coding.cpt import crisis_lines, psychotherapy_addon_code, psychotherapy_code
from backoffice.coding.policy import CodingPolicy

__all__ = [
    "PAYER_DEFAULTS",
    "CodingPolicy",
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
    coding: CodingPolicy = CodingPolicy()  # unit rule, code set, crosswalk, modifiers, associates (issue 21)


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
    procedure: str | None = None  # the HCPCS Level II code of service "hcpcs"
    pharmacologic_management: bool = False  # +90863 by a prescribing psychologist
    state: str = ""  # the practice's state (90863 prescriptive authority)
    patient_age: int | None = None  # whole years on the date of service (HA and other age modifiers)
    associate: bool = False  # rendered by a pre-licensed associate under supervision


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


def _formatted(rule_id: str, **values: object) -> Finding:
    r = _RULES_BY_ID[rule_id]
    return Finding(r.id, r.severity, r.message_template.format(**values), r.field, r.fix)


def _capped_96127(requested: int, cap: int) -> Finding:
    return _formatted("CODE-96127-CAPPED", requested=requested, cap=cap)


_MEDICARE_TELEHEALTH = TelehealthPolicy(
    video_modifier=None, audio_only_home_only=True, in_person_visit_required_from=date(2028, 1, 1)
)
# Defaults per payer kind (billing-rules 2.1, 2.3, 13.1); real payers override them from the payer-rule table.
# X{EPSU} modifiers are CMS's (NCCI), so Medicare and Medicaid default to XE; commercial to the widely accepted 59.
# NCCI edits apply to Medicare and, by ACA section 6507, to Medicaid; Medicaid programmes commonly let an associate
# render under a supervisor named in 2310D, Medicare does not pay for associates (payer data overrides both).
_NCCI = CodingPolicy(ncci_edits=True)
_MEDICAID_CODING = CodingPolicy(ncci_edits=True, associate_billing=policy.SUPERVISOR_2310D)
PAYER_DEFAULTS: dict[str, PayerRules] = {
    "medicare": PayerRules(
        "medicare", _MEDICARE_TELEHEALTH, separate_session_modifier="XE", max_96127_units=3, coding=_NCCI
    ),
    "medicare_advantage": PayerRules("medicare_advantage", coding=_NCCI),
    "medicaid": PayerRules("medicaid", separate_session_modifier="XE", coding=_MEDICAID_CODING),
    "medicaid_managed_care": PayerRules(
        "medicaid_managed_care", separate_session_modifier="XE", coding=_MEDICAID_CODING
    ),
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
_OTHER_UNTIMED: dict[str, str] = {
    "multi_family_group": cpt.MULTI_FAMILY_GROUP,
    "environmental_intervention": cpt.ENVIRONMENTAL_INTERVENTION,
    "results_interpretation": cpt.RESULTS_INTERPRETATION,
}
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
    return _other_service_codes(facts, payer, add)


def _other_service_codes(facts: SessionFacts, payer: PayerRules, add: list[Finding]) -> list[tuple[str, int]]:
    """Screening-only, 90849/90882/90887, testing, BHI/CoCM and HCPCS Level II services (issue 21)."""
    service = facts.service
    minutes = facts.minutes
    code = _OTHER_UNTIMED.get(service)
    if code is not None:
        return [(code, 1)]
    if service == "screening":
        if facts.screenings <= 0:
            add.append(_F["CODE-SCREENING-NONE"])
        return []
    testing = cpt.TESTING.get(service)
    if testing is not None:
        first, addon, block = testing
        if service != "test_administration_technician" and facts.credential not in cpt.TESTING_CREDENTIALS:
            add.append(_F["CODE-CRED-TESTING"])
        count = units.midpoint_units(minutes, block)
        if count == 0:
            add.append(_formatted("CODE-TESTING-UNDER", minutes=minutes, threshold=block // 2 + 1, code=first,
                                  block=block))  # fmt: skip
            return []
        return [(first, 1), (addon, count - 1)] if count > 1 else [(first, 1)]
    if service == "bhi":
        if minutes < cpt.BHI_MIN_MINUTES:
            add.append(_F["CODE-BHI-UNDER-20"])
            return []
        return [(cpt.BHI, 1)]
    cocm = cpt.COCM.get(service)
    if cocm is not None:
        code, block, threshold = cocm
        if facts.credential not in cpt.PRESCRIBER_CREDENTIALS:
            add.append(_F["CODE-COCM-CREDENTIAL"])
        if minutes < threshold:
            add.append(_formatted("CODE-COCM-UNDER", minutes=minutes, threshold=threshold, code=code))
            return []
        extra = units.midpoint_units(minutes - block, 30)
        return [(code, 1), (cpt.COCM_ADDON, extra)] if extra else [(code, 1)]
    if service == "hcpcs":
        procedure = facts.procedure
        if not procedure:
            add.append(_F["CODE-HCPCS-MISSING"])
            return []
        if procedure not in hcpcs.CODES:
            add.append(_formatted("CODE-HCPCS-UNKNOWN", code=procedure))
            return []
        count = _hcpcs_units(procedure, minutes, payer.coding, add)
        return [(procedure, count)] if count else []
    add.append(_F["CODE-SERVICE-UNKNOWN"])
    return []


def _hcpcs_units(code: str, minutes: int, coding: CodingPolicy, add: list[Finding]) -> int:
    """Units of a HCPCS Level II code by its unit kind and the payer's 15-minute rule; 0 adds a finding."""
    kind = hcpcs.CODES[code].unit_kind
    if kind == hcpcs.FIFTEEN_MINUTES:
        count = units.fifteen_minute_units(minutes, coding.fifteen_minute_rule)
    elif kind == hcpcs.HOUR:
        count = units.midpoint_units(minutes, 60)
    else:  # per diem, per encounter
        return 1
    if count == 0:
        add.append(_formatted("CODE-UNITS-ZERO", minutes=minutes, code=code, rule=coding.fifteen_minute_rule))
    return count


def _crosswalked(codes: list[tuple[str, int]], facts: SessionFacts, coding: CodingPolicy,
                 add: list[Finding]) -> list[tuple[str, int]]:  # fmt: skip
    """The payer's HCPCS instead of each crosswalked CPT; codes mapping to one HCPCS become one line."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for code, count in codes:
        target = coding.crosswalk.get(code)
        if target is None:
            out.append((code, count))
            continue
        if target in seen:
            continue
        seen.add(target)
        if target in hcpcs.CODES:
            count = _hcpcs_units(target, facts.minutes, coding, add)
        if count:
            out.append((target, count))
    return out


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

    if facts.procedure and facts.service != "hcpcs":
        findings.append(_F["CODE-PROCEDURE-IGNORED"])
    if facts.pharmacologic_management:
        _pharmacologic_management(facts, codes, findings)
    coding = payer.coding
    if coding.crosswalk:
        codes = _crosswalked(codes, facts, coding, findings)
    if coding.accepted_codes is not None:
        for code, _ in codes:
            if code not in coding.accepted_codes:
                findings.append(_formatted("CODE-PAYER-CODE", code=code))

    pos, modifiers = _place_and_modifiers(facts, payer, findings)
    em_25 = _em_25(codes, coding)
    if not coding.modifier_rules and em_25 is None:
        lines = tuple([LineDraft(code, modifiers, count, pos, pointers) for code, count in codes])
    else:
        if em_25 is not None:
            findings.append(_formatted("CODE-MODIFIER-25", em=codes[0][0], other=em_25))
        age = _age_key(facts.patient_age, coding)
        drafts = []
        for code, count in codes:
            chosen, over = _line_modifiers(
                code, facts.service, facts.credential, facts.associate, age, coding, modifiers, em_25
            )
            if over is not None:
                findings.append(over)
            drafts.append(LineDraft(code, chosen, count, pos, pointers))
        lines = tuple(drafts)
    return CodingResult(lines, tuple(findings))


def _pharmacologic_management(facts: SessionFacts, codes: list[tuple[str, int]], add: list[Finding]) -> None:
    """+90863: a prescribing psychologist in a state that allows it, with 90832/90834/90837 (billing-rules 1.1)."""
    if facts.credential not in cpt.PSYCHOLOGISTS:
        add.append(_F["CODE-90863-CREDENTIAL"])
        return
    if facts.state not in cpt.PRESCRIBING_PSYCHOLOGIST_STATES:
        add.append(_formatted("CODE-90863-STATE", state=facts.state or "unknown"))
        return
    if not any(code in cpt.PHARMACOLOGIC_PRIMARIES for code, _ in codes):
        add.append(_F["CODE-90863-NO-PRIMARY"])
        return
    codes.append((cpt.PHARMACOLOGIC_MANAGEMENT, 1))


def _em_25(codes: list[tuple[str, int]], coding: CodingPolicy) -> str | None:
    """The separately identifiable code that puts modifier 25 on this session's E/M, or None."""
    if not codes or codes[0][0] not in cpt.EM_OFFICE or not coding.em_modifier_25:
        return None
    return next((code for code, _ in codes if code in cpt.SEPARATELY_IDENTIFIABLE), None)


@lru_cache(maxsize=1024)
def _age_thresholds(coding: CodingPolicy) -> tuple[int, ...]:
    return tuple(sorted({r.max_age for r in coding.modifier_rules if r.max_age is not None}))


def _age_key(age: int | None, coding: CodingPolicy) -> int | None:
    """The smallest age threshold of the payer's rules at or above ``age`` (999 above them all): the same
    modifiers for every age it stands for, so the cache below is keyed by a handful of values, not every age."""
    thresholds = _age_thresholds(coding)
    if age is None or not thresholds:
        return None
    return next((t for t in thresholds if age <= t), 999)


@lru_cache(maxsize=65536)
def _line_modifiers(
    code: str,
    service: str,
    credential: str,
    associate: bool,
    patient_age: int | None,
    coding: CodingPolicy,
    telehealth: tuple[str, ...],
    em_25: str | None,
) -> tuple[tuple[str, ...], Finding | None]:
    """The payer's modifiers for this line (payer × credential × service × code × age), 25, telehealth, in order;
    with the warning when more than 4 were chosen."""
    chosen: list[str] = []
    for rule in coding.modifier_rules:
        if rule.credentials:
            if associate:
                if policy.ASSOCIATE not in rule.credentials:
                    continue
            elif credential not in rule.credentials:
                continue
        if rule.services and service not in rule.services:
            continue
        if rule.codes and code not in rule.codes:
            continue
        if rule.max_age is not None and (patient_age is None or patient_age > rule.max_age):
            continue
        chosen.extend(rule.modifiers)
    if em_25 is not None and code in cpt.EM_OFFICE:
        chosen.append("25")
    chosen.extend(telehealth)
    result = policy.ordered(chosen, coding)
    if len(result) > cpt.MAX_MODIFIERS:
        return result[: cpt.MAX_MODIFIERS], _formatted("CODE-MODIFIERS-OVER-4", code=code, count=len(result))
    return result, None
