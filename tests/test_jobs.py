"""Jobs reach Redis only after commit, carry only IDs, and automated steps run on a real RQ worker."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import select, update

from backoffice.automation import runner as work_jobs
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.tasks import QUEUE_NAMES, enqueue_after_commit, get_queue, jobs_run_inline, pending_jobs
from backoffice.work import chains
from backoffice.work import rules as work_rules
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f
from tests.factories import NOW
from tests.factories_edi_posting import make_claim


def _queued(redis_conn: Redis) -> list[str]:
    return [job.func_name for name in QUEUE_NAMES for job in get_queue(name, redis_conn).jobs]


def _automated_chain(ctx_practice, kinds=("verify_benefits", "enter_charge")):
    session = f.make_session(ctx_practice)
    return chains.create_chain(session=session, kinds=list(kinds), now=NOW, automated=kinds)


def _log(item_id: int) -> list[Interaction]:
    return list(db.session.scalars(select(Interaction).where(Interaction.work_item_id == item_id)))


def _work_off(redis_conn: Redis) -> None:
    queues = [get_queue(name, redis_conn) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def test_a_job_is_sent_only_when_the_transaction_commits(ctx, redis_conn) -> None:
    enqueue_after_commit("workers.jobs.run_automated_item", 41, organization_id=1)
    assert len(pending_jobs()) == 1
    assert _queued(redis_conn) == []
    db.session.commit()
    assert _queued(redis_conn) == ["workers.jobs.run_automated_item"]
    assert get_queue("default", redis_conn).jobs[0].args == [41]


def test_a_rolled_back_transaction_sends_nothing(ctx, redis_conn) -> None:
    enqueue_after_commit("workers.jobs.run_automated_item", 42, organization_id=1)
    db.session.rollback()
    assert pending_jobs() == []
    db.session.commit()
    assert _queued(redis_conn) == []


def test_jobs_run_inline_keeps_committed_jobs_out_of_redis_until_the_block_ends(ctx, redis_conn) -> None:
    with jobs_run_inline():
        enqueue_after_commit("workers.jobs.run_automated_item", 43, organization_id=1)
        db.session.commit()
        assert _queued(redis_conn) == [] and pending_jobs() == []  # the caller runs the step itself
    enqueue_after_commit("workers.jobs.run_automated_item", 44, organization_id=1)
    db.session.commit()
    assert [job.args for job in get_queue("default", redis_conn).jobs] == [[44]]


@pytest.mark.parametrize("bad", [{"patient": "Jane Doe"}, ["x"], 1.5, True])
def test_job_arguments_must_be_ids(ctx, bad) -> None:
    with pytest.raises(TypeError, match="IDs"):
        enqueue_after_commit("workers.jobs.run_automated_item", bad, organization_id=1)


def test_planning_an_automated_step_enqueues_its_job_after_commit(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    chain = _automated_chain(practice)
    jobs = get_queue("default", redis_conn).jobs
    assert [(j.func_name, j.args) for j in jobs] == [("workers.jobs.run_automated_item", [chain[0].id])]


def test_a_step_without_automation_becomes_a_manual_item_with_the_reason(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    first_id = _automated_chain(practice, kinds=("obtain_preauth",))[0].id  # prior auth is a phone call
    _work_off(redis_conn)  # the worker ends each job with a fresh session
    item = db.session.get(WorkItem, first_id)
    assert (item.mode, item.state, item.queue) == (Mode.MANUAL, ItemState.READY, "authorization")
    assert item.last_error == "no automated step exists for obtain_preauth"
    entry = db.session.scalars(
        select(Interaction).where(Interaction.work_item_id == item.id, Interaction.kind == InteractionKind.AUTOMATION)
    ).one()
    assert entry.actor_label == "worker:obtain_preauth" and entry.data["handed_over"] is True


def test_a_registered_step_completes_the_item_and_releases_the_next_automated_one(ctx, redis_conn, monkeypatch) -> None:
    seen: list[int] = []

    def step(item: WorkItem, now: datetime) -> dict:
        seen.append(item.id)
        return {"checked": True}

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    practice = f.make_practice(f.make_org())
    ids = [item.id for item in _automated_chain(practice)]
    _work_off(redis_conn)
    first, second = (db.session.get(WorkItem, item_id) for item_id in ids)
    assert seen == [first.id]
    assert first.state == ItemState.DONE and first.result == {"checked": True, "outcome": "resolved"}
    assert first.attempts == 1
    # enter_charge was released and enqueued after that commit, and its step ran (attempt recorded).
    assert second.state != ItemState.BLOCKED and second.attempts == 1


def test_running_the_same_job_twice_has_the_effect_of_once(ctx, redis_conn, monkeypatch) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", lambda item, now: {"checked": True})
    practice = f.make_practice(f.make_org())
    chain = _automated_chain(practice, kinds=("verify_benefits",))
    first = work_jobs.run_automated_item(chain[0].id, now=NOW)
    second = work_jobs.run_automated_item(chain[0].id, now=NOW)
    assert first["status"] == "done" and second == {"item_id": chain[0].id, "status": "skipped", "state": "done"}
    completions = db.session.scalars(
        select(Interaction).where(Interaction.work_item_id == chain[0].id, Interaction.to_state == "done")
    ).all()
    assert len(completions) == 1


def test_a_failing_step_records_the_attempt_without_the_message_and_raises_for_rq_retry(ctx, monkeypatch) -> None:
    def step(item: WorkItem, now: datetime) -> dict:
        raise ConnectionError("payer portal down for member 123456789")

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    practice = f.make_practice(f.make_org())
    chain = _automated_chain(practice, kinds=("verify_benefits",))
    with pytest.raises(ConnectionError):
        work_jobs.run_automated_item(chain[0].id, now=NOW)
    item = db.session.get(WorkItem, chain[0].id, populate_existing=True)
    assert (item.state, item.attempts, item.last_error) == (ItemState.READY, 1, "ConnectionError")
    logged = " ".join(e.body or "" for e in db.session.scalars(select(Interaction)))
    assert "123456789" not in logged


def test_a_step_that_needs_a_person_hands_over_with_its_evidence(ctx, monkeypatch) -> None:
    def step(item: WorkItem, now: datetime) -> dict:
        raise work_jobs.NeedsPerson("benefits are ambiguous", {"eb01": "U"})

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    practice = f.make_practice(f.make_org())
    chain = _automated_chain(practice, kinds=("verify_benefits",))
    assert work_jobs.run_automated_item(chain[0].id, now=NOW)["status"] == "handed_over"
    attempt, entry = db.session.scalars(
        select(Interaction).where(Interaction.kind == InteractionKind.AUTOMATION).order_by(Interaction.id)
    ).all()
    assert attempt.data["attempt"] == 1 and attempt.data["outcome"] == "needs a person"
    assert entry.data["evidence"] == {"eb01": "U"}
    assert entry.body == "Needs a person: benefits are ambiguous"


def _failing(item: WorkItem, now: datetime) -> dict:
    raise TimeoutError("clearinghouse timed out")


def test_a_step_failing_every_retry_is_handed_to_a_person_after_the_last_attempt(ctx, monkeypatch) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _failing)
    practice = f.make_practice(f.make_org())
    item_id = _automated_chain(practice, kinds=("verify_benefits",))[0].id
    for _ in range(work_jobs.MAX_ATTEMPTS - 1):
        with pytest.raises(TimeoutError):
            work_jobs.run_automated_item(item_id, now=NOW)
    assert work_jobs.run_automated_item(item_id, now=NOW)["status"] == "handed_over"
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert (item.mode, item.state, item.attempts) == (Mode.MANUAL, ItemState.READY, work_jobs.MAX_ATTEMPTS)
    assert "retries exhausted" in item.last_error
    attempts = [
        e.data["attempt"]
        for e in db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.AUTOMATION))
        if e.data.get("outcome") == "failed"
    ]
    assert attempts == [1, 2, 3, 4]


def test_the_job_carries_an_rq_retry_policy_with_backoff(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    _automated_chain(practice, kinds=("verify_benefits",))
    job = get_queue("default", redis_conn).jobs[0]
    assert job.retries_left == work_jobs.MAX_ATTEMPTS - 1
    assert job.retry_intervals == list(work_jobs.RETRY_INTERVALS)


def test_a_step_that_is_not_due_waits_snoozed_and_the_recovery_sweep_wakes_it(ctx, redis_conn, monkeypatch) -> None:
    later = NOW + timedelta(days=3)

    def step(item: WorkItem, now: datetime) -> dict:
        if now < later:
            raise work_jobs.NotYet(later, "no remittance expected yet")
        return {"checked": True}

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    practice = f.make_practice(f.make_org())
    item_id = _automated_chain(practice, kinds=("verify_benefits",))[0].id
    assert work_jobs.run_automated_item(item_id, now=NOW)["status"] == "deferred"
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert (item.state, item.snoozed_until) == (ItemState.SNOOZED, later)
    assert work_jobs.recover_automation(now=NOW + timedelta(days=1)) == {"recovered": 0}
    redis_conn.flushdb()
    assert work_jobs.recover_automation(now=later) == {"recovered": 1}
    assert [j.args for j in get_queue("default", redis_conn).jobs] == [[item_id]]
    assert work_jobs.run_automated_item(item_id, now=later)["status"] == "done"


def test_an_item_whose_worker_died_mid_step_is_run_again_once_it_is_stale(ctx, redis_conn, monkeypatch) -> None:
    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", lambda item, now: {"checked": True})
    practice = f.make_practice(f.make_org())
    item_id = _automated_chain(practice, kinds=("verify_benefits",))[0].id
    # A worker took the item and was killed (SIGKILL) before finishing: the row stays in progress.
    db.session.execute(
        update(WorkItem).where(WorkItem.id == item_id).values(state=ItemState.IN_PROGRESS, attempts=1, updated_at=NOW)
    )
    db.session.commit()
    assert work_jobs.run_automated_item(item_id, now=NOW)["status"] == "skipped"
    assert work_jobs.recover_automation(now=NOW + work_jobs.STALE_AFTER / 2) == {"recovered": 0}
    assert work_jobs.recover_automation(now=NOW + work_jobs.STALE_AFTER) == {"recovered": 1}
    assert work_jobs.run_automated_item(item_id, now=NOW + work_jobs.STALE_AFTER)["status"] == "done"
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert (item.state, item.attempts) == (ItemState.DONE, 2)


def test_two_workers_running_the_same_item_at_once_run_the_step_once(ctx, monkeypatch) -> None:
    calls: list[int] = []

    def step(item: WorkItem, now: datetime) -> dict:
        calls.append(item.id)
        # The second worker arrives while the first is inside the step.
        if len(calls) == 1:
            assert work_jobs.run_automated_item(item.id, now=now)["status"] == "skipped"
        return {"checked": True}

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    practice = f.make_practice(f.make_org())
    item_id = _automated_chain(practice, kinds=("verify_benefits",))[0].id
    assert work_jobs.run_automated_item(item_id, now=NOW)["status"] == "done"
    assert calls == [item_id]


def test_a_file_drop_270_keeps_its_control_number_when_the_step_hands_over(ctx, tmp_path) -> None:
    from backoffice.exchange.models import ControlNumber
    from tests.factories_submission import edi_setup

    org, practice, provider, payer = edi_setup(
        clearinghouse="file_drop", edi_outbox=str(tmp_path / "out"), edi_inbox=str(tmp_path / "in")
    )
    patient = f.make_patient(practice, payer)
    session = f.make_session(practice, provider=provider, patient=patient)
    chain = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    item_id = chain[0].id
    for attempt in (1, 2):
        assert work_jobs.run_automated_item(item_id, now=NOW)["status"] in ("handed_over", "skipped")
        # The 270 went out through the file drop: its ISA13 is committed although the step rolled back.
        (row,) = db.session.scalars(select(ControlNumber).where(ControlNumber.organization_id == org.id)).all()
        assert (row.series, row.last_value) == ("interchange", 1), attempt
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    assert (item.mode, item.state) == (Mode.MANUAL, ItemState.READY)
    assert "270 sent in the clearinghouse batch" in item.last_error
    assert [p.name for p in (tmp_path / "out").glob("270-*")] == [f"270-{practice.slug}-000000001.x12"]


def test_a_follow_up_waiting_out_the_response_window_is_woken_once_its_claim_is_adjudicated(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    payer = f.make_payer(practice.organization)
    session = f.make_session(practice, patient=f.make_patient(practice, payer))
    (item,) = chains.create_chain(session=session, kinds=["follow_up"], now=NOW, automated=("follow_up",))
    claim = make_claim(practice, session.patient, session_id=session.id)
    assert work_jobs.run_automated_item(item.id, now=NOW)["status"] == "deferred"  # the payer's window is open
    assert work_jobs.recover_automation(now=NOW + timedelta(hours=1)) == {"recovered": 0}  # nothing came yet
    claim.status = ClaimStatus.PAID  # an 835 paid it
    db.session.commit()
    redis_conn.flushdb()
    assert work_jobs.recover_automation(now=NOW + timedelta(hours=2)) == {"recovered": 1}
    assert [j.args for j in get_queue("default", redis_conn).jobs] == [[item.id]]
    result = work_jobs.run_automated_item(item.id, now=NOW + timedelta(hours=2))
    assert result["status"] == "done", [(i.body, i.data) for i in _log(item.id)]
    done = db.session.get(WorkItem, item.id, populate_existing=True)
    assert done.state == ItemState.DONE and done.result["resolved_by"] == "remittance"


def test_the_jobs_one_commit_asks_for_go_as_batch_jobs_per_queue_and_organization(ctx, redis_conn, monkeypatch) -> None:
    monkeypatch.setattr("backoffice.tasks.BATCH_SIZE", 3)
    for item_id in (1, 2, 3, 4, 2):  # 2 twice: once in its batch
        work_jobs.enqueue_item_job(item_id, organization_id=7, priority=0)
    work_jobs.enqueue_item_job(5, organization_id=8, priority=0)  # another organization: its own job
    work_jobs.enqueue_item_job(6, organization_id=7, priority=work_rules.ESCALATION_PRIORITY_BUMP)  # the high queue
    db.session.commit()
    default = [(j.func_name, j.args, j.meta) for j in get_queue("default", redis_conn).jobs]
    assert default == [
        (work_jobs.AUTOMATION_BATCH_JOB, [1, 2, 3], {"organization_id": 7}),
        (work_jobs.AUTOMATION_JOB, [4], {"organization_id": 7}),  # one left over: a plain job
        (work_jobs.AUTOMATION_JOB, [5], {"organization_id": 8}),
    ]
    assert [(j.func_name, j.args) for j in get_queue("high", redis_conn).jobs] == [(work_jobs.AUTOMATION_JOB, [6])]
    assert all(j.retries_left == work_jobs.MAX_ATTEMPTS - 1 for j in get_queue("default", redis_conn).jobs)
    assert [work_jobs.job_item_ids(j.func_name, j.args) for j in get_queue("default", redis_conn).jobs] == [
        [1, 2, 3], [4], [5]
    ]  # fmt: skip


def test_a_batch_job_runs_each_item_and_sends_their_next_steps_as_one_batch(ctx, redis_conn, monkeypatch) -> None:
    ran: list[tuple[str, int]] = []

    def step(item: WorkItem, now: datetime) -> dict:
        ran.append((item.kind, item.id))
        return {}

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    monkeypatch.setitem(work_jobs.STEPS, "enter_charge", step)
    practice = f.make_practice(f.make_org())
    with jobs_run_inline():  # plan three chains without their jobs
        chains_ = [_automated_chain(practice) for _ in range(3)]
    firsts, seconds = [c[0].id for c in chains_], [c[1].id for c in chains_]
    get_queue("default", redis_conn).enqueue(work_jobs.AUTOMATION_BATCH_JOB, *firsts, meta={"organization_id": 1})
    queue = get_queue("default", redis_conn)
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True, max_jobs=1)
    assert ran == [("verify_benefits", i) for i in firsts]
    # the three enter-charge items were released by three commits, and their jobs went as one batch at the end
    assert [(j.func_name, j.args) for j in queue.jobs] == [(work_jobs.AUTOMATION_BATCH_JOB, seconds)]
    _work_off(redis_conn)
    assert ran[3:] == [("enter_charge", i) for i in seconds]
    db.session.expire_all()
    assert {db.session.get(WorkItem, i).state for i in firsts + seconds} == {ItemState.DONE}


def test_a_failing_item_of_a_batch_is_retried_alone_and_the_others_go_on(ctx, redis_conn, monkeypatch) -> None:
    practice = f.make_practice(f.make_org())
    with jobs_run_inline():
        ids = [_automated_chain(practice, kinds=("verify_benefits",))[0].id for _ in range(3)]

    def step(item: WorkItem, now: datetime) -> dict:
        if item.id == ids[1]:
            raise ConnectionError("payer portal down for member 123456789")
        return {}

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", step)
    queue = get_queue("default", redis_conn)
    queue.enqueue(work_jobs.AUTOMATION_BATCH_JOB, *ids, meta={"organization_id": practice.organization_id})
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True, max_jobs=1)
    db.session.expire_all()
    states = [db.session.get(WorkItem, i) for i in ids]
    assert [s.state for s in states] == [ItemState.DONE, ItemState.READY, ItemState.DONE]
    assert states[1].attempts == 1 and states[1].last_error == "ConnectionError"
    scheduled = queue.scheduled_job_registry.get_job_ids()
    (job,) = [queue.fetch_job(job_id) for job_id in scheduled]
    assert (job.func_name, job.args, job.retries_left) == (
        work_jobs.AUTOMATION_JOB,
        [ids[1]],
        work_jobs.MAX_ATTEMPTS - 2,
    )
    assert queue.failed_job_registry.count == 0  # the batch itself succeeded
