"""Work-item services: chains, claiming, transitions, ownership, and the interaction log they write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, text

from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.work import chains, claiming, services
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import InteractionKind, ItemState
from tests import factories as f
from tests.factories import NOW

CHAIN = ["verify_benefits", "enter_charge", "audit", "submit"]


@pytest.fixture
def world(ctx):
    org = f.make_org()
    practice = f.make_practice(org)
    other_practice = f.make_practice(org)
    return {
        "org": org,
        "practice": practice,
        "other_practice": other_practice,
        "biller": f.make_user(org, practices=[practice]),
        "biller2": f.make_user(org, practices=[practice]),
        "outsider": f.make_user(org, practices=[other_practice]),
        "supervisor": f.make_user(org, role="supervisor"),
    }


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_chain_makes_the_first_step_ready_with_an_sla_and_blocks_the_rest(world) -> None:
    session = f.make_session(world["practice"])
    chain = chains.create_chain(session=session, kinds=CHAIN, now=NOW)
    assert [i.kind for i in chain] == CHAIN
    assert [i.state for i in chain] == [ItemState.READY] + [ItemState.BLOCKED] * 3
    # Ready Wed 2026-11-18 10:00 New York; verify_benefits = 2 business days → Fri 17:00 EST = 22:00 UTC.
    assert chain[0].due_at == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
    assert chain[0].sla_policy == "default:verify_benefits:2bd"
    assert all(i.due_at is None for i in chain[1:])
    deps = {(d.item_id, d.depends_on_id) for d in db.session.scalars(select(WorkItemDependency))}
    assert deps == {(chain[1].id, chain[0].id), (chain[2].id, chain[1].id), (chain[3].id, chain[2].id)}
    assert _count(Interaction) == 4


def test_create_chain_is_idempotent(world) -> None:
    session = f.make_session(world["practice"])
    first = chains.create_chain(session=session, kinds=CHAIN, now=NOW)
    again = chains.create_chain(session=session, kinds=CHAIN, now=NOW + timedelta(hours=1))
    assert [i.id for i in again] == [i.id for i in first]
    assert _count(WorkItem) == 4
    assert _count(Interaction) == 4


def test_create_chain_refuses_unknown_kinds_and_writes_nothing(world) -> None:
    session = f.make_session(world["practice"])
    with pytest.raises(ValidationFailed, match="unknown work kind"):
        chains.create_chain(session=session, kinds=["verify_benefits", "make_coffee"], now=NOW)
    assert _count(WorkItem) == 0


def test_practice_sla_override_sets_the_due_date_and_names_the_policy(world) -> None:
    practice = f.make_practice(world["org"], sla_overrides={"verify_benefits": 5})
    chain = chains.create_chain(session=f.make_session(practice), kinds=["verify_benefits"], now=NOW)
    # 5 business days after Wed 11/18, skipping the weekend and Thanksgiving (Thu 11/26): Wed 11/25.
    assert chain[0].due_at == datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert chain[0].sla_policy == "practice:verify_benefits:5bd"


def test_completing_a_step_releases_the_next_with_its_own_sla(world) -> None:
    chain = chains.create_chain(session=f.make_session(world["practice"]), kinds=CHAIN, now=NOW)
    later = NOW + timedelta(hours=3)
    released = services.complete_item(item=chain[0], actor=world["biller"], now=later)
    assert [i.id for i in released] == [chain[1].id]
    db.session.refresh(chain[1])
    assert chain[0].state == ItemState.DONE and chain[0].assignee_id == world["biller"].id
    assert chain[1].state == ItemState.READY
    assert chain[1].due_at == datetime(2026, 11, 19, 22, 0, tzinfo=UTC)  # enter_charge: 1 business day
    assert chain[2].state == ItemState.BLOCKED
    log = db.session.scalars(
        select(Interaction).where(Interaction.work_item_id == chain[1].id).order_by(Interaction.id)
    ).all()
    assert [(e.from_state, e.to_state) for e in log] == [(None, "blocked"), ("blocked", "ready")]


def test_claim_next_takes_highest_priority_then_soonest_due(world) -> None:
    practice = world["practice"]
    late, soon, urgent = f.make_ready_items(practice, 3)
    late.due_at, soon.due_at, urgent.due_at = NOW + timedelta(days=3), NOW + timedelta(hours=2), NOW + timedelta(days=9)
    urgent.priority = 60
    db.session.commit()
    order = [claiming.claim_next_item(user=world["biller"], now=NOW).id for _ in range(3)]
    assert order == [urgent.id, soon.id, late.id]
    assert claiming.claim_next_item(user=world["biller"], now=NOW) is None


def test_claim_next_starts_the_item_and_logs_the_assignment(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    biller = world["biller"]
    claimed = claiming.claim_next_item(user=biller, now=NOW + timedelta(minutes=5))
    assert claimed.id == item.id
    assert claimed.state == ItemState.IN_PROGRESS and claimed.assignee_id == biller.id
    assert claimed.started_at == claimed.updated_at == NOW + timedelta(minutes=5)
    db.session.expire_all()  # what was committed, not what the session remembers
    stored = db.session.get(WorkItem, item.id)
    assert (stored.state, stored.assignee_id, stored.started_at) == (
        ItemState.IN_PROGRESS,
        biller.id,
        claimed.started_at,
    )
    # Exactly one log row, written in the claim's own transaction (one statement on PostgreSQL), complete.
    logged = select(Interaction).where(Interaction.work_item_id == item.id, Interaction.kind == "assignment")
    (entry,) = db.session.scalars(logged).all()
    assert (entry.kind, entry.practice_id, entry.session_id, entry.claim_id) == (
        InteractionKind.ASSIGNMENT, item.practice_id, item.session_id, item.claim_id,
    )  # fmt: skip
    assert (entry.actor_user_id, entry.actor_label, entry.at) == (biller.id, biller.name, NOW + timedelta(minutes=5))
    assert (entry.from_state, entry.to_state, entry.body) == ("ready", "in_progress", "Claimed with Get next")
    assert entry.data == {"assignee_id": biller.id, "reason": "get_next"}


def test_claim_next_returns_none_and_writes_nothing_when_the_queue_is_empty(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    assert claiming.claim_next_item(user=world["biller"], now=NOW).id == item.id
    before = _count(Interaction)
    assert claiming.claim_next_item(user=world["biller"], now=NOW) is None
    assert _count(Interaction) == before


@pytest.mark.postgres
def test_a_claim_alone_skips_the_wal_flush_and_other_writes_keep_it(world, monkeypatch) -> None:
    """Get next commits with synchronous_commit off for its own transaction only (ARCHITECTURE: a claim lost in
    a crash only puts the item back in its queue); the setting does not leak into the next transaction."""
    f.make_ready_items(world["practice"], 1)
    seen: list[str] = []
    commit = db.session.commit

    def spy() -> None:
        seen.append(db.session.scalar(text("SHOW synchronous_commit")))
        commit()

    monkeypatch.setattr(db.session, "commit", spy)
    db.session.scalar(text("SELECT 1"))  # a transaction is open: the claim joins it
    assert claiming.claim_next_item(user=world["biller"], now=NOW) is not None
    assert seen == ["off"]
    assert db.session.scalar(text("SHOW synchronous_commit")) == "on"


@pytest.mark.postgres
def test_a_claim_with_no_transaction_open_is_its_own_transaction_with_the_lazy_flush(world) -> None:
    """With nothing open, the claim runs in autocommit: one statement, no BEGIN/COMMIT around it, and its
    ``set_config(..., true)`` holds until that statement's implicit transaction commits, then is gone."""
    f.make_ready_items(world["practice"], 1)
    db.session.commit()
    seen: list[tuple[bool, str]] = []

    def record(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        raw = conn.connection.dbapi_connection
        seen.append((raw.autocommit and raw.info.transaction_status == raw.info.transaction_status.IDLE, statement))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert claiming.claim_next_item(user=world["biller"], now=NOW) is not None
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 1
    alone, statement = seen[0]
    assert alone and "set_config('synchronous_commit', 'off', true)" in statement
    assert db.session.scalar(text("SHOW synchronous_commit")) == "on"


def test_claim_next_never_crosses_practices(world) -> None:
    f.make_ready_items(world["practice"], 2)
    assert claiming.claim_next_item(user=world["outsider"], now=NOW) is None


def test_claim_next_skips_other_billers_items_and_automated_items(world) -> None:
    mine, theirs = f.make_ready_items(world["practice"], 2)
    theirs.assignee_id = world["biller2"].id
    db.session.commit()
    session = f.make_session(world["practice"])
    chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    assert claiming.claim_next_item(user=world["biller"], now=NOW).id == mine.id
    assert claiming.claim_next_item(user=world["biller"], now=NOW) is None


def test_claim_next_respects_the_billers_queues(world) -> None:
    org, practice = world["org"], world["practice"]
    coder = f.make_user(org, practices=[practice], queues=["coding"])
    f.make_ready_items(practice, 1, kind="verify_benefits")
    (audit,) = f.make_ready_items(practice, 1, kind="audit")
    assert claiming.claim_next_item(user=coder, now=NOW).id == audit.id
    assert claiming.claim_next_item(user=coder, now=NOW) is None
    assert claiming.claim_next_item(user=coder, now=NOW, queue="eligibility") is not None


def test_snoozed_items_come_back_only_when_their_time_comes(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.start_item(item=item, actor=world["biller"], now=NOW)
    services.snooze_item(
        item=item, actor=world["biller"], now=NOW, until=NOW + timedelta(days=1), reason="payer calls back"
    )
    assert item.state == ItemState.SNOOZED
    assert claiming.claim_next_item(user=world["biller"], now=NOW + timedelta(hours=23)) is None
    assert claiming.claim_next_item(user=world["biller"], now=NOW + timedelta(days=1)).id == item.id


def test_snooze_needs_a_future_time_within_90_days_and_a_reason(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    with pytest.raises(ValidationFailed, match="future"):
        services.snooze_item(item=item, actor=world["biller"], now=NOW, until=NOW, reason="x")
    with pytest.raises(ValidationFailed, match="90 days"):
        services.snooze_item(item=item, actor=world["biller"], now=NOW, until=NOW + timedelta(days=91), reason="x")
    with pytest.raises(ValidationFailed, match="reason"):
        services.snooze_item(item=item, actor=world["biller"], now=NOW, until=NOW + timedelta(days=1), reason=" ")


def test_a_biller_cannot_work_someone_elses_item(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.start_item(item=item, actor=world["biller"], now=NOW)
    with pytest.raises(NotAllowed):
        services.complete_item(item=item, actor=world["biller2"], now=NOW)
    with pytest.raises(NotAllowed):
        services.start_item(item=item, actor=world["biller2"], now=NOW)
    assert item.state == ItemState.IN_PROGRESS


def test_done_items_cannot_be_completed_again(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.complete_item(item=item, actor=world["biller"], now=NOW)
    with pytest.raises(InvalidTransition, match="done"):
        services.complete_item(item=item, actor=world["biller"], now=NOW)


def test_a_stale_copy_loses_to_the_committed_change(world, app) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    item_id, biller_id = item.id, world["biller"].id
    with app.app_context():  # a second, independent session completes it first
        other = db.session.get(WorkItem, item_id)
        services.complete_item(item=other, actor=db.session.get(type(world["biller"]), biller_id), now=NOW)
    with pytest.raises(Conflict):
        services.snooze_item(item=item, actor=world["biller"], now=NOW, until=NOW + timedelta(days=1), reason="x")


def test_escalation_raises_priority_and_is_logged_with_its_reason(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.escalate_item(item=item, actor=world["biller"], now=NOW, reason="payer keeps losing the claim")
    assert item.priority == 50 and item.escalated_at == NOW
    entry = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ESCALATION)).one()
    assert entry.body == "payer keeps losing the claim"


def test_only_supervisors_reassign_and_only_to_people_serving_the_practice(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.start_item(item=item, actor=world["biller"], now=NOW)
    with pytest.raises(NotAllowed):
        services.reassign_item(item=item, actor=world["biller2"], now=NOW, assignee=world["biller2"], reason="mine now")
    with pytest.raises(ValidationFailed, match="does not serve"):
        services.reassign_item(item=item, actor=world["supervisor"], now=NOW, assignee=world["outsider"], reason="x")
    services.reassign_item(
        item=item, actor=world["supervisor"], now=NOW, assignee=world["biller2"], reason="biller out sick"
    )
    assert item.assignee_id == world["biller2"].id
    assert item.state == ItemState.READY  # the new owner starts it
    entry = db.session.scalars(
        select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT).order_by(Interaction.id.desc())
    ).first()
    assert entry.data == {
        "from_user_id": world["biller"].id,
        "to_user_id": world["biller2"].id,
        "reason": "biller out sick",
    }


def test_a_biller_may_release_their_own_item_to_the_queue(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    services.start_item(item=item, actor=world["biller"], now=NOW)
    services.reassign_item(item=item, actor=world["biller"], now=NOW, assignee=None, reason="needs coding skills")
    assert item.assignee_id is None and item.state == ItemState.READY


def test_log_call_records_the_structured_fields(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    payer = f.make_payer(world["org"])
    row = services.log_call(
        item=item,
        actor=world["biller"],
        now=NOW,
        outcome="in_process",
        payer_id=payer.id,
        phone_line="provider services",
        representative="Luis",
        reference_number="A1B2C3",
        next_action="call back in 14 days",
        duration_minutes=18,
        body="claim on file",
    )
    assert (row.kind, row.payer_id, row.representative, row.reference_number, row.outcome, row.duration_minutes) == (
        InteractionKind.CALL,
        payer.id,
        "Luis",
        "A1B2C3",
        "in_process",
        18,
    )
    assert row.session_id == item.session_id  # shows on the whole chain's timeline


def test_log_call_rejects_a_missing_representative_and_bad_outcomes(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    with pytest.raises(ValidationFailed, match="representative"):
        services.log_call(item=item, actor=world["biller"], now=NOW, outcome="in_process")
    with pytest.raises(ValidationFailed, match="outcome"):
        services.log_call(item=item, actor=world["biller"], now=NOW, outcome="great", representative="A")
    services.log_call(item=item, actor=world["biller"], now=NOW, outcome="voicemail")  # no rep on voicemail
    assert _count(Interaction) == 2  # the planning row and the voicemail


def test_cancel_is_for_supervisors(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    with pytest.raises(NotAllowed):
        services.cancel_item(item=item, actor=world["biller"], now=NOW, reason="duplicate")
    services.cancel_item(item=item, actor=world["supervisor"], now=NOW, reason="duplicate session")
    assert item.state == ItemState.CANCELLED


def test_a_service_that_raises_leaves_no_partial_rows_and_no_job(world, monkeypatch, redis_conn) -> None:
    session = f.make_session(world["practice"])
    calls = {"n": 0}
    real = chains.record_interaction

    def fail_on_third(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(chains, "record_interaction", fail_on_third)
    with pytest.raises(RuntimeError):
        chains.create_chain(session=session, kinds=CHAIN, now=NOW, automated=["verify_benefits"])
    assert _count(WorkItem) == 0 and _count(Interaction) == 0 and _count(WorkItemDependency) == 0
    assert redis_conn.keys("rq:job:*") == []
    assert db.session.info.get("backoffice.pending_jobs") is None


def test_nobody_acts_on_another_organizations_work_even_through_the_services(world) -> None:
    (item,) = f.make_ready_items(world["practice"], 1)
    foreign_supervisor = f.make_user(f.make_org(), role="supervisor")
    for act in (
        lambda: services.complete_item(item=item, actor=foreign_supervisor, now=NOW),
        lambda: services.add_note(item=item, actor=foreign_supervisor, now=NOW, body="hello"),
        lambda: services.escalate_item(item=item, actor=foreign_supervisor, now=NOW, reason="x"),
        lambda: services.log_call(item=item, actor=foreign_supervisor, now=NOW, outcome="voicemail"),
        lambda: services.cancel_item(item=item, actor=foreign_supervisor, now=NOW, reason="x"),
    ):
        with pytest.raises(NotAllowed, match="not in your organization"):
            act()
    assert item.state == ItemState.READY
    assert _count(Interaction) == 1  # only the planning row


def test_snoozed_items_past_due_are_listed_as_breaches_too(world) -> None:
    """Issue 18: snoozing never stops the SLA; a snoozed item 10 days overdue is breached on every list."""
    from backoffice.work import queries

    overdue, parked = f.make_ready_items(world["practice"], 2)
    services.snooze_item(
        item=parked, actor=world["biller"], now=NOW, until=NOW + timedelta(days=30), reason="payer reprocessing"
    )
    later = NOW + timedelta(days=10)
    assert {i.id for i in queries.breached_items(world["supervisor"], later)} == {overdue.id, parked.id}
    (row,) = queries.queue_overview(world["supervisor"], later)
    assert (row.ready, row.snoozed, row.breached) == (1, 1, 2)
    workload = {r.user.id: r for r in queries.biller_workload(world["supervisor"], later, ZoneInfo("America/New_York"))}
    assert (workload[world["biller"].id].open, workload[world["biller"].id].breached) == (1, 1)
