"""Ingest: inbound files are recorded once and posted by kind; a file that cannot be read is recorded as failed
with a posting_exception item and moved to failed/; the Sandbox round trip takes claims to accepted, paid,
denied or rejected."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.exchange.ingest import POLL_JOB, detect_kind, enqueue_polls, ingest_all, ingest_file, receive_file
from backoffice.exchange.models import EdiFile
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.tasks import get_queue
from backoffice.work.models import Interaction, WorkItem
from tests.factories_submission import NOW, edi_setup, scrubbed_claim

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples"
_accounts = itertools.count(1)


def _account_for(scenario: str) -> str:
    """A fresh claim account number (CLM01) the sandbox payer answers with ``scenario``."""
    while True:
        account = f"E2E-{next(_accounts)}"
        if sx.scenario_for(account) == scenario:
            return account


@pytest.mark.parametrize(
    ("sample", "kind"),
    [("999/ims__x12_999_accepted.txt", "999"), ("277/ims__x12_277CA_accepted.txt", "277CA"),
     ("277/ims__x12_277_x212.txt", "277"), ("835/lfh__demo.835", "835")],
)  # fmt: skip
def test_the_kind_comes_from_st01_and_a_277_from_its_gs08(sample: str, kind: str) -> None:
    assert detect_kind((SAMPLES / sample).read_text(encoding="ascii", errors="replace"))[0] == kind


def test_a_broken_x12_file_is_recorded_as_failed_with_a_posting_exception(ctx) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    edi_file = ingest_file(organization_id=org.id, practice_id=practice.id, filename="junk.txt",
                           content="ISA*00*broken", now=NOW)  # fmt: skip
    assert (edi_file.direction, edi_file.kind, edi_file.status) == ("inbound", "unknown", "failed")
    assert edi_file.problems and "ISA" in edi_file.problems[0]
    item = db.session.scalar(select(WorkItem).where(WorkItem.edi_file_id == edi_file.id))
    assert (item.kind, item.practice_id) == ("posting_exception", practice.id)
    logged = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == item.id)).all()
    assert any("junk.txt could not be posted" in (body or "") for body in logged)


def test_a_clearinghouse_text_or_csv_report_is_kept_as_a_report_not_failed(ctx) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    text = "BATCH REPORT\nFile 837P-x.txt received 2026-11-18: 3 claims accepted, 1 rejected\n"
    edi_file = ingest_file(organization_id=org.id, practice_id=practice.id, filename="x_EBR.txt", content=text,
                           now=NOW)  # fmt: skip
    assert (edi_file.kind, edi_file.status, edi_file.report_text) == ("report", "report", text)
    assert db.session.scalar(select(WorkItem).where(WorkItem.edi_file_id == edi_file.id)) is None
    again = receive_file(organization_id=org.id, practice_id=practice.id, filename="x_EBR.txt", content=text, now=NOW)
    assert again.duplicate and again.edi_file.id == edi_file.id


def test_the_same_bytes_twice_are_refused_and_post_nothing(ctx) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    text = (SAMPLES / "835" / "lfh__demo.835").read_text(encoding="ascii", errors="replace")
    first = receive_file(organization_id=org.id, practice_id=practice.id, filename="a.835", content=text, now=NOW)
    second = receive_file(organization_id=org.id, practice_id=practice.id, filename="copy.835", content=text, now=NOW)
    assert not first.duplicate and second.duplicate
    assert second.edi_file.id == first.edi_file.id and first.edi_file.kind == "835"
    assert db.session.scalar(select(func.count()).select_from(EdiFile)) == 1


def test_the_sandbox_round_trip_takes_claims_to_paid_denied_and_rejected(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    wanted = {"paid": None, "denied_auth": None, "rejected": None, "no_response": None}
    for scenario in wanted:
        wanted[scenario] = scrubbed_claim(practice, provider, payer, account_number=_account_for(scenario))
    sent = submit_claims(organization_id=org.id, claim_ids=[c.id for c in wanted.values()], now=NOW, source="test")
    assert len(sent.submitted) == 4
    summary = ingest_all(now=NOW)
    assert summary.errors == []
    assert summary.counts[practice.slug] == {"999 processed": 1, "277CA processed": 1, "835 processed": 1}
    status = {scenario: db.session.get(Claim, claim.id).status for scenario, claim in wanted.items()}
    assert status == {"paid": "paid", "denied_auth": "denied", "rejected": "rejected", "no_response": "accepted"}
    files = db.session.scalars(select(EdiFile).where(EdiFile.direction == "inbound")).all()
    assert {f.status for f in files} == {"processed"}
    assert ingest_all(now=NOW).counts[practice.slug] == {}  # the inbox was emptied into processed/
    rejection = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == wanted["rejected"].id))
    assert rejection is not None and rejection.kind == "fix_rejection"


def test_the_inbox_flow_fans_out_one_poll_job_per_inbox_and_a_worker_posts_it(ctx, redis_conn) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claims = [scrubbed_claim(practice, provider, payer, account_number=_account_for(s)) for s in ("paid", "rejected")]
    claim_ids, slug = [c.id for c in claims], practice.slug
    submit_claims(organization_id=org.id, claim_ids=claim_ids, now=NOW, source="test")
    assert enqueue_polls(now=NOW) == {"queued": 1, "still_waiting": 0}
    (job,) = get_queue("default", redis_conn).jobs
    assert (job.func_name, job.args, job.id) == (POLL_JOB, [practice.id], f"inbox-poll-{practice.id}")
    assert job.meta == {"organization_id": org.id}
    assert enqueue_polls(now=NOW) == {"queued": 0, "still_waiting": 1}  # its last poll still waits: not asked twice
    SimpleWorker([get_queue("default", redis_conn)], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    assert [db.session.get(Claim, claim_id).status for claim_id in claim_ids] == ["paid", "rejected"]
    assert ingest_all(now=NOW).counts[slug] == {}  # the worker emptied the inbox
    assert enqueue_polls(now=NOW) == {"queued": 1, "still_waiting": 0}  # done: the next run asks again
