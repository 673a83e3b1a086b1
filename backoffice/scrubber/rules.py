"""The claim scrubber: pure edits over coded sessions, with an explicit ``today``.

Per session: the coding engine's findings, diagnosis validity and order, NPIs, patient data, prior
authorization, timely filing. Across sessions: the same-day combination edits of billing-rules 1.6 (same
patient, same date of service, same rendering NPI) and duplicates. Messages never contain patient data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, time, timedelta
from functools import lru_cache

from backoffice.authorizations.rules import Line, Problem, allocate
from backoffice.coding import cpt, icd10, policy
from backoffice.coding.rules import CodingResult, Finding, LineDraft, PayerRules, SessionFacts, code_session
from backoffice.deadlines.rules import days_left, filing_status, timely_filing_deadline
from backoffice.orgs.rules import npi_problem
from backoffice.scrubber.catalogue import BY_ID, RULES
from backoffice.scrubber.day_edits import coding_edits

EVALUATIONS = frozenset({"90791", "90792"})
EM = frozenset({"99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215"})
TIMED = frozenset({"90832", "90834", "90837"})
ADDONS = frozenset({"90833", "90836", "90838"})
PSYCHOTHERAPY = TIMED | ADDONS
CRISIS = frozenset({"90839", "90840"})
FAMILY = frozenset({"90846", "90847"})
IC_PRIMARIES = frozenset({"90791", "90792", "90832", "90833", "90834", "90836", "90837", "90838", "90853"})
IC_FORBIDDEN = CRISIS | FAMILY | frozenset({"90849"}) | frozenset(f"961{n}" for n in range(30, 40))
PSYCHOTHERAPY_SERVICES = frozenset({"psychotherapy", "em_psychotherapy", "crisis", "family_with_patient",
                                    "family_without_patient", "group"})  # fmt: skip
SEVERITY_ORDER = {rule.id: index for index, rule in enumerate(RULES)}
TESTING_EPISODE_GAP = timedelta(days=30)  # testing dates further apart than this are separate evaluations


@dataclass(frozen=True, slots=True)
class AuthorizationFacts:
    number: str
    cpts: frozenset[str]
    remaining: int  # what is left for this session: its own claim's use is given back before it is scrubbed again
    start: date
    end: date
    counts_visits: bool = True
    key: int = 0  # the Authorization row's id (0 in hand-made facts: then the number tells them apart)


@dataclass(frozen=True, slots=True)
class PayerFacts:
    payer_id: str
    name: str
    kind: str
    filing_limit_days: int | None
    prior_auth_cpts: frozenset[str]
    rules: PayerRules


@dataclass(frozen=True, slots=True)
class ScrubInput:
    """One coded session and what the edits need to know about it (IDs and facts, no names)."""

    ref: str
    facts: SessionFacts
    coding: CodingResult
    payer: PayerFacts
    patient_key: str  # groups a patient's sessions (practice + patient reference)
    billing_npi: str
    rendering_npi: str
    member_id: str | None
    patient_dob: date | None
    patient_sex: str | None
    start_time: time | None = None
    auth_number: str | None = None
    authorizations: tuple[AuthorizationFacts, ...] = ()
    supervisor_npi: str | None = None  # the associate's supervising provider (facts.associate)


@dataclass(frozen=True, slots=True)
class ScrubResult:
    ref: str
    lines: tuple[LineDraft, ...]
    findings: tuple[Finding, ...]
    filing_deadline: date | None
    rendering_npi: str = ""  # who renders on the claim (the supervisor when the payer bills associates under them)
    supervising_npi: str | None = None  # 2310D, when the payer bills an associate with the supervisor named

    @property
    def billable(self) -> bool:
        """There is something to bill and nothing that blocks submission."""
        return bool(self.lines) and not any(f.severity == "error" for f in self.findings)


def finding(rule_id: str, **values: object) -> Finding:
    """A Finding for a catalogue rule, its message filled in with ``values``."""
    rule = BY_ID[rule_id]
    return Finding(rule.id, rule.severity, rule.message_template.format(**values), rule.field, rule.fix)


def scrub(inputs: Sequence[ScrubInput], *, today: date) -> list[ScrubResult]:
    """Scrub every session; same-day and duplicate edits see all of ``inputs`` together."""
    extra: dict[int, list[Finding]] = defaultdict(list)
    lines: dict[int, tuple[LineDraft, ...]] = {i: item.coding.lines for i, item in enumerate(inputs)}
    retimed = _testing_episodes(inputs, lines, extra)
    groups: dict[tuple[str, date, str], list[int]] = defaultdict(list)
    for index, item in enumerate(inputs):
        groups[(item.patient_key, item.facts.date_of_service, item.rendering_npi)].append(index)
    starts = [item.start_time for item in inputs]
    minutes = [item.facts.minutes for item in inputs]
    for members in groups.values():
        if len(members) == 1:  # the common case: its edits depend only on its own codes
            extra[members[0]].extend(_lone_session(frozenset(_codes(lines[members[0]]))))
        else:
            members = _same_day(members, inputs, lines, extra)
        coding_edits(members, starts, minutes, inputs[members[0]].payer.rules, lines, extra)
    results = []
    for index, item in enumerate(inputs):
        found, deadline = _per_session(item, lines[index], today)
        rendering, supervising = _supervision(item, found)
        found.extend(extra[index])
        found.sort(key=lambda f: SEVERITY_ORDER.get(f.rule, -1))
        coded = item.coding.findings
        if index in retimed:  # the episode's total time decides the units, not this date's alone
            coded = tuple(f for f in coded if f.rule != "CODE-TESTING-UNDER")
        results.append(
            ScrubResult(item.ref, lines[index], tuple(coded) + tuple(found), deadline, rendering, supervising)
        )
    return results


def _testing_episodes(
    inputs: Sequence[ScrubInput], lines: dict[int, tuple[LineDraft, ...]], extra: dict[int, list[Finding]]
) -> set[int]:
    """Testing split across dates (one patient, clinician and testing service, dates ≤ 30 days apart): units by
    the episode's running total (cpt.testing_across_dates). Returns the sessions whose lines were recomputed."""
    by_key: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for index, item in enumerate(inputs):
        if item.facts.service in cpt.TESTING:
            by_key[(item.patient_key, item.rendering_npi, item.facts.service)].append(index)
    retimed: set[int] = set()
    for (_, _, service), members in by_key.items():
        if len(members) < 2:
            continue
        members.sort(key=lambda i: (inputs[i].facts.date_of_service, inputs[i].start_time or time.max, i))
        episodes = [[members[0]]]
        for i in members[1:]:
            gap = inputs[i].facts.date_of_service - inputs[episodes[-1][-1]].facts.date_of_service
            if gap > TESTING_EPISODE_GAP:
                episodes.append([i])
            else:
                episodes[-1].append(i)
        for episode in episodes:
            if len({inputs[i].facts.date_of_service for i in episode}) < 2:
                continue
            split = cpt.testing_across_dates(service, [inputs[i].facts.minutes for i in episode])
            total = sum(inputs[i].facts.minutes for i in episode)
            for i, codes in zip(episode, split, strict=True):
                item = inputs[i]
                template = code_session(replace(item.facts, minutes=60), item.payer.rules).lines[0]
                kept = tuple(line for line in lines[i] if line.cpt not in cpt.TESTING_CODES)
                lines[i] = tuple(replace(template, cpt=code, units=n) for code, n in codes) + kept
                shown = ", ".join(f"{code} x{n}" for code, n in codes) or "nothing"
                extra[i].append(finding("TESTING-ACROSS-DATES", service=service, total=total, dates=len(episode),
                                        codes=shown))  # fmt: skip
                retimed.add(i)
    return retimed


def _supervision(item: ScrubInput, found: list[Finding]) -> tuple[str, str | None]:
    """Who renders the claim of an associate's session, by the payer's policy; the finding says which and why."""
    if not item.facts.associate:
        return item.rendering_npi, None
    supervisor = item.supervisor_npi
    decision = item.payer.rules.coding.associate_billing
    if decision == policy.NOT_BILLABLE:
        found.append(finding("SUPERVISION-NOT-BILLABLE"))
    elif not supervisor:
        found.append(finding("SUPERVISION-MISSING"))
    elif decision == policy.SUPERVISOR_2310D:
        found.append(finding("SUPERVISION-2310D", npi=supervisor))
        return item.rendering_npi, supervisor
    else:
        found.append(finding("SUPERVISION-UNDER-SUPERVISOR", npi=supervisor))
        return supervisor, None
    return item.rendering_npi, None


def _codes(line_set: tuple[LineDraft, ...]) -> set[str]:
    return {line.cpt for line in line_set}


def _ordered(members: list[int], inputs: Sequence[ScrubInput]) -> list[int]:
    """Sessions of a day in the order they happened (start time, then the order given)."""
    return sorted(members, key=lambda i: (inputs[i].start_time or time.max, i))


def _same_day(
    members: list[int],
    inputs: Sequence[ScrubInput],
    lines: dict[int, tuple[LineDraft, ...]],
    extra: dict[int, list[Finding]],
) -> list[int]:
    """Same-day edits of several sessions; returns the sessions in time order without duplicates."""
    ordered = _ordered(members, inputs)
    seen: dict[tuple[frozenset[str], time | None], int] = {}
    for i in ordered:
        key = (frozenset(_codes(lines[i])), inputs[i].start_time)
        if key in seen:  # same patient, day, clinician, codes and start: the same session sent twice
            extra[i].append(finding("DUPLICATE-SESSION", other=inputs[seen[key]].ref))
        else:
            seen[key] = i
    ordered = list(seen.values())  # the copies raise no further same-day edits of their own
    day_codes = [(i, _codes(lines[i])) for i in ordered]
    _day_edits(day_codes, extra)
    _separate_sessions(day_codes, inputs, lines, extra)
    return ordered


@lru_cache(maxsize=4096)
def _lone_session(codes: frozenset[str]) -> tuple[Finding, ...]:
    """The same-day edits of a session alone on its day (E7-E9, E12; E11 when one session has both)."""
    extra: dict[int, list[Finding]] = defaultdict(list)
    _day_edits([(0, set(codes))], extra)
    if codes & TIMED and codes & FAMILY:
        extra[0].append(finding("SAME-DAY-E11", a=min(codes & TIMED), b=min(codes & FAMILY)))
    return tuple(extra[0])


def _day_edits(day_codes: list[tuple[int, set[str]]], extra: dict[int, list[Finding]]) -> None:
    """E1-E10 and E12 over one patient's day with one clinician, sessions in the order they happened."""
    everything = set().union(*(codes for _, codes in day_codes))

    def pair(rule_id: str, left: frozenset[str], right: frozenset[str]) -> None:
        """Flag each session that brings a right-side code onto a day that has a left-side code elsewhere."""
        for i, codes in day_codes:
            others = set().union(*(c for j, c in day_codes if j != i)) if len(day_codes) > 1 else set()
            here_right = codes & right
            if not here_right:
                continue
            left_elsewhere = (others | (codes - right)) & left
            if left_elsewhere:
                extra[i].append(finding(rule_id, a=min(left_elsewhere), b=min(here_right)))

    pair("SAME-DAY-E1", EVALUATIONS, EM)
    pair("SAME-DAY-E2", EVALUATIONS, PSYCHOTHERAPY)
    pair("SAME-DAY-E3", EVALUATIONS, CRISIS)
    if {"90791", "90792"} <= everything:
        extra[next(i for i, c in day_codes if "90792" in c)].append(finding("SAME-DAY-E4"))
    timed_seen: str | None = None
    for i, codes in day_codes:
        for code in sorted(codes & TIMED):
            if timed_seen is None:
                timed_seen = code
            else:
                extra[i].append(finding("SAME-DAY-E5", a=timed_seen, b=code))
    pair("SAME-DAY-E6", TIMED, EM)
    if everything & ADDONS and not everything & EM:
        for i, codes in day_codes:
            for code in sorted(codes & ADDONS):
                extra[i].append(finding("SAME-DAY-E7", a=code))
    if "90840" in everything and "90839" not in everything:
        extra[next(i for i, c in day_codes if "90840" in c)].append(finding("SAME-DAY-E8"))
    if "90785" in everything:
        blockers = everything & IC_FORBIDDEN
        if blockers or not everything & IC_PRIMARIES:
            i = next(i for i, c in day_codes if "90785" in c)
            extra[i].append(finding("SAME-DAY-E9", b=min(blockers) if blockers else "no allowed primary"))
    pair("SAME-DAY-E10", frozenset({"90839"}), PSYCHOTHERAPY | frozenset({"90785"}))
    # E12 (96127 with an E/M) is decided with modifier 25 in day_edits.coding_edits.


def _separate_sessions(
    day_codes: list[tuple[int, set[str]]],
    inputs: Sequence[ScrubInput],
    lines: dict[int, tuple[LineDraft, ...]],
    extra: dict[int, list[Finding]],
) -> None:
    """E11: individual and family psychotherapy the same day are allowed only as separate, distinct sessions
    (here: different sessions with different start times); then each later one carries the payer's 59/XE."""
    timed = set().union(*(codes & TIMED for _, codes in day_codes))
    family = set().union(*(codes & FAMILY for _, codes in day_codes))
    if not timed or not family:
        return
    involved = [i for i, codes in day_codes if codes & (TIMED | FAMILY)]  # already in the order they happened
    starts = [inputs[i].start_time for i in involved]
    separate = len(involved) > 1 and None not in starts and len(set(starts)) == len(starts)
    a, b = min(timed), min(family)
    for i in involved[1:] if len(involved) > 1 else involved:
        if not separate:
            extra[i].append(finding("SAME-DAY-E11", a=a, b=b))
            continue
        modifier = inputs[i].payer.rules.separate_session_modifier
        lines[i] = tuple(_with_modifier(line, modifier) if line.cpt in TIMED | FAMILY else line for line in lines[i])
        extra[i].append(finding("SAME-DAY-E11-SEPARATE", a=a, b=b, m=modifier))


def _with_modifier(line: LineDraft, modifier: str) -> LineDraft:
    if modifier in line.modifiers or len(line.modifiers) >= 4:
        return line
    return replace(line, modifiers=(*line.modifiers, modifier))


def _per_session(item: ScrubInput, lines: tuple[LineDraft, ...], today: date) -> tuple[list[Finding], date | None]:
    found: list[Finding] = []
    dos = item.facts.date_of_service
    found.extend(_diagnoses(item.facts))
    found.extend(_npi_findings("NPI-BILLING", item.billing_npi or ""))
    found.extend(_npi_findings("NPI-RENDERING", item.rendering_npi or ""))
    if item.payer.kind == "self_pay":
        found.append(finding("SELF-PAY"))
        return found, None
    if not (item.member_id or "").strip():
        found.append(finding("PATIENT-MEMBER-ID"))
    if item.patient_dob is None:
        found.append(finding("PATIENT-DOB"))
    if not item.patient_sex:
        found.append(finding("PATIENT-SEX"))
    found.extend(_authorization_findings(item, lines))
    deadline = _filing_deadline(dos, item.payer.kind, item.payer.filing_limit_days)
    status = filing_status(deadline, today)
    if status == "passed":
        found.append(finding("FILING-PASSED", deadline=deadline.isoformat()))
    elif status == "due_soon":
        found.append(finding("FILING-SOON", deadline=deadline.isoformat(), days=days_left(deadline, today)))
    return found, deadline


@lru_cache(maxsize=4096)
def _npi_findings(rule_id: str, npi: str) -> tuple[Finding, ...]:
    problem = npi_problem(npi)
    return (finding(rule_id, problem=problem),) if problem else ()


@lru_cache(maxsize=16384)
def _filing_deadline(dos: date, payer_kind: str, filing_limit_days: int | None) -> date:
    return timely_filing_deadline(dos, payer_kind=payer_kind, filing_limit_days=filing_limit_days).due


AUTH_RULES = {Problem.NONE_ON_FILE: "AUTH-REQUIRED", Problem.OUT_OF_DATES: "AUTH-DATES",
              Problem.EXHAUSTED: "AUTH-EXHAUSTED"}  # fmt: skip


def _authorization_findings(item: ScrubInput, lines: tuple[LineDraft, ...]) -> list[Finding]:
    """§8.3 claim-time checks for the CPTs the payer requires an authorization for: one on file lists the code,
    the date of service is within its dates, and what is left covers this session (one visit, or the units)."""
    required = {line.cpt for line in lines} & item.payer.prior_auth_cpts
    if not required:
        return []
    auths = [a if a.key else replace(a, key=-(i + 1)) for i, a in enumerate(item.authorizations)]
    dos = item.facts.date_of_service
    allocation = allocate(auths, [Line(line.cpt, line.units, dos) for line in lines])
    found, seen = [], set()
    for index, problem in sorted(allocation.problems.items()):
        cpt = lines[index].cpt
        if cpt in required and cpt not in seen:
            seen.add(cpt)
            found.append(finding(AUTH_RULES[problem], payer=item.payer.name, cpt=cpt))
    return found


def _diagnoses(facts: SessionFacts) -> list[Finding]:
    found: list[Finding] = []
    start, end = icd10.CODE_SET_EFFECTIVE
    if not start <= facts.date_of_service <= end:
        found.append(finding("DX-CODE-SET-DATE", version=icd10.CODE_SET_VERSION))
    found.extend(_claim_diagnoses(facts.diagnoses, facts.service in PSYCHOTHERAPY_SERVICES))
    return found


@lru_cache(maxsize=16384)
def _claim_diagnoses(codes: tuple[str, ...], psychotherapy: bool) -> tuple[Finding, ...]:
    """Edits that depend only on the diagnosis list (and whether the service is psychotherapy)."""
    found = [f for code in codes for f in _code_findings(code)]
    valid = [code for code in codes if icd10.format_problem(code) is None]
    for index, a in enumerate(valid):
        for b in valid[index + 1 :]:
            if icd10.excludes1_problem(a, b):
                found.append(finding("DX-EXCLUDES1", a=icd10.display(a), b=icd10.display(b)))
    if valid and valid[0] == codes[0]:
        problem = icd10.primary_problem(codes[0])
        if problem:
            found.append(finding("DX-PRIMARY", problem=problem))
    if codes and psychotherapy and icd10.is_z_code(codes[0]):
        found.append(finding("DX-Z-FIRST", code=icd10.display(codes[0])))
    return tuple(found)


@lru_cache(maxsize=16384)
def _code_findings(code: str) -> tuple[Finding, ...]:
    problem = icd10.format_problem(code)
    if problem:
        return (finding("DX-FORMAT", code=code, problem=problem),)
    if not icd10.is_billable(code):
        return (finding("DX-NOT-BILLABLE", problem=icd10.billable_problem(code, icd10.CODE_SET_EFFECTIVE[0])),)
    if icd10.is_unspecified(code):
        return (finding("DX-UNSPECIFIED", code=icd10.display(code)),)
    return ()
