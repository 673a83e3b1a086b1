"""Reads for the work-queue screens; every query is scoped to the practices a user may see."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Integer, String, and_, case, cast, func, or_, select, true
from sqlalchemy.orm import joinedload, load_only

from backoffice import inputs
from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User, user_practices
from backoffice.accounts.rules import STAFF_ROLES, sees_whole_organization
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.patients.models import Coverage, Patient
from backoffice.sessions.models import Session
from backoffice.work import rules
from backoffice.work.models import Interaction, SlaPause, WorkItem
from backoffice.work.rules import CHAIN_ORDER, DEFAULT_QUEUES, KIND_LABELS, OPEN_STATES, ItemState, Mode

QUEUE_PAGE_LIMIT = 200
QUEUE_PAGE_SHORT = 50  # the queue page's first view


def _by_urgency() -> tuple:
    return (WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.priority.desc(), WorkItem.id)


DUE_CHOICES: dict[str, str] = {"overdue": "Overdue", "today": "Due today", "week": "Due this week"}
MAX_AMOUNT = Decimal("10000000")


@dataclass(frozen=True)
class QueueFilter:
    """The queue screens' filters (GET parameters); ``None`` means any."""

    kind: str | None = None
    practice_id: int | None = None
    payer_id: int | None = None
    due: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    queue: str | None = None
    sort: str | None = None  # a column of the queue tables (SORT_LABELS); None: the queue's own order
    descending: bool = False

    def args(self) -> dict[str, str]:
        """The filter (and the sort) as GET parameters, to keep them in links."""
        values = {
            "kind": self.kind, "practice": self.practice_id, "payer": self.payer_id, "due": self.due,
            "amount_min": self.amount_min, "amount_max": self.amount_max, "queue": self.queue, "sort": self.sort,
            "dir": ("desc" if self.descending else "asc") if self.sort else None,
        }  # fmt: skip
        return {key: str(value) for key, value in values.items() if value is not None}

    def sort_args(self, column: str) -> dict[str, str]:
        """The GET parameters that sort by ``column``: ascending first, the other way when already sorted by it."""
        flip = self.sort == column and not self.descending
        return {**self.args(), "sort": column, "dir": "desc" if flip else "asc"}

    @property
    def active(self) -> bool:
        return bool({k: v for k, v in self.args().items() if k not in ("sort", "dir")})


# Sortable queue columns: the kernel's own, and those features add (patient, date of service) with
# ``register_sort``. A builder takes the id SELECT and returns it (with any outer joins) and the column to order by.
SortBuilder = Callable[[Any], tuple[Any, Any]]
_SORTS: dict[str, SortBuilder] = {
    "id": lambda stmt: (stmt, WorkItem.id),
    "kind": lambda stmt: (stmt, WorkItem.kind),
    "queue": lambda stmt: (stmt, WorkItem.queue),
    "state": lambda stmt: (stmt, WorkItem.state),
    "priority": lambda stmt: (stmt, WorkItem.priority),
    "amount": lambda stmt: (stmt, WorkItem.amount),
    "due": lambda stmt: (stmt, WorkItem.due_at),
    "practice": lambda stmt: (stmt.join(Practice, Practice.id == WorkItem.practice_id), Practice.name),
    "owner": lambda stmt: (stmt.outerjoin(User, User.id == WorkItem.assignee_id), User.name),
}


def register_sort(column: str, builder: SortBuilder) -> None:
    """A feature makes one more queue column sortable (the same column again replaces it)."""
    _SORTS[column] = builder


def _sorted_ids(stmt: Any, f: QueueFilter, limit: int) -> list[int]:
    """Ids of ``stmt`` (a SELECT of WorkItem.id) ordered by the filter's column, empty values last, then id."""
    stmt, column = _SORTS[f.sort or "id"](stmt)
    order = column.desc() if f.descending else column.asc()
    tie = WorkItem.id.desc() if f.descending else WorkItem.id.asc()
    return list(db.session.scalars(stmt.order_by(order.nulls_last(), tie).limit(limit)))


def _rows_in_order(ids: list[int]) -> list[WorkItem]:
    if not ids:
        return []
    rows = db.session.scalars(select(WorkItem).options(*_row_loading()).where(WorkItem.id.in_(ids))).all()
    order = {item_id: index for index, item_id in enumerate(ids)}
    return sorted(rows, key=lambda item: order[item.id])


# What a queue row shows of its subject: the patient's name and the date of service. The kernel knows them for
# items with a session; features answer for the others (a denial from an 835 reaches them through its claim).
RowContext = tuple[int | None, str | None, date | None]  # patient id, "Last, First", date of service
RowContextSource = Callable[[Sequence[WorkItem]], Mapping[int, RowContext]]
_ROW_CONTEXT_SOURCES: list[RowContextSource] = []


def register_row_context(source: RowContextSource) -> None:
    if source not in _ROW_CONTEXT_SOURCES:
        _ROW_CONTEXT_SOURCES.append(source)


def row_context(items: Sequence[WorkItem]) -> dict[int, RowContext]:
    """item id → (patient id, "Last, First", date of service) for a page of queue rows, in two or three queries."""
    found: dict[int, RowContext] = {}
    by_session = {item.session_id: item.id for item in items if item.session_id is not None}
    if by_session:
        rows = db.session.execute(
            select(
                Session.id,
                Session.date_of_service,
                Patient.id.label("patient_id"),
                Patient.last_name,
                Patient.first_name,
            )
            .join(Patient, Patient.id == Session.patient_id)
            .where(Session.id.in_(list(by_session)))
        ).all()
        per_session = {r.id: (r.patient_id, f"{r.last_name}, {r.first_name}", r.date_of_service) for r in rows}
        for item in items:
            if item.session_id in per_session:
                found[item.id] = per_session[item.session_id]
    rest = [item for item in items if item.id not in found]
    for source in _ROW_CONTEXT_SOURCES:
        if not rest:
            break
        found.update(source(rest))
        rest = [item for item in rest if item.id not in found]
    return found


def parse_filter(args: Mapping[str, str], user: User) -> tuple[QueueFilter, list[str]]:
    """Read the filter from GET parameters. A bad value is left out of the filter and reported as
    ``field: problem`` (the page still renders); the rest of the filter applies."""
    errors: list[str] = []
    values: dict[str, Any] = {}
    kind = (args.get("kind") or "").strip()
    if kind:
        if kind in DEFAULT_QUEUES:
            values["kind"] = kind
        else:
            errors.append(f"kind: unknown work kind '{kind[:40]}'")
    for field, key in (("practice", "practice_id"), ("payer", "payer_id")):
        raw = (args.get(field) or "").strip()
        if not raw:
            continue
        try:
            values[key] = inputs.whole_number(raw, low=1)
        except inputs.InputProblem:
            errors.append(f"{field}: expected a {field} id, got '{raw[:20]}'")
    if "practice_id" in values and values["practice_id"] not in practice_ids_for(user):
        errors.append("practice: not one of your practices")
        del values["practice_id"]
    if "payer_id" in values:
        payer = db.session.get(Payer, values["payer_id"])
        if payer is None or payer.organization_id != user.organization_id:
            errors.append("payer: not a payer of your organization")
            del values["payer_id"]
    due = (args.get("due") or "").strip()
    if due:
        if due in DUE_CHOICES:
            values["due"] = due
        else:
            errors.append(f"due: expected one of {', '.join(DUE_CHOICES)}")
    for field, label in (("amount_min", "amount from"), ("amount_max", "amount to")):
        raw = (args.get(field) or "").strip()
        if not raw:
            continue
        try:
            amount = inputs.money(raw, low=-MAX_AMOUNT * 10, high=MAX_AMOUNT * 10)
        except inputs.InputProblem:
            errors.append(f"{label}: '{raw[:20]}' is not an amount")
            continue
        if not 0 <= amount <= MAX_AMOUNT:
            errors.append(f"{label}: between 0 and {MAX_AMOUNT:,}")
            continue
        values[field] = amount
    if "amount_min" in values and "amount_max" in values and values["amount_min"] > values["amount_max"]:
        errors.append("amount: 'from' is more than 'to'")
        del values["amount_min"], values["amount_max"]
    queue = (args.get("queue") or "").strip()
    if queue:
        if len(queue) <= 64:
            values["queue"] = queue
        else:
            errors.append("queue: at most 64 characters")
    sort = (args.get("sort") or "").strip()
    if sort:
        if sort in _SORTS:
            values["sort"] = sort
            values["descending"] = (args.get("dir") or "").strip() == "desc"
        else:
            errors.append(f"sort: expected one of {', '.join(sorted(_SORTS))}")
    return QueueFilter(**values), errors


def _filtered(stmt: Any, f: QueueFilter | None, now: datetime, tz: ZoneInfo) -> Any:
    """Add the filter's conditions to a work-item SELECT (all in SQL)."""
    if f is None:
        return stmt
    if f.kind:
        stmt = stmt.where(WorkItem.kind == f.kind)
    if f.practice_id is not None:
        stmt = stmt.where(WorkItem.practice_id == f.practice_id)
    if f.payer_id is not None:
        stmt = stmt.where(WorkItem.payer_id == f.payer_id)
    if f.amount_min is not None:
        stmt = stmt.where(WorkItem.amount >= f.amount_min)
    if f.amount_max is not None:
        stmt = stmt.where(WorkItem.amount <= f.amount_max)
    if f.due == "overdue":
        stmt = stmt.where(WorkItem.due_at <= now)
    elif f.due in ("today", "week"):
        stmt = stmt.where(WorkItem.due_at > now, WorkItem.due_at < due_window_end(f.due, now, tz))
    return stmt


def due_window_end(due: str, now: datetime, tz: ZoneInfo) -> datetime:
    """End of today, or of this week (Sunday midnight), in ``tz``: "due today" and "due this week" are the
    not-yet-overdue items due before it."""
    today = now.astimezone(tz).date()
    days = 1 if due == "today" else 7 - today.weekday()
    return datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=tz)


# A queue row shows the practice's and the owner's names only: loading their JSON settings (fee schedules, owned
# steps, queues, skills) and the item's own result for every row was a good part of the queue page's cost. Of the
# item itself only the columns a row (or the API's item) shows are read.
ROW_COLUMNS = (
    WorkItem.id, WorkItem.practice_id, WorkItem.kind, WorkItem.session_id, WorkItem.claim_id, WorkItem.patient_id,
    WorkItem.payer_id, WorkItem.amount, WorkItem.denial_family, WorkItem.reason_code, WorkItem.state, WorkItem.mode,
    WorkItem.assignee_id, WorkItem.queue, WorkItem.priority, WorkItem.due_at, WorkItem.sla_policy,
    WorkItem.snoozed_until, WorkItem.escalated_at, WorkItem.created_at, WorkItem.started_at, WorkItem.completed_at,
)  # fmt: skip


def _row_loading() -> tuple[Any, ...]:
    return (
        load_only(*ROW_COLUMNS),
        joinedload(WorkItem.practice).load_only(Practice.id, Practice.name, Practice.timezone),
        joinedload(WorkItem.assignee).load_only(User.id, User.name),
    )


def my_items(
    user: User,
    *,
    limit: int = QUEUE_PAGE_LIMIT,
    filters: QueueFilter | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> list[WorkItem]:
    """Open items assigned to ``user``, soonest due first, or by the filter's sort column (narrowed by ``filters``)."""
    mine = (
        WorkItem.assignee_id == user.id,
        WorkItem.state.in_([s.value for s in OPEN_STATES - {ItemState.BLOCKED}]),
        WorkItem.practice_id.in_(practice_ids_for(user)),
    )
    if filters is not None and filters.sort:
        stmt = select(WorkItem.id).where(*mine)
        if filters.queue:
            stmt = stmt.where(WorkItem.queue == filters.queue)
        stmt = _filtered(stmt, filters, now or utcnow(), tz or ZoneInfo("UTC"))
        return _rows_in_order(_sorted_ids(stmt, filters, limit))
    stmt = select(WorkItem).options(*_row_loading()).where(*mine).order_by(*_by_urgency()).limit(limit)
    if filters is not None and filters.queue:
        stmt = stmt.where(WorkItem.queue == filters.queue)
    stmt = _filtered(stmt, filters, now or utcnow(), tz or ZoneInfo("UTC"))
    return list(db.session.scalars(stmt))


def team_items(
    user: User,
    *,
    queue: str | None = None,
    limit: int = QUEUE_PAGE_LIMIT,
    filters: QueueFilter | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> list[WorkItem]:
    """Unassigned manual items waiting in the queues ``user`` works (all queues for supervisors), highest
    priority first, then soonest due."""
    queue = queue or (filters.queue if filters is not None else None)
    scope = practice_ids_for(user)
    if not scope:
        return []
    stmt = select(WorkItem.id).where(WorkItem.assignee_id.is_(None), WorkItem.mode == Mode.MANUAL)
    if queue:
        stmt = stmt.where(WorkItem.queue == queue)
    elif user.queues and user.role == "biller":
        stmt = stmt.where(WorkItem.queue.in_(user.queues))
    stmt = _filtered(stmt, filters, now or utcnow(), tz or ZoneInfo("UTC"))
    states = [ItemState.READY.value, ItemState.SNOOZED.value]
    if filters is not None and filters.sort:
        stmt = stmt.where(WorkItem.state.in_(states), WorkItem.practice_id.in_(scope))
        return _rows_in_order(_sorted_ids(stmt, filters, limit))
    if db.session.get_bind().dialect.name == "postgresql":
        ids = _ids_by_priority_groups(stmt, scope, states, limit)
    else:
        ids = list(
            db.session.scalars(
                stmt.where(WorkItem.state.in_(states), WorkItem.practice_id.in_(scope))
                .order_by(WorkItem.priority.desc(), *_by_urgency())
                .limit(limit)
            )
        )
    return _rows_in_order(ids)


def _ids_by_priority_groups(stmt: Any, scope: set[int], states: list[str], limit: int) -> list[int]:
    """PostgreSQL: ids of ``stmt``'s rows by priority desc, due date (none last), id, without sorting every
    waiting row: ix_work_items_claimable (state, mode, practice_id, priority, due_at) cannot yield priority
    desc with due date asc in one pass, so walk the priorities present from the top (a backward index probe
    per practice and state) and read each priority's rows in index order, until the page is full."""

    def keys(name: str) -> tuple[Any, Any]:
        pids = select(func.unnest(cast(sorted(scope), ARRAY(Integer))).label("pid")).subquery(f"p{name}")
        sts = select(func.unnest(cast(states, ARRAY(String))).label("st")).subquery(f"s{name}")
        return pids, sts

    ids: list[int] = []
    below: int | None = None
    while len(ids) < limit:
        # One statement per priority: the highest priority left (a backward index probe per practice and
        # state), then that priority's rows in index order (due date, then id).
        p1, s1 = keys("1")
        probe = stmt.with_only_columns(WorkItem.priority).where(
            WorkItem.practice_id == p1.c.pid, WorkItem.state == s1.c.st
        )
        if below is not None:
            probe = probe.where(WorkItem.priority < below)
        probe = probe.order_by(WorkItem.priority.desc()).limit(1).lateral("top")
        top = select(func.max(probe.c.priority)).select_from(p1).join(s1, true()).join(probe, true()).scalar_subquery()
        want = limit - len(ids)
        p2, s2 = keys("2")
        group = (
            stmt.with_only_columns(WorkItem.id, WorkItem.due_at, WorkItem.priority)
            .where(WorkItem.practice_id == p2.c.pid, WorkItem.state == s2.c.st, WorkItem.priority == top)
            .order_by(WorkItem.due_at.asc().nulls_last(), WorkItem.id)
            .limit(want)
            .lateral("g")
        )
        rows = db.session.execute(
            select(group.c.id, group.c.priority)
            .select_from(p2)
            .join(s2, true())
            .join(group, true())
            .order_by(group.c.due_at.asc().nulls_last(), group.c.id)
            .limit(want)
        ).all()
        if not rows:
            break
        ids.extend(row.id for row in rows)
        below = rows[0].priority
    return ids


# Queues beyond the kernel's defaults that features send work to (the denial queues, routing rules' targets):
# each source names them for a user's organization; features register theirs when the app is created.
QueueSource = Callable[[User], Iterable[str]]
_QUEUE_SOURCES: list[QueueSource] = []


def register_queue_source(source: QueueSource) -> None:
    """Offer ``source``'s queue names in the queue filter (idempotent)."""
    if source not in _QUEUE_SOURCES:
        _QUEUE_SOURCES.append(source)


def filter_choices(user: User) -> dict[str, list[tuple[Any, str]]]:
    """The options of the filter form: kinds, the user's practices, the organization's payers, known queues."""
    practices = db.session.execute(
        select(Practice.id, Practice.name).where(Practice.id.in_(practice_ids_for(user))).order_by(Practice.name)
    ).all()
    payers = db.session.execute(
        select(Payer.id, Payer.name).where(Payer.organization_id == user.organization_id).order_by(Payer.name)
    ).all()
    extra = {name for source in _QUEUE_SOURCES for name in source(user)}
    queues = sorted({*DEFAULT_QUEUES.values(), *(user.queues or ()), *extra})
    return {
        "kinds": sorted(((k, KIND_LABELS.get(k, k)) for k in DEFAULT_QUEUES), key=lambda kv: kv[1]),
        "practices": [(p_id, name) for p_id, name in practices],
        "payers": [(p_id, name) for p_id, name in payers],
        "queues": [(q, q) for q in queues],
        "due": list(DUE_CHOICES.items()),
    }


def sla_pause_note(item: WorkItem, now: datetime) -> str | None:
    """'paused 29.5 h, waiting on practice' when the item's SLA was ever paused (the time it did not run), else
    None; 'so far' while it still waits."""
    pauses = db.session.scalars(select(SlaPause).where(SlaPause.work_item_id == item.id).order_by(SlaPause.id)).all()
    if not pauses:
        return None
    total = rules.paused_time([(p.started_at, p.ended_at) for p in pauses], now)
    who = ", ".join(dict.fromkeys(p.waiting_on for p in pauses))
    return rules.paused_label(total, waiting_on=who, open_now=any(p.ended_at is None for p in pauses))


TIMELINE_PAGE = 200  # entries on the item page; older ones are a link away ("Older entries")


@dataclass(frozen=True)
class TimelinePage:
    """The newest ``TIMELINE_PAGE`` entries (or those before ``older``'s cursor) and, when more are left, the id of
    the last one shown: the "Older entries" link's cursor. Nothing is dropped: every entry is one link further."""

    entries: list[Interaction]
    older: int | None
    paged: bool  # a page after the first (the link back to the newest)


def timeline(item: WorkItem, *, before: int | None = None, limit: int = TIMELINE_PAGE) -> TimelinePage:
    """Everything logged on the item and on its subject (the whole chain), newest first, ``limit`` at a time:
    the entries after ``before`` (an entry id of this timeline) in that order, else the newest."""
    subject = [Interaction.work_item_id == item.id]
    if item.session_id is not None:
        subject.append(Interaction.session_id == item.session_id)
    if item.claim_id is not None:
        subject.append(Interaction.claim_id == item.claim_id)
    query = select(Interaction).options(joinedload(Interaction.actor)).where(or_(*subject))
    cursor = None
    if before is not None:
        cursor = db.session.execute(
            select(Interaction.at, Interaction.id).where(Interaction.id == before, or_(*subject))
        ).one_or_none()
    if cursor is not None:  # keyset: strictly after the cursor in (at desc, id desc) order
        query = query.where(
            or_(Interaction.at < cursor.at, and_(Interaction.at == cursor.at, Interaction.id < cursor.id))
        )
    rows = list(db.session.scalars(query.order_by(Interaction.at.desc(), Interaction.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    entries = rows[:limit]
    return TimelinePage(entries=entries, older=entries[-1].id if more else None, paged=cursor is not None)


def session_of(item: WorkItem) -> tuple[Session | None, list[Coverage]]:
    """The item's session with patient and provider, and the patient's coverages (primary first)."""
    if item.session_id is None:
        return None, []
    session = db.session.scalar(
        select(Session)
        .options(joinedload(Session.patient), joinedload(Session.provider))
        .where(Session.id == item.session_id)
    )
    coverages = db.session.scalars(
        select(Coverage)
        .options(joinedload(Coverage.payer))
        .where(Coverage.patient_id == session.patient_id)
        .order_by(Coverage.priority, Coverage.id)
    ).all()
    return session, list(coverages)


def chain_of(item: WorkItem) -> list[WorkItem]:
    """All items planned for the same subject, in chain order."""
    if item.session_id is None:
        return [item]
    items = db.session.scalars(select(WorkItem).where(WorkItem.session_id == item.session_id)).all()
    order = {kind: index for index, kind in enumerate(CHAIN_ORDER)}
    return sorted(items, key=lambda i: (order.get(i.kind, len(order)), i.id))


@dataclass(frozen=True)
class QueueRow:
    queue: str
    ready: int
    in_progress: int
    snoozed: int
    breached: int
    oldest_due: datetime | None


@dataclass(frozen=True)
class BillerRow:
    user: User
    open: int
    due_today: int
    breached: int
    done_today: int


def queue_overview(user: User, now: datetime) -> list[QueueRow]:
    """Per queue: depth by state, SLA breaches and the oldest due date, for the supervisor page."""
    open_states = [s.value for s in OPEN_STATES - {ItemState.BLOCKED}]
    rows = db.session.execute(
        select(
            WorkItem.queue,
            func.sum(case((WorkItem.state == ItemState.READY, 1), else_=0)),
            func.sum(case((WorkItem.state == ItemState.IN_PROGRESS, 1), else_=0)),
            func.sum(case((WorkItem.state == ItemState.SNOOZED, 1), else_=0)),
            func.sum(case((WorkItem.due_at <= now, 1), else_=0)),  # a snoozed item past due is breached too
            func.min(WorkItem.due_at),
        )
        .where(WorkItem.state.in_(open_states), WorkItem.practice_id.in_(practice_ids_for(user)))
        .group_by(WorkItem.queue)
        .order_by(WorkItem.queue)
    ).all()
    return [QueueRow(q, int(r or 0), int(p or 0), int(s or 0), int(b or 0), _aware(o)) for q, r, p, s, b, o in rows]


def unworked_queues(user: User, queues: Iterable[str]) -> list[str]:
    """Of ``queues``, the ones no active biller of the user's organization works (a biller with no queues set works
    every queue), so the supervisor board can flag work that will wait for nobody."""
    chosen = db.session.scalars(
        select(User.queues).where(
            User.organization_id == user.organization_id, User.active.is_(True), User.role == "biller"
        )  # fmt: skip
    ).all()
    if any(not picked for picked in chosen):
        return []
    worked = {queue for picked in chosen for queue in picked}
    return sorted(set(queues) - worked)


def biller_workload(user: User, now: datetime, tz: ZoneInfo) -> list[BillerRow]:
    """Per active user of the organization: open, due today, breached and done today."""
    local_midnight = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tzinfo=tz)
    day_start, day_end = local_midnight, local_midnight + timedelta(days=1)
    scope = practice_ids_for(user)
    open_states = [s.value for s in OPEN_STATES - {ItemState.BLOCKED}]
    # A snoozed item past its due date is breached like any other (snoozing never stops the SLA).
    working_states = [ItemState.READY.value, ItemState.IN_PROGRESS.value, ItemState.SNOOZED.value]
    counts = {
        assignee: (o, d, b, t)
        for assignee, o, d, b, t in db.session.execute(
            select(
                WorkItem.assignee_id,
                func.sum(case((WorkItem.state.in_(open_states), 1), else_=0)),
                func.sum(case((WorkItem.state.in_(open_states) & (WorkItem.due_at < day_end), 1), else_=0)),
                func.sum(case((WorkItem.state.in_(working_states) & (WorkItem.due_at <= now), 1), else_=0)),
                func.sum(
                    case(
                        ((WorkItem.state == ItemState.DONE) & (WorkItem.completed_at >= day_start), 1),
                        else_=0,
                    )
                ),
            )
            .where(WorkItem.assignee_id.is_not(None), WorkItem.practice_id.in_(scope))
            .group_by(WorkItem.assignee_id)
        )
    }
    users = db.session.scalars(
        select(User)
        .where(User.organization_id == user.organization_id, User.active, User.role.in_(list(STAFF_ROLES)))
        .order_by(User.name)
    ).all()
    return [BillerRow(u, *(int(x or 0) for x in counts.get(u.id, (0, 0, 0, 0)))) for u in users]


ESCALATION_SOURCES = ("people", "automatic", "all")


def escalated_items(user: User, *, source: str = "people", limit: int = 100) -> list[WorkItem]:
    """Open escalated items, newest escalation first: by default the ones a person escalated; ``automatic`` the
    SLA and follow-up sweeps' escalations; ``all`` both."""
    by_source = {"people": [WorkItem.auto_escalated.is_(False)], "automatic": [WorkItem.auto_escalated.is_(True)]}
    return list(
        db.session.scalars(
            select(WorkItem)
            .options(joinedload(WorkItem.assignee), joinedload(WorkItem.practice))
            .where(
                *by_source.get(source, []),
                WorkItem.escalated_at.is_not(None),
                WorkItem.state.in_([s.value for s in OPEN_STATES]),
                WorkItem.practice_id.in_(practice_ids_for(user)),
            )
            .order_by(WorkItem.escalated_at.desc())
            .limit(limit)
        )
    )


def breached_items(user: User, now: datetime, *, limit: int = 100) -> list[WorkItem]:
    """Open items (ready, in progress or snoozed) past their due time, most overdue first: snoozing never stops
    the SLA."""
    return list(
        db.session.scalars(
            select(WorkItem)
            .options(joinedload(WorkItem.assignee), joinedload(WorkItem.practice))
            .where(
                WorkItem.due_at <= now,
                WorkItem.state.in_([ItemState.READY.value, ItemState.IN_PROGRESS.value, ItemState.SNOOZED.value]),
                WorkItem.practice_id.in_(practice_ids_for(user)),
            )
            .order_by(WorkItem.due_at)
            .limit(limit)
        )
    )


def assignable_users(item: WorkItem, actor: User) -> list[User]:
    """Active staff of the organization who serve the item's practice (never a practice's own user)."""
    users = db.session.scalars(
        select(User)
        .where(User.organization_id == actor.organization_id, User.active, User.role.in_(list(STAFF_ROLES)))
        .order_by(User.name)
    ).all()
    # One query for who serves the practice (practice_ids_for per user cost one query per person on every page).
    serving = set(
        db.session.scalars(select(user_practices.c.user_id).where(user_practices.c.practice_id == item.practice_id))
    )
    return [u for u in users if sees_whole_organization(u.role) or u.id in serving]


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)  # SQLite aggregates bypass the column type
