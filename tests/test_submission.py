"""Submission: control numbers are persisted and never reused; scrubbed claims become valid 837P files handed
to the practice's clearinghouse, each claim version is submitted once, replacements carry frequency 7 + REF*F8."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.errors import ValidationFailed
from backoffice.exchange import control_numbers
from backoffice.exchange.models import ClaimSubmission, ControlNumber, EdiFile
from backoffice.exchange.submission import export_837, resend_unsent_files, submit_claims
from backoffice.extensions import db
from backoffice.work.models import Interaction
from backoffice.x12.checks import business_problems
from tests import factories as f
from tests.factories_submission import NOW, edi_setup, scrubbed_claim
from tests.x12_checks import pyx12_errors


def test_control_numbers_are_monotonic_per_organization_and_series(ctx) -> None:  # noqa: ANN001
    org, other = f.make_org(), f.make_org()
    assert control_numbers.allocate(org.id, "interchange") == 1
    assert control_numbers.allocate(org.id, "interchange") == 2
    assert control_numbers.allocate(org.id, "transaction", 3) == 1
    assert control_numbers.allocate(org.id, "transaction") == 4
    assert control_numbers.allocate(other.id, "interchange") == 1
    # a file's three blocks in one statement: each series goes on from where it was, a new one starts at 1
    blocks = control_numbers.allocate_blocks(org.id, {"transaction": 2, "interchange": 1, "group": 1})
    assert blocks == {"interchange": 3, "group": 1, "transaction": 5}
    db.session.commit()
    row = db.session.get(ControlNumber, (org.id, "transaction"))
    assert row.last_value == 6


def test_a_rolled_back_allocation_hands_out_nothing_that_was_committed(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    first = control_numbers.allocate(org.id, "interchange")
    db.session.commit()
    control_numbers.allocate(org.id, "interchange")
    db.session.rollback()  # the file using it was never kept
    assert control_numbers.allocate(org.id, "interchange") == first + 1


def test_interchange_numbers_never_wrap_past_nine_digits(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    db.session.add(ControlNumber(organization_id=org.id, series="interchange", last_value=999_999_999))
    db.session.commit()
    with pytest.raises(ValidationFailed, match="exhausted"):
        control_numbers.allocate(org.id, "interchange")


def test_an_unknown_series_is_refused(ctx) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match="series"):
        control_numbers.allocate(1, "isa")


@pytest.mark.postgres
def test_concurrent_allocations_never_share_a_number(app) -> None:  # noqa: ANN001
    with app.app_context():
        org_id = f.make_org().id
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            with app.app_context():
                for _ in range(20):
                    first = control_numbers.allocate(org_id, "interchange", 2)
                    db.session.commit()
                    with lock:
                        got.extend((first, first + 1))
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(got) == list(range(1, 8 * 20 * 2 + 1))


def _drop(tmp_path: Path) -> FileDrop:
    return FileDrop(tmp_path / "outbox", tmp_path / "inbox")


def test_scrubbed_claims_become_one_valid_837p_per_practice(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    other_payer = f.make_payer(org, payer_id="BCBS", name="Blue Cross")
    claims = [scrubbed_claim(practice, provider, payer) for _ in range(2)]
    claims.append(scrubbed_claim(practice, provider, other_payer, two_lines=True))
    drop = _drop(tmp_path)
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test",
                           adapter=drop)  # fmt: skip
    assert result.skipped == []
    assert sorted(result.submitted) == sorted(c.id for c in claims)
    (sent,) = result.files
    (written,) = (tmp_path / "outbox").iterdir()
    assert written.name == f"837P-{practice.slug}-000000001.x12" == sent.filename
    text = written.read_text(encoding="ascii")
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
    assert "*000000001*0*P*:~" in text  # production usage, ISA13 from the persisted series
    assert text.count("ST*837*") == 2  # one transaction set per payer
    assert "SBR*P*18**" in text and "*BL~" in text  # BCBS files under BL
    edi_file = db.session.get(EdiFile, sent.edi_file_id)
    assert (edi_file.direction, edi_file.kind, edi_file.status, edi_file.summary["claims"]) == (
        "outbound", "837P", "written", 3)  # fmt: skip
    subs = db.session.scalars(select(ClaimSubmission).order_by(ClaimSubmission.claim_id)).all()
    assert [(s.claim_id, s.claim_version, s.interchange_control_number) for s in subs] == [
        (c.id, 1, "000000001") for c in claims
    ]
    assert {s.transaction_control_number for s in subs} == {"0001", "0002"}
    for claim in claims:
        db.session.refresh(claim)
        assert (claim.status, claim.submitted_at) == ("submitted", NOW)
    logged = db.session.scalars(select(Interaction).where(Interaction.claim_id == claims[0].id)).all()
    assert any("Submitted in 837P-" in (i.body or "") for i in logged)


def test_submitting_the_same_claims_again_is_a_no_op(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    drop = _drop(tmp_path)
    submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    again = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    assert again.submitted == [] and again.files == []
    assert again.skipped == [(claim.id, "version 1 already submitted")]
    assert len(list((tmp_path / "outbox").iterdir())) == 1
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) == 1


def test_a_version_already_on_file_is_skipped_even_when_the_status_says_scrubbed(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    drop = _drop(tmp_path)
    submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    claim.status = "scrubbed"  # e.g. a retried job after someone reset the status by hand
    db.session.commit()
    again = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    assert again.skipped == [(claim.id, "version 1 already submitted")]


def test_claims_not_scrubbed_or_not_ours_are_skipped_with_why(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    draft = scrubbed_claim(practice, provider, payer, status="draft")
    other_org, other_practice, other_provider, other_payer = edi_setup()
    foreign = scrubbed_claim(other_practice, other_provider, other_payer)
    result = submit_claims(organization_id=org.id, claim_ids=[draft.id, foreign.id], now=NOW, source="test",
                           adapter=_drop(tmp_path))  # fmt: skip
    assert sorted(result.skipped) == sorted(
        [(draft.id, "status draft, not scrubbed"), (foreign.id, "no such claim in this organization")]
    )
    assert not (tmp_path / "outbox").exists()


def test_one_claim_that_cannot_be_billed_is_reported_and_the_rest_go(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    good = scrubbed_claim(practice, provider, payer)
    homeless = scrubbed_claim(practice, provider, payer)
    patient = db.session.get(Claim, homeless.id)
    from backoffice.patients.models import Patient

    db.session.get(Patient, patient.patient_id).address_line1 = None
    db.session.commit()
    result = submit_claims(organization_id=org.id, claim_ids=[good.id, homeless.id], now=NOW, source="test",
                           adapter=_drop(tmp_path))  # fmt: skip
    assert result.submitted == [good.id]
    assert result.skipped == [(homeless.id, f"claim {homeless.account_number}: the patient has no address on file "
                                            "(2010BA N3/N4)")]  # fmt: skip
    assert db.session.get(Claim, homeless.id).status == "scrubbed"


def test_a_replacement_claim_carries_frequency_7_and_the_payer_claim_number(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer, frequency_code="7", payer_claim_number="PCN2026000123",
                           version=2)  # fmt: skip
    result = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test",
                           adapter=_drop(tmp_path))  # fmt: skip
    text = (tmp_path / "outbox" / result.files[0].filename).read_text(encoding="ascii")
    assert f"CLM*{claim.account_number}*150*" in text and "*11:B:7*" in text
    assert "REF*F8*PCN2026000123~" in text
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
    sub = db.session.scalar(select(ClaimSubmission))
    assert (sub.claim_version, sub.frequency_code) == (2, "7")


def test_every_file_gets_new_control_numbers(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    drop = _drop(tmp_path)
    first = scrubbed_claim(practice, provider, payer)
    second = scrubbed_claim(practice, provider, payer)
    a = submit_claims(organization_id=org.id, claim_ids=[first.id], now=NOW, source="test", adapter=drop)
    b = submit_claims(organization_id=org.id, claim_ids=[second.id], now=NOW + timedelta(hours=1), source="test",
                      adapter=drop)  # fmt: skip
    assert (a.files[0].interchange_control_number, b.files[0].interchange_control_number) == ("000000001", "000000002")
    subs = db.session.scalars(select(ClaimSubmission).order_by(ClaimSubmission.id)).all()
    assert [s.transaction_control_number for s in subs] == ["0001", "0002"]


def test_a_failed_commit_sends_nothing(ctx, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    drop = _drop(tmp_path)
    real_commit = db.session.commit

    def failing_commit() -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(db.session, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    monkeypatch.setattr(db.session, "commit", real_commit)
    assert not (tmp_path / "outbox").exists()  # the commit comes first: nothing was ever written
    assert db.session.get(Claim, claim.id).status == "scrubbed"
    assert db.session.scalar(select(func.count()).select_from(EdiFile)) == 0


def test_a_file_committed_but_never_sent_is_resent_once_with_the_same_numbers(ctx, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The outbox: numbers and submissions commit before the send; a send that never happened (the process was
    killed, the folder was unwritable) leaves the file 'sending', and the sweeper sends it with the same ISA/GS/ST
    numbers, so the payer can never receive the claim version under a second interchange."""
    org, practice, provider, payer = edi_setup(clearinghouse="file_drop", edi_outbox=str(tmp_path / "outbox"))
    claims = [scrubbed_claim(practice, provider, payer) for _ in range(2)]

    def unwritable(self, **kw) -> None:  # noqa: ANN001, ANN003
        raise OSError("disk full")

    monkeypatch.setattr(FileDrop, "send", unwritable)
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    assert sorted(result.submitted) == sorted(c.id for c in claims)  # on file: the outbox owns the sending now
    edi_file = db.session.scalars(select(EdiFile)).one()
    assert edi_file.status == "sending" and not (tmp_path / "outbox").exists()
    subs = db.session.scalars(select(ClaimSubmission).order_by(ClaimSubmission.claim_id)).all()
    monkeypatch.undo()

    assert resend_unsent_files(now=NOW + timedelta(minutes=1)) == {"resent": 0}  # a live send may still be running
    assert resend_unsent_files(now=NOW + timedelta(minutes=3)) == {"resent": 1}
    (written,) = (tmp_path / "outbox").iterdir()
    text = written.read_text(encoding="ascii")
    assert written.name == edi_file.filename and f"*{edi_file.interchange_control_number}*0*P*:~" in text
    assert {f"ST*837*{s.transaction_control_number}*" in text for s in subs} == {True}
    assert business_problems(text) == []
    db.session.refresh(edi_file)
    assert edi_file.status == "written"
    assert resend_unsent_files(now=NOW + timedelta(minutes=10)) == {"resent": 0}
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) == 2  # still one per version
    assert db.session.scalar(select(ControlNumber.last_value).where(ControlNumber.series == "interchange")) == 1


def test_export_writes_every_scrubbed_claim_of_every_organization(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    other_org, other_practice, other_provider, other_payer = edi_setup()
    claims = [scrubbed_claim(practice, provider, payer), scrubbed_claim(other_practice, other_provider, other_payer)]
    scrubbed_claim(practice, provider, payer, status="draft")
    result = export_837(out_dir=tmp_path / "out", now=NOW)
    assert sorted(result.submitted) == sorted(c.id for c in claims)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted([f"837P-{practice.slug}-000000001.x12", f"837P-{other_practice.slug}-000000001.x12"])
    assert export_837(out_dir=tmp_path / "out", now=NOW).submitted == []


def test_a_secondary_claim_carries_the_primary_payers_adjudication(ctx, tmp_path) -> None:  # noqa: ANN001
    from backoffice.exchange.ingest import ingest_all
    from tests.factories_submission import account_for, secondary_claim

    org, practice, provider, payer = edi_setup()
    medicaid = f.make_payer(org, payer_id="MCD01", name="State Medicaid", kind="medicaid")
    primary = scrubbed_claim(practice, provider, payer, account_number=account_for("coinsurance"))
    submit_claims(organization_id=org.id, claim_ids=[primary.id], now=NOW, source="test")  # the sandbox payer
    ingest_all(now=NOW)
    assert db.session.get(Claim, primary.id).status == "paid"
    secondary = secondary_claim(db.session.get(Claim, primary.id), medicaid)
    result = submit_claims(organization_id=org.id, claim_ids=[secondary.id], now=NOW, source="test",
                           adapter=_drop(tmp_path))  # fmt: skip
    assert result.skipped == [] and result.submitted == [secondary.id]
    text = (tmp_path / "outbox" / result.files[0].filename).read_text(encoding="ascii")
    assert "SBR*S*18*" in text and "*MC~" in text  # billed to Medicaid as secondary
    assert "SBR*P*18*" in text and f"NM1*PR*2*AETNA TEST*****PI*{payer.payer_id}~" in text  # the prior payer
    assert "CAS*PR*2*" in text and "SVD*" in text  # its coinsurance and line adjudication
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
