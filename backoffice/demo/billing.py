"""Bill part of the demo's history for real: sessions the replay left unplanned are planned, coded, scrubbed,
submitted to the Sandbox payer, and its 999/277CA/835 answers ingested and posted, all in process through the
same services and automated steps the workers run. The demo then opens with claims in A/R, payments posted,
denials routed to their queues with CARCs and dollars, rejections to fix and appeal letters drafted."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import select

from backoffice.automation.runner import run_automated_item
from backoffice.exchange.ingest import ingest_all
from backoffice.extensions import db
from backoffice.intake.planning import plan_sessions
from backoffice.tasks import jobs_run_inline
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode

# Each round runs the automated items that are ready (one step of each chain), then reads the payer's answers;
# the chain (benefits, auth, charge, audit, submit), the answers and the steps they open (appeal drafts,
# secondary claims) settle well within this many rounds.
MAX_ROUNDS = 12


def _ready_automated() -> list[int]:
    return list(
        db.session.scalars(
            select(WorkItem.id)
            .where(WorkItem.mode == Mode.AUTOMATED, WorkItem.state == ItemState.READY)
            .order_by(WorkItem.id)
        )
    )


def bill_sessions(session_ids: list[int], *, now: datetime) -> Counter[str]:
    """Plan ``session_ids`` and run their automation to a standstill at ``now``; returns step outcomes and
    ingested file counts (counts only)."""
    outcomes: Counter[str] = Counter()
    quiet = logging.getLogger("backoffice")  # one INFO line per claim submitted would bury the demo's own output
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    try:
        with jobs_run_inline():
            _run(session_ids, now, outcomes)
    finally:
        quiet.setLevel(level)
    return outcomes


def _run(session_ids: list[int], now: datetime, outcomes: Counter[str]) -> None:
    plan_sessions(session_ids=session_ids, now=now)
    for _ in range(MAX_ROUNDS):
        ready = _ready_automated()
        for item_id in ready:
            outcomes[run_automated_item(item_id, now=now)["status"]] += 1
        summary = ingest_all(now=now)
        outcomes["files"] += sum(sum(c.values()) for c in summary.counts.values())
        if not ready and not summary.counts:
            break
