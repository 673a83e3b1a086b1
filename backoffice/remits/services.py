"""Posting an 835: every dollar of every CLP lands on our claim and its lines, patient responsibility goes to the
secondary payer or the patient's ledger, and every denial becomes a work item in its §6.6 queue.

One transaction per file: any unexpected error rolls the whole file back. A duplicate payment (same payer and
trace number) and an unbalanced transaction are refused and reported, never silently posted. Rows are written
with bulk INSERTs (the bench posts 10,000 claims).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from backoffice.calendars import is_business_day
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus, can_move
from backoffice.deadlines.appeals import appeal_deadline, levels_for
from backoffice.edi import era835
from backoffice.edi.era835 import X12Error, duplicate_key, parse_835
from backoffice.edi.models import EdiFile
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, CoveragePriority, LedgerEntry
from backoffice.remits import rules
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.routing.services import log_row as routing_log_row
from backoffice.routing.services import route_rows
from backoffice.services_base import is_postgres, service
from backoffice.tasks import enqueue_after_commit
from backoffice.work import rules as work_rules
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from backoffice.work.services import (
    AUTOMATION_JOB,
    add_item,
    automation_queue,
    automation_retry,
    record_interaction,
)

CHUNK = 5000
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PostingResult:
    """What one 835 file did: transactions posted, duplicates refused as (payer id, trace), claims, items."""

    remittances_posted: int
    duplicates_refused: list[tuple[str, str]]
    claims_posted: int
    claims_unmatched: int
    denial_items: int
    exception_items: int
    problems: list[str] = field(default_factory=list)


@dataclass
class _Run:
    organization_id: int
    now: datetime
    source: str
    edi_file: EdiFile | None
    practices: dict[int, Practice] = field(default_factory=dict)
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # dedupe key -> WorkItem values (+ reason)
    logs: list[dict[str, Any]] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The new amounts and status of every claim and line touched, written by one bulk UPDATE each at the end.
    claim_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    line_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # SLA and appeal deadlines already computed
    denial_items: int = 0
    exception_items: int = 0


AMOUNTS = ("paid_amount", "adjustment_amount", "patient_responsibility")


def _claim_row(run: _Run, claim: _ClaimView) -> dict[str, Any]:
    row = run.claim_rows.get(claim.id)
    if row is None:
        row = run.claim_rows[claim.id] = {
            "id": claim.id,
            "status": claim.status,
            "adjudicated_at": claim.adjudicated_at,
            "payer_claim_number": claim.payer_claim_number,
            **{name: getattr(claim, name) for name in AMOUNTS},
        }
    return row


def _line_row(run: _Run, line: ClaimLine) -> dict[str, Any]:
    row = run.line_rows.get(line.id)
    if row is None:
        row = run.line_rows[line.id] = {"id": line.id, **{name: getattr(line, name) for name in AMOUNTS}}
    return row


@lru_cache(maxsize=4096)
def _disposition(group: str, reason: str, amount: Decimal) -> rules.Disposition:
    return rules.disposition(group, reason, amount)


@lru_cache(maxsize=4096)
def _route(group: str, reason: str, remarks: tuple[str, ...], payer_kind: str) -> rules.DenialRoute:
    return rules.route_denial(group, reason, remarks, payer_kind=payer_kind)


@lru_cache(maxsize=4096)
def _priority(family: rules.Family, amount: Decimal, days_left: int | None) -> int:
    return rules.denial_priority(family=family, amount=amount, days_left=days_left)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same keys in every row (absent ones None), so a bulk INSERT is one executemany, not one per key set."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in keys} for row in rows]


def _bulk_insert(model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT ``rows`` in bulk and return their ids in order: COPY on PostgreSQL (ids drawn from the sequence
    first), multi-row INSERT … RETURNING elsewhere. Python-side column defaults are applied as the ORM would."""
    if not rows:
        return []
    if not is_postgres():
        statement = insert(model).execution_options(render_nulls=True)
        return list(db.session.scalars(statement.returning(model.id, sort_by_parameter_order=True), _uniform(rows)))
    table = model.__table__
    connection = db.session.connection()
    sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
    query = text("SELECT nextval(:s) FROM generate_series(1, :n)")
    ids = sorted(connection.scalars(query, {"s": sequence, "n": len(rows)}))
    keys = list(dict.fromkeys(key for row in rows for key in row))
    defaults = {c.name: c.default for c in table.columns if c.default is not None and c.name not in keys}
    fixed = [d.arg(None) if d.is_callable else d.arg for d in defaults.values()]
    names = [*keys, *defaults, "id"]
    # Only JSON needs SQLAlchemy's bind processing here; enums are str and datetimes are aware already.
    json = {i: table.c[name].type._cached_bind_processor(connection.dialect) for i, name in enumerate(names)
            if isinstance(table.c[name].type, JSON)}  # fmt: skip
    quote = connection.dialect.identifier_preparer.quote
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(map(quote, names))}) FROM STDIN") as copy:
        for row, row_id in zip(rows, ids, strict=True):
            values = [row.get(key) for key in keys] + fixed + [row_id]
            for i, process in json.items():
                values[i] = process(values[i]) if process else values[i]
            copy.write_row(values)
    return ids


SQL_TYPES = {"id": "integer", "status": "varchar", "payer_claim_number": "varchar", "adjudicated_at": "timestamptz",
             **dict.fromkeys(AMOUNTS, "numeric")}  # fmt: skip


def _bulk_update(model: Any, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows by id: one ``UPDATE … FROM unnest(arrays)`` on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if not is_postgres():
        db.session.execute(update(model), rows)
        return
    names = [name for name in rows[0] if name != "id"]
    columns = ["id", *names]
    arrays = {name: [str(row[name]) if name == "status" else row[name] for row in rows] for name in columns}
    source = ", ".join(f"unnest(CAST(:{name} AS {SQL_TYPES[name]}[])) AS {name}" for name in columns)
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    table = model.__table__.name
    statement = text(f"UPDATE {table} SET {assignments} FROM (SELECT {source}) AS v WHERE {table}.id = v.id")  # noqa: S608 - names come from SQL_TYPES, values are bound
    db.session.execute(statement, arrays)
    ids = set(arrays["id"])  # objects the session already holds must not keep the old amounts
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, model) and obj.id in ids:
            db.session.expire(obj)


def _fmt(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _queue_item(run: _Run, practice_id: int, kind: str, key: str, reason: str, **values: Any) -> None:
    """Plan one ready item (written in bulk at the end); the SLA is the practice's, the route's, or the default."""
    if key in run.items:
        return
    practice = run.practices[practice_id]
    routed = values.pop("routed", None)
    due_at = values.pop("due_at", None)
    cache_key = ("sla", practice_id, kind, routed)
    if cache_key not in run.cache:
        policy = work_rules.sla_policy_for(kind, practice.sla_overrides, routed=routed)
        due = work_rules.sla_due_at(run.now, policy, ZoneInfo(practice.timezone), is_business_day)
        run.cache[cache_key] = (due, policy.name)
    sla_due, sla_name = run.cache[cache_key]
    if due_at is not None and due_at < sla_due:
        sla_due, sla_name = due_at, "appeal-deadline"
    run.items[key] = {
        "practice_id": practice_id,
        "kind": kind,
        "dedupe_key": key,
        "state": ItemState.READY,
        # An appeal is drafted by automation first (the letter from the denial), then handed to a biller.
        "mode": Mode.AUTOMATED if kind == rules.KIND_APPEAL else Mode.MANUAL,
        "queue": values.pop("queue", None) or work_rules.DEFAULT_QUEUES[kind],
        "priority": min(values.pop("priority", 0), work_rules.MAX_PRIORITY),
        "due_at": sla_due,
        "sla_policy": sla_name,
        "created_at": run.now,
        "updated_at": run.now,
        "result": {},
        "_reason": reason,
        "_evidence": values.pop("evidence", {}),
        **values,
    }


def _write_items(run: _Run) -> None:
    """Insert the planned items that do not exist yet (dedupe key), each with its interaction row."""
    keys = list(run.items)
    existing: set[str] = set()
    for chunk in _chunks(keys):
        existing.update(db.session.scalars(select(WorkItem.dedupe_key).where(WorkItem.dedupe_key.in_(chunk))))
    rows = [run.items[key] for key in keys if key not in existing]
    if not rows:
        return
    routed = route_rows(run.organization_id, rows, run.now)  # in memory: the cached rules, no query per row
    ids = _bulk_insert(WorkItem, [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows])
    for item_id, row, decision in zip(ids, rows, routed, strict=True):
        if row["mode"] == Mode.AUTOMATED:
            enqueue_after_commit(AUTOMATION_JOB, item_id, organization_id=run.organization_id,
                                 queue=automation_queue(row["priority"]),
                                 retry=automation_retry())  # fmt: skip
        if row["kind"] == "posting_exception":
            run.exception_items += 1
        else:
            run.denial_items += 1
        run.logs.append(
            {
                "practice_id": row["practice_id"],
                "work_item_id": item_id,
                "claim_id": row.get("claim_id"),
                "actor_label": run.source,
                "kind": InteractionKind.STATUS_CHANGE,
                "at": run.now,
                "to_state": ItemState.READY.value,
                "body": f"{work_rules.KIND_LABELS.get(row['kind'], row['kind'])}: {row['_reason']}",
                "data": {"evidence": row["_evidence"], "queue": row["queue"], "sla_policy": row["sla_policy"]},
            }
        )
        if decision is not None:
            run.logs.append(routing_log_row(decision, item_id=item_id, row=row, now=run.now))


CLAIM_COLUMNS = (
    Claim.id,
    Claim.practice_id,
    Claim.patient_id,
    Claim.payer_id,
    Claim.session_id,
    Claim.account_number,
    Claim.status,
    Claim.version,
    Claim.payer_sequence,
    Claim.total_charge,
    Claim.paid_amount,
    Claim.adjustment_amount,
    Claim.patient_responsibility,
    Claim.payer_claim_number,
    Claim.adjudicated_at,
)
LINE_COLUMNS = (
    ClaimLine.id,
    ClaimLine.claim_id,
    ClaimLine.line_number,
    ClaimLine.date_of_service,
    ClaimLine.cpt,
    ClaimLine.modifiers,
    ClaimLine.units,
    ClaimLine.place_of_service,
    ClaimLine.charge,
    ClaimLine.paid_amount,
    ClaimLine.adjustment_amount,
    ClaimLine.patient_responsibility,
)


class _ClaimView:
    """The columns posting reads from a claim, and its lines (plain rows: no ORM objects for 10,000 claims)."""

    __slots__ = (*(column.key for column in CLAIM_COLUMNS), "lines")

    def __init__(self, row: Any) -> None:
        for name, value in row._mapping.items():
            setattr(self, name, value)
        self.lines: list[Any] = []


def _load_claims(organization_id: int, numbers: list[str]) -> dict[str, _ClaimView]:
    """The organization's claims with these account numbers (CLP01), with their lines, in a few queries."""
    claims: dict[str, _ClaimView] = {}
    for chunk in _chunks(numbers):
        query = (
            select(*CLAIM_COLUMNS)
            .join(Practice, Practice.id == Claim.practice_id)
            .where(Practice.organization_id == organization_id, Claim.account_number.in_(chunk))
        )
        claims.update((row.account_number, _ClaimView(row)) for row in db.session.execute(query))
    by_id = {view.id: view for view in claims.values()}
    for chunk in _chunks(list(by_id)):
        query = select(*LINE_COLUMNS).where(ClaimLine.claim_id.in_(chunk)).order_by(ClaimLine.line_number)
        for line in db.session.execute(query):
            by_id[line.claim_id].lines.append(line)
    return claims


def _move(run: _Run, claim: _ClaimView, new: ClaimStatus, moves: list[tuple[str, str]]) -> None:
    row = _claim_row(run, claim)
    current: ClaimStatus = row["status"]
    if current == new:
        return
    if not can_move(current, new):
        run.problems.append(
            f"claim {claim.account_number}: status stays {current.value} "
            f"(the lifecycle does not allow {current.value} → {new.value})"
        )
        return
    moves.append((current.value, new.value))
    row["status"] = new


def _appeal_due(run: _Run, payer: Payer, notice: date, practice: Practice) -> tuple[datetime | None, date | None]:
    """The first appeal level's last day (17:00 in the practice's zone), from the remittance date; cached."""
    key = ("appeal", payer.id, notice, practice.id)
    if key not in run.cache:
        run.cache[key] = _compute_appeal_due(run, payer, notice, practice)
    return run.cache[key]


def _compute_appeal_due(
    run: _Run, payer: Payer, notice: date, practice: Practice
) -> tuple[datetime | None, date | None]:
    try:
        level = levels_for(str(payer.kind))[0]
        deadline = appeal_deadline(
            payer_kind=str(payer.kind), level=level, notice_date=notice, appeal_window_days=payer.appeal_window_days
        )
    except (ValueError, IndexError):
        return None, None
    end = datetime.combine(deadline.due, time(17), tzinfo=ZoneInfo(practice.timezone))
    return end.astimezone(run.now.tzinfo), deadline.due


def _route_denials(
    run: _Run,
    claim: _ClaimView,
    payment_id: int,
    denials: list[tuple[era835.Adjustment, tuple[str, ...]]],
    payer: Payer,
    notice: date,
) -> None:
    by_family: dict[rules.Family, list[tuple[era835.Adjustment, tuple[str, ...]]]] = defaultdict(list)
    routes: dict[rules.Family, rules.DenialRoute] = {}
    for adjustment, remarks in denials:
        route = _route(adjustment.group, adjustment.reason, remarks, str(payer.kind))
        routes.setdefault(route.family, route)
        by_family[route.family].append((adjustment, remarks))
    practice = run.practices[claim.practice_id]
    for family, items in by_family.items():
        route = routes[family]
        amount = sum((a.amount for a, _ in items), ZERO)
        codes = sorted({f"{a.group}-{a.reason}" for a, _ in items})
        rarcs = sorted({code for _, remarks in items for code in remarks})
        due_at, deadline = _appeal_due(run, payer, notice, practice) if route.appealable else (None, None)
        left = rules.days_left(deadline, run.now.date())
        reason = f"claim {claim.account_number}: {', '.join(codes + rarcs)} ${_fmt(amount)}: {route.action}"
        _queue_item(
            run,
            claim.practice_id,
            route.kind,
            f"denial:{claim.id}:v{claim.version}:{family.value}",
            reason,
            queue=route.queue,
            claim_id=claim.id,
            claim_payment_id=payment_id,
            routed=(f"denial:{family.value}", route.sla_business_days),
            due_at=due_at if route.kind == rules.KIND_APPEAL else None,
            priority=_priority(family, amount, left),
            payer_id=claim.payer_id,
            amount=amount,
            denial_family=family.value,
            reason_code=f"{items[0][0].group}-{items[0][0].reason}"[:16],
            evidence={
                "family": family.value,
                "codes": codes,
                "remarks": rarcs,
                "amount": _fmt(amount),
                "appealable": route.appealable,
                "appeal_deadline": deadline.isoformat() if deadline else None,
            },
        )


def _secondary_coverage(claim: _ClaimView, coverages: dict[int, list[Coverage]]) -> Coverage | None:
    if claim.payer_sequence != "P" or not claim.lines:
        return None
    day = min(line.date_of_service for line in claim.lines)
    return next((c for c in coverages.get(claim.patient_id, []) if c.is_active_on(day)), None)


def _bill_secondary(run: _Run, claim: _ClaimView, coverage: Coverage) -> Claim:
    """The secondary claim (same lines and charges, scrubbed) and its automated submit item."""
    number = rules.secondary_account_number(claim.account_number)
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == number))
    if secondary is None:
        ids = [line.id for line in claim.lines]
        pointers = dict(
            db.session.execute(select(ClaimLine.id, ClaimLine.diagnosis_pointers).where(ClaimLine.id.in_(ids))).all()
        )
        secondary = Claim(
            practice_id=claim.practice_id,
            session_id=claim.session_id,
            patient_id=claim.patient_id,
            payer_id=coverage.payer_id,
            coverage_id=coverage.id,
            account_number=number,
            status=ClaimStatus.SCRUBBED,
            total_charge=claim.total_charge,
            payer_sequence="S",
            parent_claim_id=claim.id,
            findings=[],
            created_at=run.now,
            lines=[
                ClaimLine(
                    line_number=line.line_number,
                    date_of_service=line.date_of_service,
                    cpt=line.cpt,
                    modifiers=list(line.modifiers or []),
                    units=line.units,
                    place_of_service=line.place_of_service,
                    charge=line.charge,
                    diagnosis_pointers=list(pointers.get(line.id) or []),
                )
                for line in claim.lines
            ],
        )
        db.session.add(secondary)
        db.session.flush()
        record_interaction(
            practice_id=claim.practice_id,
            actor=None,
            actor_label=run.source,
            kind=InteractionKind.STATUS_CHANGE,
            now=run.now,
            claim_id=secondary.id,
            to_state=ClaimStatus.SCRUBBED.value,
            body=f"Secondary claim {number} created from {claim.account_number}",
        )
    add_item(
        practice_id=claim.practice_id,
        kind="submit",
        now=run.now,
        claim_id=secondary.id,
        mode=Mode.AUTOMATED,
        dedupe_key=f"claim:{secondary.id}:submit",
        source=run.source,
        reason=f"secondary claim {number} after the primary's 835",
    )
    return secondary


def _post_claim(
    run: _Run,
    remittance: Remittance,
    clp: era835.Claim,
    claim: _ClaimView,
    payment_id: int,
    payer: Payer,
    coverages: dict[int, list[Coverage]],
    adjustments: list[dict[str, Any]],
    corrected: bool = False,
    secondary_billed: bool = False,
) -> None:
    """Post one matched CLP: adjustments, line and claim amounts, status, PR, denials and the claim's log row."""
    lines = rules.match_service_lines(list(claim.lines), clp.services)
    totals = {disposition: ZERO for disposition in rules.Disposition}
    patient: list[tuple[era835.Adjustment, int | None]] = []
    denials: list[tuple[era835.Adjustment, tuple[str, ...]]] = []
    cas = [(a, None, clp.remarks) for a in clp.adjustments]
    for svc, line in zip(clp.services, lines, strict=True):
        if line is None:
            run.problems.append(f"claim {clp.claim_id}: service {svc.code} matches no line of the claim")
        else:
            _line_row(run, line)["paid_amount"] += svc.paid
        cas.extend((a, line, svc.remarks + clp.remarks) for a in svc.adjustments)
    for a, line, remarks in cas:
        kind = _disposition(a.group, a.reason, a.amount)
        totals[kind] += a.amount
        if line is not None and kind is rules.Disposition.CONTRACTUAL:
            _line_row(run, line)["adjustment_amount"] += a.amount
        elif line is not None and kind is rules.Disposition.PATIENT:
            _line_row(run, line)["patient_responsibility"] += a.amount
        adjustments.append(
            {
                "claim_payment_id": payment_id,
                "claim_line_id": line.id if line else None,
                "group": a.group,
                "reason": a.reason,
                "amount": a.amount,
                "quantity": a.quantity,
                "disposition": kind.value,
                "remarks": list(remarks),
            }
        )
        if kind is rules.Disposition.PATIENT:
            patient.append((a, line.id if line else None))
        elif kind is rules.Disposition.DENIAL and not clp.is_reversal:
            denials.append((a, tuple(remarks)))
    row = _claim_row(run, claim)
    row["paid_amount"] += clp.paid
    row["adjustment_amount"] += totals[rules.Disposition.CONTRACTUAL]
    row["patient_responsibility"] += totals[rules.Disposition.PATIENT]
    row["payer_claim_number"] = clp.payer_claim_number or row["payer_claim_number"]
    row["adjudicated_at"] = run.now
    moves: list[tuple[str, str]] = []
    if row["status"] == ClaimStatus.SUBMITTED:
        _move(run, claim, ClaimStatus.ACCEPTED, moves)  # an 835 means the payer took it in (no 277CA yet)
    if clp.is_reversal:
        if not corrected:  # a take-back; when the corrected claim follows in this payment, it sets the status
            _move(run, claim, ClaimStatus.DENIED, moves)
    else:
        status = rules.claim_status_after(charge=clp.charge, paid=clp.paid, denied=totals[rules.Disposition.DENIAL])
        _move(run, claim, ClaimStatus(status), moves)
    secondary = None
    note = ""
    pr_total = totals[rules.Disposition.PATIENT]
    coverage = _secondary_coverage(claim, coverages) if pr_total > 0 and not clp.is_reversal else None
    if clp.status in rules.FORWARDED and pr_total > 0:
        note = f"; the payer forwarded the claim to the secondary payer itself (CLP02 {clp.status})"
    elif clp.is_reversal and secondary_billed:
        note = "; patient responsibility had gone to the secondary claim: review it"
        _queue_item(run, claim.practice_id, "posting_exception", f"reversal:{claim.id}:{payment_id}:secondary",
                    f"claim {claim.account_number}: reversed by 835 trace {remittance.trace_number} after its "
                    f"secondary claim was billed; correct or void the secondary claim", claim_id=claim.id,
                    claim_payment_id=payment_id)  # fmt: skip
    elif coverage is not None:
        secondary = _bill_secondary(run, claim, coverage)
    elif pr_total != 0:
        for a, _line_id in patient:
            run.ledger.append(
                {
                    "practice_id": claim.practice_id,
                    "patient_id": claim.patient_id,
                    "claim_id": claim.id,
                    "claim_payment_id": payment_id,
                    "amount": a.amount,
                    "at": run.now,
                    "kind": "reversal" if clp.is_reversal else "patient_responsibility",
                    "reason": rules.ledger_reason(a.group, a.reason),
                }
            )
    if denials:
        _route_denials(run, claim, payment_id, denials, payer, remittance.payment_date or run.now.date())
    codes = ", ".join(f"{a.group}-{a.reason} {_fmt(a.amount)}" for a, _, _ in cas) or "no adjustments"
    body = (
        f"835 {'reversal' if clp.is_reversal else 'posted'} (trace {remittance.trace_number}, CLP02 {clp.status}): "
        f"paid {_fmt(clp.paid)}, contractual {_fmt(totals[rules.Disposition.CONTRACTUAL])}, "
        f"patient {_fmt(pr_total)}, denied {_fmt(totals[rules.Disposition.DENIAL])}; {codes}"
        + (f"; patient responsibility billed to secondary claim {secondary.account_number}" if secondary else "")
        + note
    )
    if moves:  # both transitions when an 835 arrives before the 277CA: submitted → accepted → paid
        body += "; claim " + " → ".join([moves[0][0], *(after for _, after in moves)])
    run.logs.append(
        {
            "practice_id": claim.practice_id,
            "claim_id": claim.id,
            "actor_label": run.source,
            "kind": InteractionKind.STATUS_CHANGE if moves else InteractionKind.AUTOMATION,
            "at": run.now,
            "from_state": moves[0][0] if moves else None,
            "to_state": moves[-1][1] if moves else None,
            "body": body[:4000],
            "data": {"remittance_id": remittance.id, "claim_payment_id": payment_id, "transitions": moves},
        }
    )


def _fallback_practice(run: _Run) -> int:
    if run.edi_file is not None and run.edi_file.practice_id is not None:
        practice_id = run.edi_file.practice_id
    else:
        practice_id = db.session.scalar(
            select(Practice.id).where(Practice.organization_id == run.organization_id).order_by(Practice.id)
        )
        if practice_id is None:
            raise ValidationFailed(f"organization {run.organization_id} has no practice to hold posting exceptions")
    if practice_id not in run.practices:
        run.practices[practice_id] = db.session.get(Practice, practice_id)
    return practice_id


def _post_remittance(run: _Run, r: era835.Remittance, payer_key: tuple[str, str]) -> Remittance | None:
    """Post one transaction; None when the unique constraint refuses it (a duplicate committed meanwhile)."""
    payer = db.session.scalar(
        select(Payer).where(
            Payer.organization_id == run.organization_id, Payer.payer_id.in_({r.payer_id, r.trace_payer_id})
        )
    )
    remittance = Remittance(
        organization_id=run.organization_id,
        payer_id=payer.id if payer else None,
        payer_identifier=payer_key[0][:80],
        payer_name=r.payer_name[:200],
        trace_number=payer_key[1][:80],
        payment_method=r.payment_method[:3],
        payment_date=r.payment_date,
        total_paid=r.total_paid,
        payee_npi=r.payee_npi or None,
        edi_file_id=run.edi_file.id if run.edi_file else None,
        transaction_control_number=r.control_number[:9],
        posted_at=run.now,
        provider_adjustments=[
            {"reason": p.reason, "reference": p.reference, "amount": _fmt(p.amount)} for p in r.provider_adjustments
        ],
    )
    if is_postgres():  # a savepoint, so a duplicate that committed since the pre-check is refused, not raised
        try:
            with db.session.begin_nested():
                db.session.add(remittance)
                db.session.flush()
        except IntegrityError:
            if remittance in db.session:
                db.session.expunge(remittance)
            return None
    else:  # pysqlite's savepoints are not transactional; SQLite serializes writers, so the pre-check holds
        db.session.add(remittance)
        db.session.flush()
    claims = _load_claims(run.organization_id, list({clp.claim_id for clp in r.claims}))
    for claim in claims.values():
        if claim.practice_id not in run.practices:
            run.practices[claim.practice_id] = db.session.get(Practice, claim.practice_id)
    payers = {
        p.id: p for p in db.session.scalars(select(Payer).where(Payer.id.in_({c.payer_id for c in claims.values()})))
    }
    patient_ids = list({c.patient_id for c in claims.values()})
    coverages: dict[int, list[Coverage]] = defaultdict(list)
    for chunk in _chunks(patient_ids):
        query = select(Coverage).where(Coverage.patient_id.in_(chunk), Coverage.priority == CoveragePriority.SECONDARY)
        for coverage in db.session.scalars(query):
            coverages[coverage.patient_id].append(coverage)
    rows = [
        {
            "remittance_id": remittance.id,
            "claim_id": claims[clp.claim_id].id if clp.claim_id in claims else None,
            "account_number": clp.claim_id[:38],
            "status_code": clp.status[:2],
            "charge": clp.charge,
            "paid": clp.paid,
            "patient_responsibility": clp.patient_responsibility,
            "payer_claim_number": clp.payer_claim_number or None,
            "is_reversal": clp.is_reversal,
            "remarks": list(clp.remarks),
        }
        for clp in r.claims
    ]
    ids = _bulk_insert(ClaimPayment, rows)
    adjustments: list[dict[str, Any]] = []
    last_original = {clp.claim_id: i for i, clp in enumerate(r.claims) if not clp.is_reversal}
    reversed_ids = [claims[clp.claim_id].id for clp in r.claims if clp.is_reversal and clp.claim_id in claims]
    posted_before: set[int | None] = set()
    billed_secondary: set[int | None] = set()
    if reversed_ids:  # few: a reversal needs a posting to undo, and may have fed a secondary claim
        posted_before = set(
            db.session.scalars(
                select(ClaimPayment.claim_id).where(
                    ClaimPayment.claim_id.in_(reversed_ids), ClaimPayment.is_reversal.is_(False)
                )
            )
        )
        billed_secondary = set(db.session.scalars(select(Claim.parent_claim_id).where(
            Claim.parent_claim_id.in_(reversed_ids), Claim.payer_sequence == "S")))  # fmt: skip
    for index, (clp, payment_id) in enumerate(zip(r.claims, ids, strict=True)):
        claim = claims.get(clp.claim_id)
        if claim is None:
            remittance.claims_unmatched += 1
            _queue_item(
                run,
                _fallback_practice(run),
                "posting_exception",
                f"remit:{remittance.id}:unmatched:{clp.claim_id}"[:120],
                f"835 trace {remittance.trace_number}: CLP01 {clp.claim_id} matches no claim of ours "
                f"(paid {_fmt(clp.paid)})",
                claim_payment_id=payment_id,
                edi_file_id=run.edi_file.id if run.edi_file else None,
            )
            continue
        if clp.is_reversal and claim.id not in posted_before:
            run.problems.append(f"claim {clp.claim_id}: reversal of a payment never posted; not applied")
            _queue_item(run, claim.practice_id, "posting_exception", f"reversal:{claim.id}:{payment_id}:unposted",
                        f"835 trace {remittance.trace_number}: claim {clp.claim_id} reversed (paid {_fmt(clp.paid)}) "
                        "but no payment of it was posted; not applied", claim_id=claim.id,
                        claim_payment_id=payment_id)  # fmt: skip
            continue
        remittance.claims_posted += 1
        corrected = clp.is_reversal and last_original.get(clp.claim_id, -1) > index
        payer = payers[claim.payer_id]
        _post_claim(run, remittance, clp, claim, payment_id, payer, coverages, adjustments, corrected,
                    secondary_billed=claim.id in billed_secondary)  # fmt: skip
    if adjustments:
        _bulk_insert(PaymentAdjustment, adjustments)
    run.problems.extend(f"835 trace {remittance.trace_number}: {problem}" for problem in r.problems)
    return remittance


def _refuse_unbalanced(run: _Run, r: era835.Remittance) -> None:
    what = f"835 transaction {r.control_number} (trace {r.trace_number})"
    problems = "; ".join(r.problems)
    if run.edi_file is None:
        raise ValidationFailed(f"{what} does not balance, nothing was posted: {problems}")
    run.problems.append(f"{what} does not balance, not posted: {problems}")
    _queue_item(
        run,
        _fallback_practice(run),
        "posting_exception",
        f"edi:{run.edi_file.id}:unbalanced:{r.control_number}:{r.trace_number}"[:120],
        f"{what} does not balance, not posted: {problems}"[:2000],
        edi_file_id=run.edi_file.id,
        evidence={"problems": list(r.problems)},
    )


@service
def post_835(
    *, organization_id: int, text: str, now: datetime, edi_file_id: int | None = None, source: str = "835 posting"
) -> PostingResult:
    """Post every transaction of an 835 file in one transaction: duplicates (payer + trace) and unbalanced
    transactions are refused and reported; posting the same file twice posts it once."""
    try:
        remittances = parse_835(text)
    except X12Error as error:
        raise ValidationFailed(f"835: {error}") from None
    edi_file = None
    if edi_file_id is not None:
        edi_file = db.session.get(EdiFile, edi_file_id)
        if edi_file is None or edi_file.organization_id != organization_id:
            raise ValidationFailed(f"EDI file {edi_file_id} does not exist in this organization")
    run = _Run(organization_id=organization_id, now=now, source=source, edi_file=edi_file)
    refused: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    posted = claims_posted = claims_unmatched = 0
    for r in remittances:
        key = duplicate_key(r)
        known = db.session.scalar(
            select(Remittance.id).where(
                Remittance.organization_id == organization_id,
                Remittance.payer_identifier == key[0][:80],
                Remittance.trace_number == key[1][:80],
            )
        )
        if key in seen or known is not None:
            refused.append(key)
            continue
        seen.add(key)
        if not r.balanced:
            _refuse_unbalanced(run, r)
            continue
        remittance = _post_remittance(run, r, key)
        if remittance is None:
            refused.append(key)
            continue
        posted += 1
        claims_posted += remittance.claims_posted
        claims_unmatched += remittance.claims_unmatched
    db.session.flush()
    _bulk_update(Claim, list(run.claim_rows.values()))
    _bulk_update(ClaimLine, list(run.line_rows.values()))
    _write_items(run)
    if run.ledger:
        _bulk_insert(LedgerEntry, run.ledger)
    if run.logs:
        _bulk_insert(Interaction, run.logs)
    db.session.commit()
    return PostingResult(
        remittances_posted=posted,
        duplicates_refused=refused,
        claims_posted=claims_posted,
        claims_unmatched=claims_unmatched,
        denial_items=run.denial_items,
        exception_items=run.exception_items,
        problems=run.problems,
    )
