"""Ingest: an inbound EDI file is recorded once (the same bytes again are a duplicate and post nothing), its
kind read from the envelopes, and handed to the posting service for that kind. A file that cannot be read or
posted is recorded as failed with the error (errors name segments, never patients) and a posting_exception item."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from backoffice.clearinghouse.adapters import adapter_for, connection_for
from backoffice.clearinghouse.base import Clearinghouse
from backoffice.clearinghouse.models import Connection
from backoffice.errors import ServiceError, ValidationFailed
from backoffice.exchange.models import EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.tasks import enqueue_after_commit, get_queue, get_redis
from backoffice.work.chains import add_item
from backoffice.work.rules import ExceptionKind
from backoffice.x12 import reader as x12
from backoffice.x12.acks import is_ta1
from backoffice.x12.envelopes import complete_interchanges

log = logging.getLogger(__name__)

# kind → (module, function); imported when a file of that kind arrives. Every poster takes
# (organization_id=, text=, now=, edi_file_id=) and owns its commit.
POSTERS = {
    "835": ("backoffice.remits.services", "post_835"),
    "999": ("backoffice.exchange.ack_posting", "post_999"),
    "277CA": ("backoffice.exchange.ack_posting", "post_277ca"),
    "277": ("backoffice.exchange.status_posting", "post_277"),
    "271": ("backoffice.eligibility.services", "record_271"),
    "TA1": ("backoffice.exchange.ack_posting", "post_ta1"),
}
FINISHED = ("processed", "failed")
REPORT_LIMIT = 200_000  # characters of a human report kept (the exchange page shows them)


@dataclass(frozen=True, slots=True)
class Received:
    edi_file: EdiFile
    duplicate: bool  # the same bytes were ingested before: nothing was posted this time


@dataclass
class IngestSummary:
    # practice slug → "<kind> <status>" → files ("835 processed": 2, "999 duplicate": 1, ...)
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # practices whose adapter could not be used, and why


def is_x12(text: str) -> bool:
    """Whether ``text`` starts like an X12 file (an ISA envelope, or a bare ST) rather than a human report."""
    head = text.lstrip("\ufeff \t\r\n")[:3].upper()
    return head in ("ISA", "ST*") or head.startswith("ST")


def detect_kind(text: str) -> tuple[str, str | None]:
    """(kind, ISA13) of a file: ST01, a 277 told apart by GS08 (X214 → 277CA, X212 → 277); X12Error if unreadable."""
    if is_ta1(text):
        isa = next((seg for seg in x12.segments(text) if seg.id == "ISA"), None)
        return "TA1", (isa[13].strip() if isa is not None else None) or None
    for interchange, group, transaction in x12.transactions(text):
        kind = transaction.kind
        if kind == "277":
            version = group.gs[8] if group.gs is not None else ""
            kind = "277CA" if "X214" in version else "277"
        isa13 = interchange.isa[13].strip() if interchange.isa is not None else None
        return kind, isa13 or None
    raise x12.X12Error("no transaction set (ST) in the file")


def problem_of(text: str) -> tuple[str, str | None, str | None]:
    """(kind, ISA13, why it cannot be posted or None). A file whose ISA/IEA, GS/GE or ST/SE pairs are incomplete
    or disagree (cut short in transfer, put together wrongly) is refused, naming the segment, before anything is
    posted: so the complete copy that follows still posts instead of being a duplicate."""
    try:
        kind, isa13 = detect_kind(text)
    except x12.X12Error as error:
        return "unknown", None, str(error)
    if kind not in POSTERS:
        return kind, isa13, f"ST01 {kind}: not a file we read (835, 999, 277CA, 277, 271, TA1)"
    try:
        complete_interchanges(text)
    except x12.X12Error as error:
        return kind, isa13, f"{kind}: {error}"
    return kind, isa13, None


def ingest_file(
    *, organization_id: int, practice_id: int | None, filename: str, content: str, now: datetime
) -> EdiFile:
    """Record and post one inbound file; the same bytes twice return the first file's row and post nothing."""
    return receive_file(
        organization_id=organization_id, practice_id=practice_id, filename=filename, content=content, now=now
    ).edi_file


def receive_file(
    *,
    organization_id: int,
    practice_id: int | None,
    filename: str,
    content: str,
    now: datetime,
    connection_id: int | None = None,
) -> Received:
    """``ingest_file`` that also says whether the file was a duplicate. A file that is not X12 at all (a
    clearinghouse's text or CSV report) is kept as a report (status ``report``), not failed."""  # fmt: skip
    digest = hashlib.sha256(content.encode("utf-8", errors="replace")).hexdigest()
    edi_file = db.session.scalar(
        select(EdiFile).where(
            EdiFile.organization_id == organization_id, EdiFile.direction == "inbound", EdiFile.sha256 == digest
        )
    )
    if edi_file is not None and edi_file.status in FINISHED:
        log.info("inbound %s (EDI file %d) was ingested before: refused as a duplicate", filename, edi_file.id)
        return Received(edi_file, True)
    if edi_file is not None and edi_file.status == "report":
        return Received(edi_file, True)
    if not is_x12(content):
        edi_file = EdiFile(
            organization_id=organization_id, practice_id=practice_id, direction="inbound", kind="report",
            filename=filename[:255], sha256=digest, status="report", summary={"bytes": len(content)}, problems=[],
            created_at=now, processed_at=now, connection_id=connection_id, report_text=content[:REPORT_LIMIT],
        )  # fmt: skip
        db.session.add(edi_file)
        db.session.commit()
        log.info("inbound %s kept as a clearinghouse report (EDI file %d)", filename, edi_file.id)
        return Received(edi_file, False)
    kind, isa13, problem = problem_of(content)
    if edi_file is None:  # a file interrupted mid-posting keeps its row and is posted again
        edi_file = EdiFile(
            organization_id=organization_id, practice_id=practice_id, direction="inbound", kind=kind[:8],
            filename=filename[:255], sha256=digest, interchange_control_number=(isa13 or "")[:9] or None,
            status="received", summary={}, problems=[], created_at=now, connection_id=connection_id,
        )  # fmt: skip
        db.session.add(edi_file)
        db.session.commit()
    file_id = edi_file.id
    if problem is None:
        module, name = POSTERS[kind]
        try:
            poster = getattr(importlib.import_module(module), name)
            result = poster(organization_id=organization_id, text=content, now=now, edi_file_id=file_id)
        except (ServiceError, ValueError, ImportError, AttributeError) as error:
            db.session.rollback()
            problem = f"{kind}: {error}" if not str(error).startswith(kind) else str(error)
        else:
            edi_file = db.session.get(EdiFile, file_id)
            edi_file.status, edi_file.processed_at = "processed", now
            edi_file.summary = {**(edi_file.summary or {}), **_summary(result)}
            edi_file.problems = list(getattr(result, "problems", None) or edi_file.problems or [])
            db.session.commit()
            return Received(edi_file, False)
    _fail(db.session.get(EdiFile, file_id), problem, now)
    return Received(db.session.get(EdiFile, file_id), False)


def _summary(result: Any) -> dict[str, Any]:
    """Counts from a posting result: numbers as they are, lists as their length (they may be long)."""
    if not dataclasses.is_dataclass(result):
        return {}
    out: dict[str, Any] = {}
    for item in dataclasses.fields(result):
        value = getattr(result, item.name)
        if item.name == "problems":
            continue
        if isinstance(value, bool | int | str) or value is None:
            out[item.name] = value
        elif isinstance(value, list | tuple | set | dict):
            out[item.name] = len(value)
    return out


def _fail(edi_file: EdiFile, problem: str, now: datetime) -> None:
    edi_file.status, edi_file.processed_at = "failed", now
    edi_file.problems = [problem]
    practice_id = edi_file.practice_id or db.session.scalar(
        select(Practice.id).where(Practice.organization_id == edi_file.organization_id).order_by(Practice.id)
    )
    if practice_id is not None:
        add_item(
            practice_id=practice_id, kind=str(ExceptionKind.POSTING_EXCEPTION), now=now, edi_file_id=edi_file.id,
            reason=f"{edi_file.kind} file {edi_file.filename} could not be posted: {problem}"[:500],
            dedupe_key=f"edi-file-{edi_file.id}", evidence={"edi_file_id": edi_file.id, "problem": problem},
            source="edi ingest",
        )  # fmt: skip
    db.session.commit()
    log.warning("inbound EDI file %d (%s) failed: %s", edi_file.id, edi_file.kind, problem)


POLL_JOB = "workers.jobs.poll_practice"  # the RQ job polling one practice's inbox (``poll_practice``)


def practices_to_poll() -> list[tuple[Practice, Connection | None, str | None]]:
    """Each active practice whose inbox a poll reads, with its connection (a connection shared by several practices
    once, under its first practice), or the problem that keeps it from being polled."""
    practices = db.session.scalars(select(Practice).where(Practice.active.is_(True)).order_by(Practice.id)).all()
    found: list[tuple[Practice, Connection | None, str | None]] = []
    polled: set[Any] = set()
    for practice in practices:
        try:
            connection = connection_for(practice)
        except ValidationFailed as error:
            found.append((practice, None, str(error)))
            continue
        key = ("connection", connection.id) if _shared(connection) else ("practice", practice.id)
        if key not in polled:
            polled.add(key)
            found.append((practice, connection, None))
    return found


def _shared(connection: Connection) -> bool:
    return connection.id is not None and connection.practice_id is None and connection.kind != "sandbox"


def ingest_all(*, now: datetime) -> IngestSummary:
    """Poll every active practice's connection once (a connection shared by several practices once for all):
    each file is ingested, then moved to processed/ or failed/ (a duplicate counts as processed)."""
    summary = IngestSummary()
    for practice, connection, error in practices_to_poll():
        counts = summary.counts.setdefault(practice.slug, Counter())
        if connection is None:
            summary.errors.append(f"practice {practice.slug}: {error}")
            continue
        owner_id = None if _shared(connection) else practice.id
        problem = poll(connection, practice=practice, owner_id=owner_id, now=now, counts=counts)
        if problem:
            summary.errors.append(f"practice {practice.slug}: {problem}")
    return summary


def enqueue_polls(*, now: datetime) -> dict[str, int]:
    """The inbox flow's fan-out: one RQ job per inbox to poll (``POLL_JOB``), so the workers ingest and post the
    practices' files side by side, and each file's denials are drafted while other practices' files are still
    being posted. An inbox whose poll is still waiting or running is not asked twice."""
    queued = skipped = 0
    waiting = set(waiting_polls())
    for practice, connection, error in practices_to_poll():
        if connection is None:
            log.warning("practice %s cannot be polled: %s", practice.id, error)
        elif poll_job_id(practice.id) in waiting:
            skipped += 1
        else:
            enqueue_after_commit(POLL_JOB, practice.id, organization_id=practice.organization_id,
                                 job_id=poll_job_id(practice.id))  # fmt: skip
            queued += 1
    db.session.commit()
    return {"queued": queued, "still_waiting": skipped}


def poll_job_id(practice_id: int) -> str:
    return f"inbox-poll-{practice_id}"


def waiting_polls() -> list[str]:
    """The ids of poll jobs queued or running now."""
    conn = get_redis()
    queue = get_queue("default", conn)
    return [job_id for job_id in queue.get_job_ids() + queue.started_job_registry.get_job_ids(cleanup=False)
            if job_id.startswith("inbox-poll-")]  # fmt: skip


def poll_practice(*, practice_id: int, now: datetime) -> dict[str, Any]:
    """The ``POLL_JOB``: poll one practice's inbox (its shared connection's, when it has one) and ingest it."""
    practice = db.session.get(Practice, practice_id)
    if practice is None or not practice.active:
        return {"files": {}, "problem": "no such active practice"}
    connection = connection_for(practice)
    counts: Counter[str] = Counter()
    owner_id = None if _shared(connection) else practice.id
    problem = poll(connection, practice=practice, owner_id=owner_id, now=now, counts=counts)
    return {"files": dict(counts), "problem": problem}


def poll(
    connection: Connection, *, practice: Practice, owner_id: int | None, now: datetime, counts: Counter[str]
) -> str | None:
    """Fetch and ingest what ``connection`` has waiting; record the poll (time, error) on a saved connection.
    Returns the problem that stopped the poll, if any (named without patient data)."""
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    connection_id = connection.id
    problem = None
    try:
        adapter: Clearinghouse = adapter_for(connection, settings)
        files = adapter.fetch(practice=practice, now=now)
    except (ValidationFailed, OSError) as error:
        db.session.rollback()
        problem, files = str(error), []
    else:
        problem = getattr(adapter, "problem", None)
    for file in files:
        received = receive_file(
            organization_id=practice.organization_id, practice_id=owner_id, filename=file.filename,
            content=file.content, now=now, connection_id=connection_id,
        )  # fmt: skip
        status = "duplicate" if received.duplicate else received.edi_file.status
        counts[f"{received.edi_file.kind} {status}"] += 1
        adapter.done(practice=practice, file=file, ok=status != "failed")
    if connection_id is not None:
        saved = db.session.get(Connection, connection_id)
        saved.last_poll_at, saved.last_poll_error = now, (problem or None) and problem[:500]
        db.session.commit()
    if problem:
        log.warning("polling connection %s failed: %s", connection_id, problem)
    return problem


def poll_connection(*, connection_id: int, now: datetime) -> dict[str, Any]:
    """ "Poll now" for one saved connection (its own practice, else the organization's first active practice)."""
    connection = db.session.get(Connection, connection_id)
    if connection is None:
        raise ValidationFailed(f"connection {connection_id}: not found")
    practice_id = connection.practice_id or db.session.scalar(
        select(Practice.id)
        .where(Practice.organization_id == connection.organization_id, Practice.active.is_(True))
        .order_by(Practice.id)
    )
    if practice_id is None:
        raise ValidationFailed(f"connection {connection.name}: its organization has no active practice")
    counts: Counter[str] = Counter()
    owner = connection.practice_id
    problem = poll(connection, practice=db.session.get(Practice, practice_id), owner_id=owner, now=now, counts=counts)
    return {"files": dict(counts), "problem": problem}
