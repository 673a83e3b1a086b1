"""The scheduled sweeps against the real database and Redis: what each one changes, and that a second run
changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rq.executions import Execution
from sqlalchemy import func, select

from backoffice.automation import runner
from backoffice.claims.models import Claim, ClaimLine
from backoffice.extensions import db
from backoffice.patients.models import Authorization
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.sweeps import services as sweeps
from backoffice.tasks import get_queue
from backoffice.work import chains, services
from backoffice.work.models import Interaction, KpiSnapshot, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f
from tests.factories import NOW  # Wed 2026-11-18 15:00 UTC, 10:00 in New York


def _count(model: type, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _log(item: WorkItem, kind: InteractionKind | None = None) -> list[str]:
    query = select(Interaction.body).where(Interaction.work_item_id == item.id).order_by(Interaction.id)
    if kind is not None:
        query = query.where(Interaction.kind == kind)
    return list(db.session.scalars(query))


def _utc(y: int, m: int, d: int, h: int = 15) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=UTC)


@pytest.fixture
def world(ctx) -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org)  # commercial, 90-day filing limit
    return {"org": org, "practice": practice, "payer": payer, "provider": f.make_provider(practice),
            "patient": f.make_patient(practice, payer)}  # fmt: skip


def make_claim(world: dict[str, Any], *, dos: date, charge: str = "150.00", status: str = "accepted",
               session_id: int | None = None, payer: Any = None, **kw: Any) -> Claim:  # fmt: skip
    """A claim with one 90837 line on ``dos``."""
    claim = Claim(
        practice_id=world["practice"].id, patient_id=world["patient"].id, payer_id=(payer or world["payer"]).id,
        session_id=session_id, account_number=f"CLM{f._n()}", status=status, total_charge=Decimal(charge),
        created_at=kw.pop("created_at", _utc(dos.year, dos.month, dos.day)), **kw,
    )  # fmt: skip
    claim.lines.append(ClaimLine(line_number=1, date_of_service=dos, cpt="90837", place_of_service="11",
                                 charge=Decimal(charge)))  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def post_payment(world: dict[str, Any], claim: Claim, paid: str) -> None:
    remittance = Remittance(organization_id=world["org"].id, payer_identifier="P1", payer_name="Payer",
                            trace_number=f"T{f._n()}", payment_method="ACH", total_paid=Decimal(paid),
                            transaction_control_number="0001", posted_at=NOW)  # fmt: skip
    db.session.add(remittance)
    db.session.flush()
    db.session.add(ClaimPayment(remittance_id=remittance.id, claim_id=claim.id, account_number=claim.account_number,
                                status_code="1", charge=claim.total_charge, paid=Decimal(paid),
                                patient_responsibility=Decimal("0")))  # fmt: skip
    db.session.commit()


# --- 1. SLA sweep ---


def test_sla_sweep_escalates_each_breached_item_once_and_counts_per_practice(world) -> None:
    other = f.make_practice(world["org"])
    breached = f.make_ready_items(world["practice"], 2, now=NOW - timedelta(days=5))
    elsewhere = f.make_ready_items(other, 1, now=NOW - timedelta(days=5))
    fresh = f.make_ready_items(world["practice"], 1, now=NOW)
    capped = f.make_ready_items(world["practice"], 1, now=NOW - timedelta(days=5))[0]
    capped.priority = 980
    done = f.make_ready_items(world["practice"], 1, now=NOW - timedelta(days=5))[0]
    done.state = ItemState.DONE
    db.session.commit()

    result = sweeps.sweep_sla(now=NOW)

    assert result == {"escalated": 4, "by_practice": {world["practice"].id: 3, other.id: 1}}
    db.session.expire_all()
    for item in [*breached, *elsewhere]:
        assert item.escalated_at == NOW
        assert item.priority == 50
        # Ready Fri 11-13 10:00 New York, 2 business days → Tue 11-17 17:00 EST.
        assert _log(item, InteractionKind.ESCALATION) == ["SLA breached: due 2026-11-17 17:00 EST"]
    assert capped.priority == 1000
    assert fresh[0].escalated_at is None and fresh[0].priority == 0
    assert done.escalated_at is None
    before = _count(Interaction)
    assert sweeps.sweep_sla(now=NOW + timedelta(hours=1)) == {"escalated": 0, "by_practice": {}}
    assert _count(Interaction) == before


# --- 2. follow-ups ---


def test_the_chain_follow_up_becomes_an_automated_status_request_after_the_response_window(world, redis_conn) -> None:
    session = f.make_session(world["practice"], world["provider"], world["patient"])
    chain = chains.create_chain(session=session, kinds=["submit", "follow_up"], now=_utc(2026, 10, 15))
    claim = make_claim(world, dos=date(2026, 10, 13), session_id=session.id, submitted_at=_utc(2026, 10, 15),
                       accepted_at=_utc(2026, 10, 16))  # fmt: skip
    # Submitted Thu 10-15: +30 days is Sat 11-14, so the first check is Mon 11-16.
    assert sweeps.generate_follow_ups(now=_utc(2026, 11, 13)) == {
        "acknowledgments_missing": 0, "status_requests": 0, "calls": 0, "escalated": 0}  # fmt: skip

    assert sweeps.generate_follow_ups(now=NOW)["status_requests"] == 1

    follow_up = db.session.get(WorkItem, chain[1].id, populate_existing=True)
    assert (follow_up.state, follow_up.mode, follow_up.claim_id) == (ItemState.READY, Mode.AUTOMATED, claim.id)
    assert follow_up.result["follow_up_check"] == 1
    assert "no 835 34 days after submission" in _log(follow_up)[-1]
    assert len(get_queue("default", redis_conn).get_jobs()) == 1
    before = _count(Interaction)
    assert sweeps.generate_follow_ups(now=NOW)["status_requests"] == 0
    assert _count(WorkItem) == 2 and _count(Interaction) == before


def test_a_claim_still_unpaid_after_the_status_request_gets_a_call_item(world) -> None:
    claim = make_claim(world, dos=date(2026, 10, 13), submitted_at=_utc(2026, 10, 15), accepted_at=_utc(2026, 10, 16))
    assert sweeps.generate_follow_ups(now=NOW)["status_requests"] == 1
    request = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"claim:{claim.id}:follow_up:1"))
    assert (request.mode, request.state, request.kind) == (Mode.AUTOMATED, ItemState.READY, "follow_up")
    # While the request has not run, a later check waits for it.
    assert sweeps.generate_follow_ups(now=_utc(2026, 12, 2))["calls"] == 0
    services.complete_item(item=request, actor=None, actor_label="worker:follow_up", now=_utc(2026, 11, 19))

    # Second check: 11-14 + 14 = Sat 11-28 → Mon 11-30.
    assert sweeps.generate_follow_ups(now=_utc(2026, 11, 27))["calls"] == 0
    assert sweeps.generate_follow_ups(now=_utc(2026, 12, 2))["calls"] == 1
    call = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"claim:{claim.id}:follow_up:2"))
    assert (call.mode, call.state, call.queue, call.claim_id) == (Mode.MANUAL, ItemState.READY, "follow-up", claim.id)
    assert f"call the payer about claim {claim.account_number}" in _log(call)[0]
    assert sweeps.generate_follow_ups(now=_utc(2026, 12, 2))["calls"] == 0


def test_paid_and_unanswered_claims(world) -> None:
    paid = make_claim(world, dos=date(2026, 9, 1), submitted_at=_utc(2026, 9, 2), accepted_at=_utc(2026, 9, 3))
    post_payment(world, paid, "0.00")  # even a $0 (denied) 835 answers the claim
    silent = make_claim(world, dos=date(2026, 11, 13), status="submitted", submitted_at=_utc(2026, 11, 16))
    # Submitted Mon 11-16: the 999/277CA is due by Wed 11-18; missing from Thu.
    assert sweeps.generate_follow_ups(now=NOW) == {
        "acknowledgments_missing": 0, "status_requests": 0, "calls": 0, "escalated": 0}  # fmt: skip
    assert sweeps.generate_follow_ups(now=_utc(2026, 11, 19))["acknowledgments_missing"] == 1
    item = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == silent.id))
    assert item.dedupe_key == f"claim:{silent.id}:ack" and item.mode == Mode.MANUAL
    assert f"no 999/277CA acknowledgment for claim {silent.account_number} by 2026-11-18" in _log(item)[0]
    assert sweeps.generate_follow_ups(now=_utc(2026, 11, 20))["acknowledgments_missing"] == 0
    assert _count(WorkItem) == 1


def test_an_unpaid_claim_escalates_at_60_days(world) -> None:
    claim = make_claim(world, dos=date(2026, 9, 10), submitted_at=_utc(2026, 9, 14), accepted_at=_utc(2026, 9, 15))
    assert sweeps.generate_follow_ups(now=NOW) == {
        "acknowledgments_missing": 0, "status_requests": 1, "calls": 0, "escalated": 1}  # fmt: skip
    item = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == claim.id))
    # 10-14, 10-28 and 11-12 (11-11 is Veterans Day) were due: the late first sweep starts with the 276.
    assert item.dedupe_key == f"claim:{claim.id}:follow_up:3"
    assert item.escalated_at == NOW and item.priority == 50
    assert _log(item, InteractionKind.ESCALATION) == ["Unpaid 65 days after submission on 2026-09-14"]
    assert sweeps.generate_follow_ups(now=NOW)["escalated"] == 0


# --- 3. timely-filing guard ---


def test_open_work_on_charges_near_the_filing_deadline_jumps_to_the_top(world) -> None:
    near = f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=date(2026, 9, 1))
    far = f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=date(2026, 11, 10))
    billed = f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=date(2026, 9, 1))
    rejected = f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=date(2026, 9, 2))
    items = {s.id: chains.create_chain(session=s, kinds=["enter_charge"], now=NOW)[0]
             for s in (near, far, billed)}  # fmt: skip
    make_claim(world, dos=billed.date_of_service, session_id=billed.id, status="submitted")
    bounced = make_claim(world, dos=rejected.date_of_service, session_id=rejected.id, status="rejected")
    fix, _ = chains.add_item(practice_id=world["practice"].id, kind="fix_rejection", claim_id=bounced.id, now=NOW,
                               reason="999 rejected")  # fmt: skip
    db.session.commit()

    # 90 days from 09-01 is Mon 11-30: 12 days left on 11-18, past the 14-day threshold.
    result = sweeps.guard_timely_filing(now=NOW)
    assert result == {"sessions_near_deadline": 2, "items_raised": 2, "alerts_logged": 2,
                      "sessions_without_open_items": 0}  # fmt: skip
    db.session.expire_all()
    assert items[near.id].priority == 988
    assert _log(items[near.id], InteractionKind.AUTOMATION) == ["Timely filing: 12 days left (deadline 2026-11-30)"]
    assert fix.priority == 987  # 09-02 + 90 = Tue 12-01
    assert items[far.id].priority == 0 and items[billed.id].priority == 0
    assert sweeps.guard_timely_filing(now=NOW)["items_raised"] == 0

    # Next day: one day closer, same threshold, so no new log row; 7 days left crosses the next one.
    assert sweeps.guard_timely_filing(now=NOW + timedelta(days=1))["alerts_logged"] == 0
    assert items[near.id].priority == 989
    assert sweeps.guard_timely_filing(now=_utc(2026, 11, 23))["alerts_logged"] == 1  # the 12-01 one has 8 left
    assert _log(items[near.id], InteractionKind.AUTOMATION)[-1] == "Timely filing: 7 days left (deadline 2026-11-30)"


def test_medicare_charges_use_twelve_months_and_the_claim_payer(world) -> None:
    medicare = f.make_payer(world["org"], kind="medicare", filing_limit_days=365)
    session = f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=date(2025, 12, 1))
    claim = make_claim(world, dos=session.date_of_service, session_id=session.id, status="draft", payer=medicare)
    item, _ = chains.add_item(practice_id=world["practice"].id, kind="audit", claim_id=claim.id, now=NOW,
                                reason="scrub")  # fmt: skip
    db.session.commit()
    sweeps.guard_timely_filing(now=NOW)
    db.session.refresh(item)
    # 2025-12-01 + 12 months = Tue 2026-12-01: 13 days left.
    assert item.priority == 987
    assert _log(item, InteractionKind.AUTOMATION) == ["Timely filing: 13 days left (deadline 2026-12-01)"]


# --- 4. authorization watch ---


def make_auth(world: dict[str, Any], **kw: Any) -> Authorization:
    values = {"patient_id": world["patient"].id, "payer_id": world["payer"].id, "number": "AUTH-77",
              "cpt_codes": ["90837"], "authorized": 10, "used": 8, "start_date": date(2026, 8, 1),
              "end_date": date(2027, 3, 31)} | kw  # fmt: skip
    auth = Authorization(**values)
    db.session.add(auth)
    db.session.commit()
    return auth


def weekly_sessions(world: dict[str, Any], days: list[date], **kw: Any) -> None:
    for day in days:
        f.make_session(world["practice"], world["provider"], world["patient"], date_of_service=day, **kw)


def test_an_authorization_forecast_to_run_out_gets_a_reauthorize_item(world) -> None:
    auth = make_auth(world)
    weekly_sessions(world, [date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 4), date(2026, 11, 11),
                            date(2026, 11, 25)])  # fmt: skip
    weekly_sessions(world, [date(2026, 11, 12), date(2026, 11, 13)], auth_number="OTHER-1")  # another auth's
    other_patient = f.make_patient(world["practice"], world["payer"])
    healthy = make_auth(world, number="AUTH-88", authorized=40, used=2, patient_id=other_patient.id)

    assert sweeps.watch_authorizations(now=NOW) == {"authorizations_due": 1, "items_created": 1}

    item = db.session.scalar(select(WorkItem).where(WorkItem.authorization_id == auth.id))
    assert (item.kind, item.queue, item.mode) == ("reauthorize", "authorization", Mode.MANUAL)
    assert item.dedupe_key == f"auth:{auth.id}:2027-03-31"
    # 2 left at 1/week: the scheduled 11-25 session, then one more a week later (12-02); due 14 days before → today.
    assert _log(item)[0] == ("Re-authorize: authorization AUTH-77 forecast to run out 2026-12-02 "
                             "(8 of 10 used, 1 scheduled, ~1/week)")  # fmt: skip
    assert item.due_at == datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    assert _count(WorkItem, WorkItem.authorization_id == healthy.id) == 0
    assert sweeps.watch_authorizations(now=NOW) == {"authorizations_due": 1, "items_created": 0}
    assert _count(WorkItem) == 1


def test_an_authorization_near_its_end_date_gets_an_item_due_today(world) -> None:
    auth = make_auth(world, end_date=date(2026, 11, 30), used=0)
    assert sweeps.watch_authorizations(now=NOW)["items_created"] == 1
    item = db.session.scalar(select(WorkItem).where(WorkItem.authorization_id == auth.id))
    assert "authorization AUTH-77 expires 2026-11-30 (0 of 10 used)" in _log(item)[0]
    assert item.due_at == datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    # Extended: a new end date is a new re-authorization.
    auth.end_date = date(2026, 12, 1)
    db.session.commit()
    assert sweeps.watch_authorizations(now=NOW)["items_created"] == 1


def test_no_item_when_the_next_authorization_is_already_on_file(world) -> None:
    make_auth(world, end_date=date(2026, 11, 30), used=0)
    make_auth(world, number="AUTH-78", start_date=date(2026, 12, 1), end_date=date(2027, 5, 31), used=0)
    assert sweeps.watch_authorizations(now=NOW) == {"authorizations_due": 0, "items_created": 0}


# --- 5. KPI snapshot ---


def test_kpi_snapshot_figures_by_hand(world) -> None:
    w = world
    make_claim(w, dos=date(2026, 11, 10), charge="150.00", status="accepted",
               submitted_at=_utc(2026, 11, 11), accepted_at=_utc(2026, 11, 12))  # fmt: skip
    make_claim(w, dos=date(2026, 9, 30), charge="200.00", status="partially_paid", paid_amount=Decimal("100.00"),
               adjustment_amount=Decimal("24.50"), submitted_at=_utc(2026, 10, 1), accepted_at=_utc(2026, 10, 2),
               created_at=_utc(2026, 10, 1))  # fmt: skip
    make_claim(w, dos=date(2026, 6, 1), charge="100.00", status="denied", patient_responsibility=Decimal("80.00"),
               submitted_at=_utc(2026, 6, 5), accepted_at=_utc(2026, 6, 6),
               adjudicated_at=_utc(2026, 11, 10))  # fmt: skip
    make_claim(w, dos=date(2026, 10, 24), charge="120.00", status="paid", paid_amount=Decimal("120.00"),
               submitted_at=_utc(2026, 10, 25), accepted_at=_utc(2026, 10, 26),
               adjudicated_at=_utc(2026, 11, 5))  # fmt: skip
    make_claim(w, dos=date(2026, 11, 14), charge="100.00", status="rejected", submitted_at=_utc(2026, 11, 16))
    make_claim(w, dos=date(2026, 11, 17), charge="130.00", status="submitted", submitted_at=_utc(2026, 11, 18, 12))
    items = f.make_ready_items(w["practice"], 3, now=NOW - timedelta(days=3))
    services.complete_item(item=items[0], actor=None, actor_label="test", now=NOW)

    assert sweeps.snapshot_kpis(now=NOW) == {"created": 1, "updated": 0}

    snapshot = db.session.scalar(select(KpiSnapshot))
    assert (snapshot.practice_id, snapshot.day) == (w["practice"].id, date(2026, 11, 18))
    assert snapshot.figures == {
        # open balances: 150 + 130 (0-30), 200-100-24.50 (49 days old), 100-80 (170 days old)
        "aging": {"0-30": "280.00", "31-60": "75.50", "61-90": "0.00", "91-120": "0.00", "120+": "20.00"},
        "total_ar": "375.50",
        "claims_submitted": 1,
        "claims_submitted_window": 4,
        "clean_claim_rate": "66.7",  # 2 accepted first time of 3 answered (the 11-18 one is pending)
        "denial_rate": "50.0",  # 1 denied of 2 adjudicated
        "gross_charges_90d": "700.00",  # all but the June claim
        "days_in_ar": "48.3",  # 375.50 / (700 / 90)
        "open_items": 2,
        "breached_items": 2,
        "items_done_today": 1,
        "window_days": 30,
    }
    assert sweeps.snapshot_kpis(now=NOW) == {"created": 0, "updated": 0}
    services.complete_item(item=items[1], actor=None, actor_label="test", now=NOW + timedelta(hours=1))
    assert sweeps.snapshot_kpis(now=NOW + timedelta(hours=1)) == {"created": 0, "updated": 1}
    assert db.session.scalar(select(KpiSnapshot)).figures["items_done_today"] == 2
    assert sweeps.snapshot_kpis(now=NOW + timedelta(days=1))["created"] == 1
    assert _count(KpiSnapshot) == 2


# --- 6. requeue ---


def test_requeue_puts_back_the_jobs_lost_with_redis(world, redis_conn) -> None:
    session = f.make_session(world["practice"], world["provider"], world["patient"])
    item = chains.open_item(practice_id=world["practice"].id, kind="verify_benefits", session_id=session.id,
                              now=NOW - timedelta(minutes=10), reason="270", mode=Mode.AUTOMATED)  # fmt: skip
    queue = get_queue("default", redis_conn)
    assert [job.args for job in queue.get_jobs()] == [[item.id]]
    assert sweeps.requeue_orphaned_items(now=NOW) == {"checked": 1, "requeued": 0}

    redis_conn.flushdb()  # the outage
    assert sweeps.requeue_orphaned_items(now=NOW) == {"checked": 1, "requeued": 1}

    jobs = queue.get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [(runner.AUTOMATION_JOB, [item.id])]
    assert _log(item, InteractionKind.AUTOMATION) == ["re-enqueued: no job found"]
    assert sweeps.requeue_orphaned_items(now=NOW) == {"checked": 1, "requeued": 0}


def test_requeue_leaves_fresh_and_scheduled_items_alone(world, redis_conn) -> None:
    session = f.make_session(world["practice"], world["provider"], world["patient"])
    item = chains.open_item(practice_id=world["practice"].id, kind="verify_benefits", session_id=session.id,
                              now=NOW - timedelta(minutes=1), reason="270", mode=Mode.AUTOMATED)  # fmt: skip
    redis_conn.flushdb()
    assert sweeps.requeue_orphaned_items(now=NOW) == {"checked": 0, "requeued": 0}  # ready for only a minute
    get_queue("high", redis_conn).enqueue_in(timedelta(minutes=5), runner.AUTOMATION_JOB, item.id)  # a retry
    assert sweeps.requeue_orphaned_items(now=NOW + timedelta(minutes=5)) == {"checked": 1, "requeued": 0}
    redis_conn.flushdb()
    get_queue("default", redis_conn).enqueue(runner.AUTOMATION_BATCH_JOB, item.id - 1, item.id)  # in a batch job
    assert sweeps.requeue_orphaned_items(now=NOW + timedelta(minutes=5)) == {"checked": 1, "requeued": 0}
    redis_conn.flushdb()
    item.attempts = 5  # failed five times: people look at it (the automation page), the sweeper stops
    db.session.commit()
    assert sweeps.requeue_orphaned_items(now=NOW + timedelta(minutes=5)) == {"checked": 0, "requeued": 0}


def test_requeue_leaves_items_whose_job_a_worker_is_running(world, redis_conn) -> None:
    session = f.make_session(world["practice"], world["provider"], world["patient"])
    item = chains.open_item(practice_id=world["practice"].id, kind="verify_benefits", session_id=session.id,
                              now=NOW - timedelta(minutes=10), reason="270", mode=Mode.AUTOMATED)  # fmt: skip
    queue = get_queue("default", redis_conn)
    job = queue.get_jobs()[0]
    queue.remove(job)  # what a worker does when it picks the job up ...
    with redis_conn.pipeline() as pipe:
        Execution.create(job, ttl=600, pipeline=pipe)  # ... and it records the execution as started
        pipe.execute()
    assert queue.started_job_registry.get_job_ids(cleanup=False) == [job.id]
    assert sweeps.requeue_orphaned_items(now=NOW) == {"checked": 1, "requeued": 0}
    assert queue.get_jobs() == []
    assert item.id in sweeps._item_ids_in_redis(redis_conn)
