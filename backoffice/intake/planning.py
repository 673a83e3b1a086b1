"""Set-based chain planning for new sessions: a handful of queries load a batch, the pure planner decides,
and multi-row INSERTs write the items, their dependencies and the "Planned …" log rows in one transaction.

Idempotent and safe under concurrency: sessions are taken with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
and only while ``planned_at`` is null; items are inserted with ``ON CONFLICT (dedupe_key) DO NOTHING`` (the
keys ``create_chain`` uses), so a session that already has a chain keeps it and nothing is planned twice.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Integer, Table, select, text, update
from sqlalchemy.dialects import sqlite

from backoffice.appointments.models import Appointment
from backoffice.appointments.queries import appointments_for_sessions
from backoffice.appointments.services import clean_check, complete_for_sessions
from backoffice.automation.runner import pending_item_job
from backoffice.calendars import is_business_day
from backoffice.coding.rules import SessionFacts, code_session
from backoffice.credentialing.queries import enrollment_facts
from backoffice.credentialing.rules import hold_reason
from backoffice.db_types import UTCDateTime
from backoffice.extensions import db
from backoffice.intake.rules import AppointmentCheck, AuthFacts, BenefitsFacts, Plan, PlanningFacts, plan_for
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage, CoveragePriority
from backoffice.routing.services import log_row as routing_log_row
from backoffice.routing.services import route_rows
from backoffice.scrubber.queries import payer_facts
from backoffice.services_base import is_postgres, service
from backoffice.sessions.models import Session
from backoffice.tasks import PendingJob, send_jobs
from backoffice.work import rules
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import InteractionKind, ItemState, Mode

log = logging.getLogger(__name__)

PLANNER = "planner"
INSERT_CHUNK = 1000  # rows per multi-row INSERT on SQLite: well under its parameter limit
# Plain strings for the bulk rows (no per-value Enum handling on the hot path).
READY, BLOCKED = ItemState.READY.value, ItemState.BLOCKED.value
AUTOMATED, MANUAL = Mode.AUTOMATED.value, Mode.MANUAL.value
STATUS_CHANGE = InteractionKind.STATUS_CHANGE.value


@dataclass
class PlanSummary:
    """What one planning call did (counts only: safe to log and to return from a flow)."""

    sessions: int = 0
    planned: int = 0
    already_planned: int = 0
    items: int = 0
    enqueued: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions, "planned": self.planned, "already_planned": self.already_planned,
            "items": self.items, "enqueued": self.enqueued, "by_kind": dict(self.by_kind),
        }  # fmt: skip


def pending_session_ids(limit: int | None = None, among: Sequence[int] | None = None) -> list[int]:
    """IDs of sessions whose chain is not planned yet (of ``among``, when given), oldest received first."""
    stmt = select(Session.id).where(Session.planned_at.is_(None)).order_by(Session.received_at, Session.id)
    if among is not None:
        stmt = stmt.where(Session.id.in_(list(among)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.scalars(stmt))


def plan_of(session: Session, *, now: datetime) -> Plan:
    """The chain live planning would give ``session`` at ``now`` (same facts, same rules), writing nothing: the
    demo's history plans its past sessions with it, so they carry the steps intake would have planned."""
    credential = db.session.scalar(select(Provider.credential).where(Provider.id == session.provider_id))
    facts, _ = _facts([(session, str(credential))], now)
    return plan_for(facts[0], now=now)


def _take_sessions(session_ids: Sequence[int], now: datetime) -> list[tuple[Session, str]]:
    """Take the unplanned sessions among ``session_ids`` by setting ``planned_at`` with one guarded UPDATE
    (on PostgreSQL over ``FOR UPDATE SKIP LOCKED``: a concurrent planner skips them instead of waiting), then
    load them with their clinician's credential. Each session is taken by exactly one planner."""
    unplanned = (
        select(Session.id).where(Session.id.in_(list(session_ids)), Session.planned_at.is_(None)).order_by(Session.id)
    )
    if is_postgres():
        unplanned = unplanned.with_for_update(skip_locked=True)
    taken = list(
        db.session.scalars(
            update(Session)
            .where(Session.id.in_(unplanned.scalar_subquery()), Session.planned_at.is_(None))
            .values(planned_at=now)
            .returning(Session.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not taken:
        return []
    rows = db.session.execute(
        select(Session, Provider.credential)
        .join(Provider, Provider.id == Session.provider_id)
        .where(Session.id.in_(taken))
        .order_by(Session.id)
    )
    return [(row[0], str(row[1])) for row in rows]


def _facts(
    sessions: list[tuple[Session, str]],
    now: datetime,
    payer_of: dict[int, int] | None = None,
    appointments: dict[int, Appointment] | None = None,
) -> tuple[list[PlanningFacts], dict[int, Practice]]:
    """Load coverages, payers, authorizations and benefits records for the batch in four queries and code
    every session with the coding engine (for the prior-auth decision). ``payer_of`` collects each session's
    primary payer in force (session id → payer id) for the items' payer column; ``appointments`` (session id →
    its appointment) lets a visit whose appointment was checked clean skip a fresh verify-benefits step."""
    patient_ids = {s.patient_id for s, _ in sessions}
    practices = {
        p.id: p
        for p in db.session.scalars(select(Practice).where(Practice.id.in_({s.practice_id for s, _ in sessions})))
    }
    coverages: dict[int, list[Coverage]] = {}
    payers: dict[int, Payer] = {}
    for coverage, payer in db.session.execute(
        select(Coverage, Payer)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.patient_id.in_(patient_ids), Coverage.priority == CoveragePriority.PRIMARY)
    ):
        coverages.setdefault(coverage.patient_id, []).append(coverage)
        payers[payer.id] = payer
    auths: dict[tuple[int, int], list[AuthFacts]] = {}
    for a in db.session.scalars(select(Authorization).where(Authorization.patient_id.in_(patient_ids))):
        facts = AuthFacts(str(a.id), frozenset(a.cpt_codes or ()), a.remaining, a.start_date, a.end_date)
        auths.setdefault((a.patient_id, a.payer_id), []).append(facts)
    benefits: dict[tuple[int, int], BenefitsFacts] = {}
    for patient_id, payer_id, checked_at, active, auth_required in db.session.execute(
        select(
            BenefitsCheck.patient_id, BenefitsCheck.payer_id, BenefitsCheck.checked_at, BenefitsCheck.active,
            BenefitsCheck.auth_required,
        )
        .where(BenefitsCheck.patient_id.in_(patient_ids), BenefitsCheck.checked_at <= now)
        .order_by(BenefitsCheck.checked_at, BenefitsCheck.id)
    ):  # fmt: skip
        benefits[(patient_id, payer_id)] = BenefitsFacts(checked_at, active, auth_required)  # the latest wins
    rules_of = {payer_id: payer_facts(payer) for payer_id, payer in payers.items()}
    required = [p.id for p in payers.values() if p.enrollment_required_837]
    enrolments = enrollment_facts({s.provider_id for s, _ in sessions}, required)
    out = []
    for session, credential in sessions:
        practice = practices[session.practice_id]
        common: dict[str, Any] = {
            "session_id": session.id, "date_of_service": session.date_of_service,
            "owned_steps": frozenset(practice.owned_steps or ()), "overrides": practice.sla_overrides or {},
        }  # fmt: skip
        coverage = next(
            (c for c in coverages.get(session.patient_id, ()) if c.is_active_on(session.date_of_service)), None
        )
        if coverage is None:
            out.append(PlanningFacts(**common))
            continue
        payer, payer_rules = payers[coverage.payer_id], rules_of[coverage.payer_id]
        if payer_of is not None:
            payer_of[session.id] = payer.id
        coding = code_session(_session_facts(session, credential), payer_rules.rules)
        key = (session.patient_id, payer.id)
        booked = (appointments or {}).get(session.id)
        checked = (
            AppointmentCheck(booked.external_ref, booked.eligibility_checked_at)
            if booked is not None and clean_check(booked) and booked.payer_id == payer.id
            else None
        )
        out.append(
            PlanningFacts(
                **common,
                cpts=tuple(dict.fromkeys(line.cpt for line in coding.lines)),
                coding_errors=tuple(sorted({f.rule for f in coding.findings if f.severity == "error"})),
                payer_code=payer.payer_id,
                payer_kind=str(payer.kind),
                prior_auth_cpts=payer_rules.prior_auth_cpts,
                filing_limit_days=payer.filing_limit_days,
                authorizations=tuple(auths.get(key, ())),
                benefits=benefits.get(key),
                enrollment_hold=hold_reason(
                    enrolments.get((session.provider_id, payer.id)),
                    session.date_of_service,
                    required=payer.enrollment_required_837,
                    payer_code=payer.payer_id,
                ),
                appointment=checked,
            )  # fmt: skip
        )
    return out, practices


def _session_facts(session: Session, credential: str) -> SessionFacts:
    return SessionFacts(
        service=str(session.service_kind), minutes=session.minutes, em_code=session.em_code,
        modality=str(session.modality), patient_location=str(session.patient_location),
        interactive_complexity=bool(session.interactive_complexity), screenings=session.screening_count or 0,
        diagnoses=tuple(session.diagnoses or ()), credential=credential, date_of_service=session.date_of_service,
        procedure=session.procedure_code, pharmacologic_management=bool(session.pharmacologic_management),
        state=session.practice.state if session.pharmacologic_management else "",
    )  # fmt: skip


def _pg_array_type(column: Any) -> str:
    if isinstance(column.type, UTCDateTime):
        return "timestamptz"
    if isinstance(column.type, JSON):
        return "json"
    return "int" if isinstance(column.type, Integer) else "text"


def _plain_text(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value  # psycopg would send an Enum's *name*


def _converter(column: Any) -> Any:
    if isinstance(column.type, JSON):
        return json.dumps
    return None if isinstance(column.type, Integer | UTCDateTime) else _plain_text


def _pg_unnest_insert(table: Table, rows: list[dict[str, Any]], suffix: str = "") -> list[Any] | None:
    """One ``INSERT … SELECT * FROM unnest(<one array per column>)``: a short statement whatever the row
    count, so neither SQLAlchemy nor psycopg builds and parses a statement with thousands of parameters."""
    columns = list(rows[0])
    arrays = ", ".join(f"CAST(:{name} AS {_pg_array_type(table.c[name])}[])" for name in columns)
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {suffix}"  # noqa: S608
    params = {}
    for name in columns:
        convert = _converter(table.c[name])
        params[name] = [row[name] for row in rows] if convert is None else [convert(row[name]) for row in rows]
    result = db.session.execute(text(sql), params)
    return list(result) if result.returns_rows else None


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """INSERT the work items in one statement per chunk; rows whose dedupe_key exists are skipped. Returns
    (id, dedupe_key) of the rows inserted."""
    table = WorkItem.__table__
    if is_postgres():
        found = _pg_unnest_insert(table, rows, "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key")
        return [(row[0], row[1]) for row in found or ()]
    stmt = (
        sqlite.insert(table)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id, table.c.dedupe_key)
    )
    inserted: list[tuple[int, str]] = []
    for start in range(0, len(rows), INSERT_CHUNK):  # SQLAlchemy sends multi-row VALUES (insertmanyvalues)
        inserted.extend((row[0], row[1]) for row in db.session.execute(stmt, rows[start : start + INSERT_CHUNK]))
    return inserted


def _insert_all(table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if is_postgres():
        _pg_unnest_insert(table, rows)
        return
    # RETURNING makes SQLAlchemy send multi-row VALUES (insertmanyvalues) instead of one INSERT per row.
    first = next(iter(table.primary_key.columns))
    db.session.execute(table.insert().returning(first), rows)


class _Due:
    """SLA due dates, computed once per (practice, kind) for this batch (everything becomes ready at ``now``)."""

    def __init__(self, now: datetime) -> None:
        self.now, self._cache = now, {}  # type: dict[tuple[int, str], tuple[datetime, str]]

    def __call__(self, practice: Practice, kind: str) -> tuple[datetime, str]:
        key = (practice.id, kind)
        if key not in self._cache:
            policy = rules.sla_policy_for(kind, practice.sla_overrides)
            due = rules.sla_due_at(self.now, policy, ZoneInfo(practice.timezone), is_business_day)
            self._cache[key] = (due, policy.name)
        return self._cache[key]


def _item_rows(plans: list[Plan], practices: dict[int, Practice], practice_of: dict[int, int], now: datetime):  # noqa: ANN202
    due = _Due(now)
    rows: list[dict[str, Any]] = []
    for plan in plans:
        practice = practices[practice_of[plan.session_id]]
        for position, step in enumerate(plan.steps):
            ready = position == 0
            due_at, policy = due(practice, step.kind) if ready else (None, None)
            rows.append({
                "practice_id": practice.id, "kind": str(step.kind), "session_id": plan.session_id,
                "dedupe_key": f"session:{plan.session_id}:{step.kind}",
                "state": READY if ready else BLOCKED,
                "mode": AUTOMATED if step.automated else MANUAL, "queue": rules.DEFAULT_QUEUES[step.kind],
                "priority": min(plan.priority, rules.MAX_PRIORITY), "due_at": due_at, "sla_policy": policy,
                "attempts": 0, "result": {}, "created_at": now, "updated_at": now,
            })  # fmt: skip
    return rows


@service
def plan_sessions(*, session_ids: Sequence[int], now: datetime) -> PlanSummary:
    """Plan the chains of the given new sessions in one transaction; sessions already planned are left alone."""
    summary = PlanSummary(sessions=len(set(session_ids)))
    taken = _take_sessions(session_ids, now)
    if not taken:
        db.session.rollback()
        summary.already_planned = summary.sessions
        return summary
    payer_of: dict[int, int] = {}
    booked = appointments_for_sessions(s for s, _ in taken)
    facts, practices = _facts(taken, now, payer_of, booked)
    plans = [plan_for(f, now=now) for f in facts]
    practice_of = {s.id: s.practice_id for s, _ in taken}
    # A chain planned before (by create_chain, or before planned_at existed) stays as it is.
    prior = set(
        db.session.scalars(
            select(WorkItem.session_id).where(
                WorkItem.session_id.in_(list(practice_of)), WorkItem.dedupe_key.like("session:%")
            )
        )
    )
    fresh = [plan for plan in plans if plan.session_id not in prior]
    rows = _item_rows(fresh, practices, practice_of, now)
    for row in rows:  # the primary payer in force (from _facts), for queue filters and routing
        row["payer_id"] = payer_of.get(row["session_id"])
        row["assignee_id"] = None
    routed = _route(rows, practices, now)
    inserted = dict((key, item_id) for item_id, key in _insert_ignoring_duplicates(rows)) if rows else {}
    by_key = {row["dedupe_key"]: row for row in rows}
    deps, logs, ready_jobs = [], [], []
    for plan in fresh:
        previous: str | None = None
        for step in plan.steps:
            key = f"session:{plan.session_id}:{step.kind}"
            item_id = inserted.get(key)
            if item_id is not None:
                row = by_key[key]
                if previous is not None and previous in inserted:
                    deps.append({"item_id": item_id, "depends_on_id": inserted[previous]})
                logs.append(_planned_log(row, item_id, step.reason, now))
                if row["state"] == READY and row["mode"] == AUTOMATED:
                    ready_jobs.append(
                        pending_item_job(
                            item_id,
                            priority=row["priority"],
                            organization_id=practices[row["practice_id"]].organization_id,
                        )
                    )
                summary.by_kind[row["kind"]] = summary.by_kind.get(row["kind"], 0) + 1
            previous = key
        if plan.skipped and (not plan.steps or f"session:{plan.session_id}:{plan.steps[0].kind}" in inserted):
            logs.append(_skipped_log(plan, practice_of[plan.session_id], now))
    logs.extend(
        routing_log_row(decision, item_id=inserted[row["dedupe_key"]], row=row, now=now)
        for row, decision in zip(rows, routed, strict=True)
        if decision is not None and row["dedupe_key"] in inserted
    )
    _insert_all(WorkItemDependency.__table__, deps)
    _insert_all(Interaction.__table__, logs)
    complete_for_sessions(booked, {s.id: s for s, _ in taken}, now)
    db.session.commit()
    summary.planned = len(taken)
    summary.already_planned = summary.sessions - len(taken)
    summary.items = len(inserted)
    summary.by_kind = dict(sorted(Counter(summary.by_kind).items()))
    summary.enqueued = _enqueue_ready(ready_jobs)
    return summary


def _route(rows: list[dict[str, Any]], practices: dict[int, Practice], now: datetime) -> list[Any]:
    """Route the ready manual heads by their organization's rules, in memory (``routing.services.route_rows``)."""
    routed: list[Any] = [None] * len(rows)
    by_org: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        by_org.setdefault(practices[row["practice_id"]].organization_id, []).append(index)
    for organization_id, indexes in by_org.items():
        decisions = route_rows(organization_id, [rows[i] for i in indexes], now)
        for index, decision in zip(indexes, decisions, strict=True):
            routed[index] = decision
    return routed


def _planned_log(row: dict[str, Any], item_id: int, reason: str, now: datetime) -> dict[str, Any]:
    data = {"reason": reason, "priority": row["priority"]}
    if row["sla_policy"]:
        data["sla_policy"] = row["sla_policy"]
    return {
        "practice_id": row["practice_id"], "work_item_id": item_id, "session_id": row["session_id"],
        "claim_id": None, "actor_user_id": None, "actor_label": PLANNER, "at": now,
        "kind": STATUS_CHANGE, "to_state": row["state"],
        "body": f"Planned {rules.KIND_LABELS[row['kind']]} ({row['mode']}): {reason}", "data": data,
    }  # fmt: skip


def _skipped_log(plan: Plan, practice_id: int, now: datetime) -> dict[str, Any]:
    reasons = {step.kind: step.reason for step in plan.skipped}
    body = "; ".join(f"{rules.KIND_LABELS[kind]} {reason}" for kind, reason in reasons.items())
    return {
        "practice_id": practice_id, "work_item_id": None, "session_id": plan.session_id, "claim_id": None,
        "actor_user_id": None, "actor_label": PLANNER, "at": now, "kind": STATUS_CHANGE,
        "to_state": None, "body": f"Not planned: {body}", "data": {"skipped": reasons},
    }  # fmt: skip


def _enqueue_ready(jobs: list[PendingJob]) -> int:
    """Enqueue the automated ready items' jobs in one Redis pipeline, after the commit, as batch jobs
    (``tasks.coalesce``). A failure is logged: the items are committed and ready, and the requeue sweeper enqueues
    them again. Returns how many items got a job."""
    return len(jobs) if send_jobs(jobs) else 0
