"""Batched submission: on a batch connection (SFTP, local folder) the automated submit step waits for the batch
run, which sends every waiting claim in one interchange (the items then close themselves); a real-time channel
submits at once. TA1, 999 and 277CA answer every claim of the batch; a TA1 R rejects them all."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import select

from backoffice.automation.runner import run_automated_item
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.clearinghouse.services import save_connection
from backoffice.exchange.ingest import detect_kind, ingest_file
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.exchange.submission import submit_batches
from backoffice.extensions import db
from backoffice.sessions.models import Session
from backoffice.tasks import jobs_run_inline
from backoffice.work import chains
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests.factories_submission import NOW, edi_setup, scrubbed_claim
from tests.x12_checks import pyx12_errors


def _batch_world(tmp_path: Path, claims: int, kind: str = "local_folder"):  # noqa: ANN202
    org, practice, provider, payer = edi_setup()
    save_connection(organization_id=org.id, values={"name": "Availity drop", "kind": kind, "profile": "availity",
                    "usage": "T", "practice_id": practice.id, "upload_folder": str(tmp_path / "out"),
                    "download_folder": str(tmp_path / "in")}, secrets={},
                    settings=current_app.config["BACKOFFICE_SETTINGS"], actor=None, now=NOW)  # fmt: skip
    items = []
    for _ in range(claims):
        claim = scrubbed_claim(practice, provider, payer)
        (item,) = chains.create_chain(
            session=db.session.get(Session, claim.session_id), kinds=["submit"], now=NOW, automated=["submit"]
        )
        items.append(item)
    return org, practice, items


def test_the_batch_run_sends_every_waiting_claim_in_one_interchange(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, items = _batch_world(tmp_path, 25)
    with jobs_run_inline():
        for item in items:
            assert run_automated_item(item.id, now=NOW)["status"] == "deferred"  # waits for the batch
        assert not (tmp_path / "out").exists()
        summary = submit_batches(now=NOW)
        assert summary == {"interchanges": 1, "claims": 25, "claims_per_interchange": [25], "skipped": 0}
        for item in items:
            assert run_automated_item(item.id, now=NOW)["status"] == "done"  # the claim is submitted: it closes
    (written,) = list((tmp_path / "out").iterdir())
    text = written.read_text()
    assert text.count("CLM*") == 25 and text.count("ST*837*") == 1
    isa = text.split("~")[0].split("*")
    assert (isa[8].strip(), isa[15]) == ("030240928", "T")
    assert pyx12_errors(text, tmp_path) == []
    assert submit_batches(now=NOW)["claims"] == 0  # nothing is sent twice
    assert {i.state for i in db.session.scalars(select(WorkItem)).all()} == {ItemState.DONE}


def test_a_real_time_channel_submits_at_once(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()  # no connection: the legacy sandbox answers at once
    claim = scrubbed_claim(practice, provider, payer)
    (item,) = chains.create_chain(
        session=db.session.get(Session, claim.session_id), kinds=["submit"], now=NOW, automated=["submit"]
    )
    with jobs_run_inline():
        assert run_automated_item(item.id, now=NOW)["status"] == "done"
    assert db.session.get(Claim, claim.id).status != ClaimStatus.SCRUBBED


def _ta1(isa13: str, code: str, note: str = "000") -> str:
    return (
        "ISA*00*          *00*          *ZZ*030240928      *ZZ*BILLCO01       *261118*1500*^*00501*000000777*0*T*:~"
        f"TA1*{isa13}*261118*1500*{code}*{note}~IEA*0*000000777~"
    )


def test_a_ta1_rejection_rejects_every_claim_of_the_interchange(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, items = _batch_world(tmp_path, 3)
    with jobs_run_inline():
        for item in items:
            run_automated_item(item.id, now=NOW)
        submit_batches(now=NOW)
    isa13 = db.session.scalar(select(ClaimSubmission.interchange_control_number))
    assert detect_kind(_ta1(isa13, "R", "024")) == ("TA1", "000000777")
    posted = ingest_file(organization_id=org.id, practice_id=practice.id, filename="x.ta1",
                         content=_ta1(isa13, "R", "024"), now=NOW)  # fmt: skip
    assert posted.status == "processed" and posted.summary["rejected"] == 3
    assert {c.status for c in db.session.scalars(select(Claim)).all()} == {ClaimStatus.REJECTED}
    fixes = db.session.scalars(select(WorkItem).where(WorkItem.kind == "fix_rejection")).all()
    assert len(fixes) == 3
    logged = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id.in_([f.id for f in fixes])))
    assert sum("TA1 R" in (body or "") for body in logged) == 3


def test_a_ta1_for_an_interchange_we_never_sent_fails_and_changes_nothing(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    posted = ingest_file(organization_id=org.id, practice_id=practice.id, filename="y.ta1",
                         content=_ta1("000000999", "A"), now=NOW)  # fmt: skip
    assert posted.status == "failed" and "no interchange 000000999" in posted.problems[0]
    assert db.session.scalar(select(EdiFile).where(EdiFile.direction == "outbound")) is None
