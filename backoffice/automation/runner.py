"""The automated-step runner: loads an item by ID, takes it with a guarded UPDATE (so two workers never run the
same step), runs the step registered for its kind, and records every attempt (timing, outcome, error class) in the
item's timeline. Steps that cannot finish become manual items with the reason and evidence attached; a step that
is not due yet defers the item; failures are retried until ``MAX_ATTEMPTS`` and then handed to a person."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from rq import Retry
from sqlalchemy import and_, event, or_, select, update
from sqlalchemy.orm import Session as OrmSession

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice
from backoffice.services_base import in_ids
from backoffice.tasks import PendingJob, enqueue_after_commit, get_queue, job_meta
from backoffice.work import rules as work_rules
from backoffice.work import services
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode, WorkKind

AUTOMATION_JOB = "workers.jobs.run_automated_item"  # the RQ job: loads the item by id and calls run_automated_item
# The same for many items in one job (the jobs one commit asks for go as one: tasks.coalesce).
AUTOMATION_BATCH_JOB = "workers.jobs.run_automated_items"
# kind -> step(item, now) -> result. backoffice/automation/steps.py registers the product's steps.
Step = Callable[[WorkItem, datetime], Mapping[str, Any]]
STEPS: dict[str, Step] = {}
MAX_ATTEMPTS = 4  # the first run and three RQ retries (10 s, 1 min, 5 min)
RETRY_INTERVALS = (10, 60, 300)
# A worker killed mid-step leaves its item in progress; after this long the recovery sweep makes it ready again.
STALE_AFTER = timedelta(minutes=10)
SOURCE_PREFIX = "worker:"
# Read by nearly every step and changed only by an admin: a batch job keeps them loaded for its next items.
SHARED_TYPES = (Practice, Payer, Organization)
# Fault tests only (tests/test_faults.py, bench/chaos.py): "<kind|*>:<point>[,...]" makes the worker stop and wait at
# that point of a step, once per item, after touching "<BACKOFFICE_TEST_PAUSE_DIR>/<item id>-<point>", so a test can
# SIGKILL it there. Points: "taken" (item in progress, step not begun), "stepped" (the step's own commits are done,
# the item is not completed yet). Unset in production: the check is one dictionary lookup.
PAUSE_AT_VAR, PAUSE_DIR_VAR = "BACKOFFICE_TEST_PAUSE_AT", "BACKOFFICE_TEST_PAUSE_DIR"
PAUSE_SECONDS = 120


class NeedsPerson(Exception):
    """Raised by a step that cannot finish by itself; the message is the reason (never PHI)."""

    def __init__(self, reason: str, evidence: Mapping[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.evidence = dict(evidence or {})


class NotYet(Exception):
    """Raised by a step whose moment has not come (a follow-up before the payer's response window closes)."""

    def __init__(self, until: datetime, reason: str) -> None:
        super().__init__(reason)
        self.until = until


# A claim the payer has answered for good (paid, denied, …): its follow-up has nothing left to chase.
RESOLVED = frozenset({ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED, ClaimStatus.APPEALED,
                      ClaimStatus.CLOSED})  # fmt: skip


def register_step(kind: str, step: Step) -> None:
    STEPS[kind] = step


def automation_queue(priority: int) -> str:
    """The RQ queue an automated item's job goes to: escalated and urgent work first."""
    return "high" if priority >= work_rules.ESCALATION_PRIORITY_BUMP else "default"


def automation_retry() -> Retry:
    """RQ's retry policy for automated steps: three retries with backoff (the worker runs with its scheduler)."""
    return Retry(max=MAX_ATTEMPTS - 1, interval=list(RETRY_INTERVALS))


def enqueue_item_job(item_id: int, *, organization_id: int, priority: int, queue: str | None = None) -> None:
    """Ask for the automated step of an item once the transaction commits (batched with the others it asks for), on
    ``queue`` or the one its priority picks."""
    enqueue_after_commit(AUTOMATION_JOB, item_id, organization_id=organization_id,
                         queue=queue or automation_queue(priority), retry=automation_retry(),
                         batch_as=AUTOMATION_BATCH_JOB)  # fmt: skip


def pending_item_job(item_id: int, *, organization_id: int, priority: int) -> PendingJob:
    """The same job, for a caller that sends its jobs itself (``tasks.send_jobs``) after its own commit."""
    return PendingJob(AUTOMATION_JOB, (item_id,), automation_queue(priority), organization_id,
                      options={"retry": automation_retry()}, batch_as=AUTOMATION_BATCH_JOB)  # fmt: skip


def job_item_ids(func_name: str | None, args: Sequence[Any] | None) -> list[int]:
    """The work items an RQ job runs the automated steps of (none for any other job)."""
    if func_name == AUTOMATION_JOB and args:
        return [int(args[0])]
    if func_name == AUTOMATION_BATCH_JOB and args:
        return [int(arg) for arg in args]
    return []


def retry_alone(item_id: int, *, organization_id: int, priority: int, redis: Redis) -> None:
    """A batch job's item whose step failed (its attempt is recorded, the item ready again): its own job after the
    first retry interval, with the retries it has left, like a single job's RQ retry."""
    get_queue(automation_queue(priority), redis).enqueue_in(
        timedelta(seconds=RETRY_INTERVALS[0]), AUTOMATION_JOB, item_id, meta=job_meta(organization_id),
        retry=Retry(max=MAX_ATTEMPTS - 2, interval=list(RETRY_INTERVALS[1:])),
    )  # fmt: skip


def enqueue_step(item: WorkItem, *, now: datetime | None = None) -> None:
    """The ``item-ready`` subscriber: an automated item that became ready gets its job once the use case commits."""
    if item.mode == Mode.AUTOMATED and item.state == ItemState.READY:
        enqueue_item_job(item.id, organization_id=item.practice.organization_id, priority=item.priority)


def run_automated_item(item_id: int, *, now: datetime, shared: list[object] | None = None) -> dict[str, Any]:
    """Run one automated item. Idempotent: an item that is not ready and automated, or that another worker has
    just taken, is skipped; a step's own effects are idempotent too (a claim version is submitted once).

    What the run loads stays loaded until it ends (the session's identity map holds objects weakly: without a
    reference kept here, the practice, payer or claim a step reads is read again after each use). In a batch
    (``shared`` given) it is then expired, so the next item reads afresh, except the reference data
    (``SHARED_TYPES``) the batch keeps in ``shared`` for its next items."""
    session = db.session()
    loaded: list[object] = []

    def keep(_: OrmSession, instance: object) -> None:
        loaded.append(instance)

    event.listen(session, "loaded_as_persistent", keep)
    try:
        return _run(item_id, now)
    finally:
        event.remove(session, "loaded_as_persistent", keep)
        if shared is not None:
            for obj in loaded:
                if isinstance(obj, SHARED_TYPES):
                    shared.append(obj)
                elif obj in session:
                    session.expire(obj)
        loaded.clear()


def run_automated_items(item_ids: Sequence[int], *, clock: Callable[[], datetime], redis: Redis) -> dict[str, int]:
    """Run many items' steps in one job and session (a batch job), each at ``clock()`` with its own commits. The
    practices, payers and organizations read stay loaded for the batch's next items (an admin's change reaches
    the next batch). An item whose step fails has its attempt recorded and is retried alone (``retry_alone``)."""
    outcomes: Counter[str] = Counter()
    shared: list[object] = []
    for item_id in item_ids:
        try:
            outcomes[run_automated_item(item_id, now=clock(), shared=shared)["status"]] += 1
        except Exception:  # noqa: BLE001 - recorded on the item (class only, never the message); it goes on alone
            db.session.rollback()
            item = db.session.get(WorkItem, item_id)
            if item is not None:
                retry_alone(item_id, organization_id=item.practice.organization_id, priority=item.priority,
                            redis=redis)  # fmt: skip
            outcomes["retrying"] += 1
    return dict(outcomes)


def _run(item_id: int, now: datetime) -> dict[str, Any]:
    item = db.session.scalars(  # take it: one guarded UPDATE … RETURNING, so two workers never run the same step
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.state == ItemState.READY, WorkItem.mode == Mode.AUTOMATED,
               WorkItem.kind.in_(list(STEPS)))
        .values(state=ItemState.IN_PROGRESS, attempts=WorkItem.attempts + 1, started_at=now, updated_at=now)
        .returning(WorkItem)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).one_or_none()  # fmt: skip
    db.session.commit()
    if item is None:
        item = db.session.get(WorkItem, item_id, populate_existing=True)
        if item is None:
            return {"item_id": item_id, "status": "missing"}
        if item.mode != Mode.AUTOMATED or item.state != ItemState.READY:
            return {"item_id": item_id, "status": "skipped", "state": str(item.state)}
        if item.kind in STEPS:  # ready again between the UPDATE and this read: its own job runs it
            return {"item_id": item_id, "status": "skipped", "state": "taken"}
        services.hand_over_to_manual(
            item=item, now=now, reason=f"no automated step exists for {item.kind}", source=f"{SOURCE_PREFIX}{item.kind}"
        )
        return {"item_id": item_id, "status": "handed_over"}
    step = STEPS[item.kind]
    source = f"{SOURCE_PREFIX}{item.kind}"
    attempt = item.attempts
    started = time.perf_counter()
    _pause_if_asked(item, "taken")
    try:
        result = dict(step(item, now))
        _pause_if_asked(item, "stepped")
    except NeedsPerson as needs:
        db.session.rollback()
        item = db.session.get(WorkItem, item_id, populate_existing=True)
        _record_attempt(item, now, source, attempt, started, outcome="needs a person")
        services.hand_over_to_manual(item=item, now=now, reason=str(needs), evidence=needs.evidence, source=source)
        return {"item_id": item_id, "status": "handed_over"}
    except NotYet as wait:
        db.session.rollback()
        item = db.session.get(WorkItem, item_id, populate_existing=True)
        _record_attempt(item, now, source, attempt, started, outcome="not due yet")
        services.defer_automated_item(item=item, now=now, until=wait.until, reason=str(wait), source=source)
        return {"item_id": item_id, "status": "deferred"}
    except Exception as error:
        db.session.rollback()
        return _record_failure(item_id, now, source, attempt, started, error)
    _record_attempt(item, now, source, attempt, started, outcome="succeeded")
    services.complete_item(item=item, actor=None, actor_label=source, now=now, result=result)
    return {"item_id": item_id, "status": "done"}


def _pause_if_asked(item: WorkItem, point: str) -> None:
    """The fault tests' kill point (see ``PAUSE_AT_VAR``): wait here once per item so the test can kill the worker."""
    wanted = os.environ.get(PAUSE_AT_VAR)
    if not wanted or not ({f"{item.kind}:{point}", f"*:{point}"} & set(wanted.split(","))):
        return
    marker = os.path.join(os.environ.get(PAUSE_DIR_VAR, "."), f"{item.id}-{point}")
    if os.path.exists(marker):  # paused here before: the run after the kill goes through
        return
    with open(marker, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(PAUSE_SECONDS)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _record_attempt(item: WorkItem, now: datetime, source: str, attempt: int, started: float, *, outcome: str) -> None:
    """One timeline row per attempt: its number, how long it took and how it ended (committed with what follows)."""
    elapsed = _elapsed_ms(started)
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label=source, kind=InteractionKind.AUTOMATION, now=now,
        item=item, body=f"Attempt {attempt} {outcome} in {elapsed} ms",
        data={"attempt": attempt, "outcome": outcome, "elapsed_ms": elapsed},
    )  # fmt: skip


def _record_failure(
    item_id: int, now: datetime, source: str, attempt: int, started: float, error: Exception
) -> dict[str, Any]:
    """Log the failed attempt; put the item back for a retry, or hand it to a person when retries are exhausted.
    Raises again while retries remain, so RQ's retry (with backoff) and failed-job registry see the failure."""
    item = db.session.get(WorkItem, item_id, populate_existing=True)
    if item is None:
        raise error
    reason = type(error).__name__  # the class only: messages may carry data we must not log
    elapsed = _elapsed_ms(started)
    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label=source, kind=InteractionKind.AUTOMATION, now=now,
        item=item, body=f"Attempt {attempt} failed after {elapsed} ms: {reason}",
        data={"attempt": attempt, "outcome": "failed", "error": reason, "elapsed_ms": elapsed},
    )  # fmt: skip
    if attempt >= MAX_ATTEMPTS:
        db.session.commit()
        services.hand_over_to_manual(
            item=item, now=now, reason=f"automation failed {attempt} times ({reason}); retries exhausted",
            evidence={"error": reason, "attempts": attempt}, source=source,
        )  # fmt: skip
        return {"item_id": item_id, "status": "handed_over"}
    db.session.execute(
        update(WorkItem)
        .where(WorkItem.id == item_id, WorkItem.state == ItemState.IN_PROGRESS)
        .values(state=ItemState.READY, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    raise error


def wake_answered_follow_ups(organization_id: int, *, now: datetime, claim_ids: list[int], **_: Any) -> None:
    """The ``remittance-posted`` subscriber: the waiting automated follow-ups of the claims an 835 just answered
    are made ready in the posting's transaction, so their step sees the remittance and closes them right away
    (not at the next recovery sweep)."""
    if not claim_ids:
        return
    answered = select(Claim.id).where(in_ids(Claim.id, claim_ids), Claim.status.in_([s.value for s in RESOLVED]))
    originals = select(Claim.session_id).where(Claim.payer_sequence == "P", Claim.parent_claim_id.is_(None))
    waiting = db.session.scalars(
        select(WorkItem).where(
            WorkItem.kind == WorkKind.FOLLOW_UP, WorkItem.mode == Mode.AUTOMATED, WorkItem.state == ItemState.SNOOZED,
            or_(WorkItem.claim_id.in_(answered),
                and_(WorkItem.claim_id.is_(None), WorkItem.session_id.in_(originals.where(Claim.id.in_(answered))))),
        )
    ).all()  # fmt: skip
    for item in waiting:
        services.wake_automated_item(item=item, now=now, source="835 posting", body="Remittance posted: closing up")


def recover_automation(*, now: datetime, stale_after: timedelta = STALE_AFTER) -> dict[str, int]:
    """Make runnable again what a crash or a wait left behind: automated items in progress for longer than
    ``stale_after`` (their worker died; keep it above RQ's job timeout of 180 s, so that a live step is never run
    twice) and deferred ones whose time has come; each gets a job after commit."""
    stale = list(
        db.session.scalars(
            select(WorkItem.id).where(
                WorkItem.mode == Mode.AUTOMATED,
                or_(
                    and_(WorkItem.state == ItemState.IN_PROGRESS, WorkItem.updated_at <= now - stale_after),
                    and_(WorkItem.state == ItemState.SNOOZED, WorkItem.snoozed_until <= now),
                ),
            )
        )
    )
    stale += _answered_follow_ups(now)
    recovered = 0
    for item_id in stale:
        item = db.session.get(WorkItem, item_id, populate_existing=True)
        if item is not None and services.resume_automated_item(item=item, now=now):
            recovered += 1
    return {"recovered": recovered}


def _answered_follow_ups(now: datetime) -> list[int]:
    """Follow-ups still waiting out the payer's response window although the claim has been adjudicated (an 835
    came): woken now, their step sees the remittance and closes them."""
    answered = Claim.status.in_([s.value for s in RESOLVED])
    original = and_(answered, Claim.payer_sequence == "P", Claim.parent_claim_id.is_(None))
    return list(
        db.session.scalars(
            select(WorkItem.id).where(
                WorkItem.kind == WorkKind.FOLLOW_UP,
                WorkItem.mode == Mode.AUTOMATED,
                WorkItem.state == ItemState.SNOOZED,
                WorkItem.snoozed_until > now,
                or_(
                    WorkItem.claim_id.in_(select(Claim.id).where(answered)),
                    and_(
                        WorkItem.claim_id.is_(None), WorkItem.session_id.in_(select(Claim.session_id).where(original))
                    ),
                ),
            )
        )
    )
