"""Jobs reach Redis only after commit, carry only IDs, and automated steps run on a real RQ worker."""

from __future__ import annotations

from datetime import datetime

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.tasks import QUEUE_NAMES, enqueue_after_commit, get_queue, pending_jobs
from backoffice.work import jobs as work_jobs
from backoffice.work import services
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f
from tests.factories import NOW


def _queued(redis_conn: Redis) -> list[str]:
    return [job.func_name for name in QUEUE_NAMES for job in get_queue(name, redis_conn).jobs]


def _automated_chain(ctx_practice, kinds=("verify_benefits", "enter_charge")):
    session = f.make_session(ctx_practice)
    return services.create_chain(session=session, kinds=list(kinds), now=NOW, automated=kinds)


def _work_off(redis_conn: Redis) -> None:
    queues = [get_queue(name, redis_conn) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def test_a_job_is_sent_only_when_the_transaction_commits(ctx, redis_conn) -> None:
    enqueue_after_commit("workers.jobs.run_automated_item", 41)
    assert len(pending_jobs()) == 1
    assert _queued(redis_conn) == []
    db.session.commit()
    assert _queued(redis_conn) == ["workers.jobs.run_automated_item"]
    assert get_queue("default", redis_conn).jobs[0].args == [41]


def test_a_rolled_back_transaction_sends_nothing(ctx, redis_conn) -> None:
    enqueue_after_commit("workers.jobs.run_automated_item", 42)
    db.session.rollback()
    assert pending_jobs() == []
    db.session.commit()
    assert _queued(redis_conn) == []


@pytest.mark.parametrize("bad", [{"patient": "Jane Doe"}, ["x"], 1.5, True])
def test_job_arguments_must_be_ids(ctx, bad) -> None:
    with pytest.raises(TypeError, match="IDs"):
        enqueue_after_commit("workers.jobs.run_automated_item", bad)


def test_planning_an_automated_step_enqueues_its_job_after_commit(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    chain = _automated_chain(practice)
    jobs = get_queue("default", redis_conn).jobs
    assert [(j.func_name, j.args) for j in jobs] == [("workers.jobs.run_automated_item", [chain[0].id])]


def test_a_step_without_automation_becomes_a_manual_item_with_the_reason(ctx, redis_conn) -> None:
    practice = f.make_practice(f.make_org())
    first_id = _automated_chain(practice)[0].id
    _work_off(redis_conn)  # the worker ends each job with a fresh session
    item = db.session.get(WorkItem, first_id)
    assert (item.mode, item.state, item.queue) == (Mode.MANUAL, ItemState.READY, "eligibility")
    assert item.last_error == "no automated step exists for verify_benefits"
    entry = db.session.scalars(
        select(Interaction).where(Interaction.work_item_id == item.id, Interaction.kind == InteractionKind.AUTOMATION)
    ).one()
    assert entry.actor_label == "worker:verify_benefits" and entry.data["handed_over"] is True


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
    # enter_charge was released, enqueued after that commit, and (no step yet) handed to a person.
    assert (second.state, second.mode) == (ItemState.READY, Mode.MANUAL)


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
    entry = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.AUTOMATION)).one()
    assert entry.data["evidence"] == {"eb01": "U"}
    assert entry.body == "Needs a person: benefits are ambiguous"
