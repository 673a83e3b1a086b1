"""The dry run: code and scrub parsed import rows against the organization's setup, writing nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import date
from typing import Any

from sqlalchemy import select

from backoffice.authorizations.queries import units_taken_by_session
from backoffice.coding.policy import parse_policy
from backoffice.coding.rules import (
    PAYER_DEFAULTS,
    CodingResult,
    Finding,
    LineDraft,
    PayerRules,
    SessionFacts,
    TelehealthPolicy,
    code_session,
)
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Authorization, Coverage, CoveragePriority, Patient
from backoffice.scrubber.catalogue import BY_ID as SCRUBBER_RULES
from backoffice.scrubber.rules import AuthorizationFacts, PayerFacts, ScrubInput, ScrubResult, scrub
from backoffice.sessions.models import Session
from backoffice.sessions.rules import RowError, RowProblems, SessionRow

TELEHEALTH_FIELDS = {f.name for f in fields(TelehealthPolicy)}


def payer_facts(payer: Payer) -> PayerFacts:
    """A payer row as the pure engine's rules: the kind's defaults, overridden by the payer's own data."""
    base = PAYER_DEFAULTS.get(str(payer.kind), PAYER_DEFAULTS["commercial"])
    policy = {k: v for k, v in (payer.telehealth_policy or {}).items() if k in TELEHEALTH_FIELDS}
    if policy.get("in_person_visit_required_from"):
        policy["in_person_visit_required_from"] = date.fromisoformat(policy["in_person_visit_required_from"])
    telehealth = TelehealthPolicy(**{**{f: getattr(base.telehealth, f) for f in TELEHEALTH_FIELDS}, **policy})
    rules = PayerRules(
        kind=str(payer.kind),
        telehealth=telehealth,
        separate_session_modifier=payer.separate_session_modifier,
        max_96127_units=payer.max_96127_units,
        allows_99211_with_addon=payer.allows_99211_with_addon,
        coding=parse_policy(payer.coding_policy, base.coding),
    )
    return PayerFacts(
        payer_id=payer.payer_id, name=payer.name, kind=str(payer.kind), filing_limit_days=payer.filing_limit_days,
        prior_auth_cpts=frozenset(payer.prior_auth_cpts or ()), rules=rules,
    )  # fmt: skip


def dry_run(
    rows: Sequence[SessionRow], *, organization_id: int, today: date
) -> tuple[list[ScrubResult], list[RowError]]:
    """Code and scrub every row; same-day edits see all rows together. Unknown practices or payers are errors
    (and then nothing is coded: the 837 preview and the import need every row)."""
    built = _scrub_inputs(rows, organization_id=organization_id)
    errors = [error for item in built if isinstance(item, list) for error in item]
    if errors:
        return [], errors
    return scrub([item for item in built if isinstance(item, ScrubInput)], today=today), []


def check_rows(entries: Sequence[SessionRow | RowProblems], *, organization_id: int, today: date) -> list[ScrubResult]:
    """The dry run of ``backoffice code``: one result per row, in file order. Rows that could not be read, or that
    name an unknown practice or payer, get ROW-INVALID error findings naming the column; the others are coded
    and scrubbed together (same-day edits see all of them)."""
    rows = [e for e in entries if isinstance(e, SessionRow)]
    built = dict(zip((id(r) for r in rows), _scrub_inputs(rows, organization_id=organization_id), strict=True))
    inputs = [item for item in built.values() if isinstance(item, ScrubInput)]
    scrubbed = iter(scrub(inputs, today=today))
    results: list[ScrubResult] = []
    for entry in entries:
        if isinstance(entry, RowProblems):
            results.append(_unreadable(entry.session_ref or f"row {entry.row}", entry.errors))
            continue
        item = built[id(entry)]
        results.append(_unreadable(entry.session_ref, item) if isinstance(item, list) else next(scrubbed))
    return results


def _unreadable(ref: str, errors: Sequence[RowError]) -> ScrubResult:
    rule = SCRUBBER_RULES["ROW-INVALID"]
    findings = tuple(
        Finding(rule.id, rule.severity, rule.message_template.format(row=e.row, column=e.column, message=e.message),
                e.column, rule.fix)
        for e in errors
    )  # fmt: skip
    return ScrubResult(ref, (), findings, None)


def _scrub_inputs(rows: Sequence[SessionRow], *, organization_id: int) -> list[ScrubInput | list[RowError]]:
    """Each row's scrubber input, or the errors that keep it from being coded (unknown practice or payer)."""
    practices = {
        p.slug: p for p in db.session.scalars(select(Practice).where(Practice.organization_id == organization_id))
    }
    payer_rows = list(db.session.scalars(select(Payer).where(Payer.organization_id == organization_id)))
    payers = {p.payer_id: payer_facts(p) for p in payer_rows}
    payer_row_ids = {p.payer_id: p.id for p in payer_rows}
    providers = _providers([p.id for p in practices.values()])
    auths = _authorizations(rows, practices)
    out: list[ScrubInput | list[RowError]] = []
    for row in rows:
        practice, payer = practices.get(row.practice), payers.get(row.payer_id)
        errors = []
        if practice is None:
            errors.append(RowError(row.row, "practice", f"no practice {row.practice!r} in this organization"))
        if payer is None:
            errors.append(RowError(row.row, "payer_id", f"unknown payer {row.payer_id!r}"))
        if practice is None or payer is None:
            out.append(errors)
            continue
        supervisor = providers.get((practice.id, row.provider_npi))
        facts = SessionFacts(
            service=row.service.value, minutes=row.minutes, em_code=row.em_code, modality=row.modality.value,
            patient_location=row.patient_location.value, interactive_complexity=row.interactive_complexity,
            screenings=row.screenings, diagnoses=row.diagnoses, credential=row.provider_credential.value,
            date_of_service=row.date_of_service, procedure=row.procedure,
            pharmacologic_management=row.pharmacologic_management, state=practice.state,
            patient_age=age_on(row.patient_dob, row.date_of_service), associate=supervisor is not None,
        )  # fmt: skip
        out.append(
            ScrubInput(
                ref=row.session_ref,
                facts=facts,
                coding=code_session(facts, payer.rules),
                payer=payer,
                patient_key=f"{row.practice}:{row.patient_ref}",
                billing_npi=practice.group_npi,
                rendering_npi=row.provider_npi,
                member_id=row.member_id,
                patient_dob=row.patient_dob,
                patient_sex=row.patient_sex.value,
                start_time=row.start_time,
                auth_number=row.auth_number,
                authorizations=auths.get((practice.id, row.patient_ref, payer_row_ids[row.payer_id]), ()),
                supervisor_npi=supervisor or None,
            )  # fmt: skip
        )
    return out


def age_on(dob: date | None, day: date) -> int | None:
    """Whole years of age on ``day``."""
    if dob is None:
        return None
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def _providers(practice_ids: list[int]) -> dict[tuple[int, str], str]:
    """Associates of these practices by (practice, NPI) → their supervisor's NPI ("" when none is set)."""
    found: dict[tuple[int, str], str] = {}
    stmt = select(Provider).where(Provider.practice_id.in_(practice_ids), Provider.supervising_provider_id.is_not(None))
    for provider in db.session.scalars(stmt):
        supervisor = provider.supervising_provider
        found[(provider.practice_id, provider.npi)] = supervisor.npi if supervisor is not None else ""
    return found


def _authorizations(
    rows: Sequence[SessionRow], practices: dict[str, Practice]
) -> dict[tuple[int, str, int], tuple[AuthorizationFacts, ...]]:
    """Authorizations on file for the patients named in the file, by (practice, patient_ref, payer)."""
    practice_ids = [practices[r.practice].id for r in rows if r.practice in practices]
    found: dict[tuple[int, str, int], list[AuthorizationFacts]] = {}
    stmt = (
        select(Patient.practice_id, Patient.account_number, Authorization)
        .join(Authorization, Authorization.patient_id == Patient.id)
        .where(Patient.practice_id.in_(practice_ids), Patient.account_number.in_({r.patient_ref for r in rows}))
    )
    for practice_id, account, auth in db.session.execute(stmt):
        facts = _auth_facts(auth)
        found.setdefault((practice_id, account, auth.payer_id), []).append(facts)
    return {key: tuple(value) for key, value in found.items()}


def as_contract(results: Sequence[ScrubResult]) -> dict[str, Any]:
    """The dry run's JSON contract (README: `backoffice code`)."""
    return {
        "sessions": [
            {
                "session_ref": result.ref,
                "billable": result.billable,
                "rendering_npi": result.rendering_npi or None,
                "supervising_npi": result.supervising_npi,
                "filing_deadline": result.filing_deadline.isoformat() if result.filing_deadline else None,
                "lines": [
                    {
                        "cpt": line.cpt,
                        "modifiers": list(line.modifiers),
                        "units": line.units,
                        "pos": line.pos,
                        "diagnosis_pointers": list(line.diagnosis_pointers),
                    }
                    for line in result.lines
                ],  # fmt: skip
                "findings": [
                    {"rule": f.rule, "severity": f.severity, "field": f.field, "message": f.message}
                    for f in result.findings
                ],
            }
            for result in results
        ]
    }


def primary_coverage(patient_id: int, on: date) -> Coverage | None:
    """The patient's primary coverage in force on ``on``, with its payer."""
    coverages = db.session.scalars(
        select(Coverage).where(Coverage.patient_id == patient_id, Coverage.priority == CoveragePriority.PRIMARY)
    ).all()
    return next((c for c in coverages if c.is_active_on(on)), None)


def same_day_inputs(session: Session) -> tuple[list[ScrubInput], int, Coverage] | None:
    """The scrubber's inputs for ``session`` and the patient's other sessions that day with the same clinician
    (same-day edits), the index of ``session`` among them, and its primary coverage; None when the patient has no
    primary coverage in force that day. Charge review and stored-session scrubbing both start here."""
    coverage = primary_coverage(session.patient_id, session.date_of_service)
    if coverage is None:
        return None
    siblings = db.session.scalars(
        select(Session)
        .where(
            Session.patient_id == session.patient_id,
            Session.date_of_service == session.date_of_service,
            Session.provider_id == session.provider_id,
        )
        .order_by(Session.id)
    ).all()
    payer = payer_facts(coverage.payer)
    auths = tuple(
        _auth_facts(a)
        for a in db.session.scalars(
            select(Authorization)
            .where(Authorization.patient_id == session.patient_id, Authorization.payer_id == coverage.payer_id)
            .order_by(Authorization.end_date.desc(), Authorization.id.desc())
        )
    )
    taken = units_taken_by_session(s.id for s in siblings)  # a session scrubbed again gets its own units back
    inputs = [
        _stored_input(s, coverage, payer, tuple(_given_back(a, taken.get(s.id, {})) for a in auths)) for s in siblings
    ]
    return inputs, [s.id for s in siblings].index(session.id), coverage


def _auth_facts(auth: Authorization) -> AuthorizationFacts:
    return AuthorizationFacts(
        auth.number, frozenset(auth.cpt_codes or ()), auth.remaining, auth.start_date, auth.end_date,
        bool(auth.counts_visits), auth.id,
    )  # fmt: skip


def _given_back(facts: AuthorizationFacts, taken: dict[int, int]) -> AuthorizationFacts:
    own = taken.get(facts.key, 0)
    return replace(facts, remaining=facts.remaining + own) if own else facts


def scrub_stored_session(session: Session, *, today: date) -> tuple[ScrubResult, Coverage] | None:
    """Code and scrub a stored session together with the patient's other sessions that day with the same
    clinician (same-day edits); None when the patient has no primary coverage in force that day."""
    found = same_day_inputs(session)
    if found is None:
        return None
    inputs, index, coverage = found
    return scrub(inputs, today=today)[index], coverage


def _stored_input(
    session: Session, coverage: Coverage, payer: PayerFacts, auths: tuple[AuthorizationFacts, ...]
) -> ScrubInput:
    facts = SessionFacts(
        service=str(session.service_kind), minutes=session.minutes, em_code=session.em_code,
        modality=str(session.modality), patient_location=str(session.patient_location),
        interactive_complexity=session.interactive_complexity, screenings=session.screening_count,
        diagnoses=tuple(session.diagnoses), credential=str(session.provider.credential),
        date_of_service=session.date_of_service, procedure=session.procedure_code,
        pharmacologic_management=session.pharmacologic_management, state=session.practice.state,
        patient_age=age_on(session.patient.date_of_birth, session.date_of_service),
        associate=session.provider.supervising_provider_id is not None,
    )  # fmt: skip
    supervisor = session.provider.supervising_provider
    return ScrubInput(
        ref=session.external_ref, facts=facts, coding=code_session(facts, payer.rules), payer=payer,
        patient_key=f"patient:{session.patient_id}", billing_npi=session.practice.group_npi,
        rendering_npi=session.provider.npi, member_id=coverage.member_id, patient_dob=session.patient.date_of_birth,
        patient_sex=str(session.patient.sex), start_time=session.start_time, auth_number=session.auth_number,
        authorizations=auths, supervisor_npi=supervisor.npi if supervisor is not None else None,
    )  # fmt: skip


def scrub_lines_for_coverage(
    session: Session, coverage: Coverage, lines: Sequence[LineDraft], *, today: date
) -> ScrubResult:
    """Scrub lines already billed to another payer (a secondary claim built from the primary's 835) with the rules
    and facts of ``coverage``'s payer: its member ID, prior authorizations, payer kind. The lines are kept as the
    primary adjudicated them (coordination of benefits matches them line by line), so they are not re-coded."""
    payer = payer_facts(coverage.payer)
    auths = tuple(
        _auth_facts(a)
        for a in db.session.scalars(
            select(Authorization).where(
                Authorization.patient_id == session.patient_id, Authorization.payer_id == coverage.payer_id
            )
        )
    )
    item = replace(_stored_input(session, coverage, payer, auths), coding=CodingResult(tuple(lines), ()))
    return scrub([item], today=today)[0]
