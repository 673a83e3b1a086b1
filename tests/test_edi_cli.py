"""`backoffice edi parse-835`: the JSON contract on the golden remittance, and a clear error on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.cli import cli

GOLDEN = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples" / "golden"


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="shared/x12/samples is not beside the repository")
def test_parse_835_prints_the_contract_with_money_as_decimal_strings(runner) -> None:  # noqa: ANN001
    result = runner.invoke(cli, ["edi", "parse-835", str(GOLDEN / "handmade_835_mental_health.txt"), "--json"])
    assert result.exit_code == 0, result.output
    (payment,) = json.loads(result.stdout)["transactions"]
    assert (payment["total_paid"], payment["balanced"], payment["check_number"]) == ("207.50", True, "EFT0000123")
    assert payment["payee"] == {"name": "CALM MIND COUNSELING LLC", "npi": "1234567893"}
    first = payment["claims"][0]
    assert (first["claim_id"], first["charge"], first["paid"], first["patient_responsibility"]) == (
        "PCN0001", "150.00", "97.50", "20.00")  # fmt: skip
    assert set(first["services"][0]) == {"code", "modifiers", "charge", "paid", "units", "date", "adjustments"}


def test_parse_835_reports_an_unreadable_file_by_segment(runner, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.835"
    bad.write_text("this is not x12")
    result = runner.invoke(cli, ["edi", "parse-835", str(bad)])
    assert result.exit_code == 1
    assert "bad.835:" in result.output and "ISA" in result.output


# ---- export-837, post-835, ingest ------------------------------------------------------------------------------


def test_export_837_writes_the_ready_claims_and_marks_them_submitted(app, runner, tmp_path) -> None:  # noqa: ANN001
    from backoffice.claims.models import Claim
    from backoffice.extensions import db
    from tests.factories_submission import edi_setup, scrubbed_claim

    with app.app_context():
        org, practice, provider, payer = edi_setup()
        claim_id = scrubbed_claim(practice, provider, payer).id
        slug = org.slug
    out = tmp_path / "out"
    result = runner.invoke(cli, ["edi", "export-837", "--out", str(out), "--org", slug])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / f'837P-{practice.slug}-000000001.x12'}: 1 claim(s), ISA13 000000001" in result.output
    assert "1 claim(s) submitted in 1 file(s), 0 skipped" in result.output
    with app.app_context():
        assert db.session.get(Claim, claim_id).status == "submitted"
    again = runner.invoke(cli, ["edi", "export-837", "--out", str(out)])
    assert "0 claim(s) submitted in 0 file(s)" in again.output
    assert len(list(out.iterdir())) == 1


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="shared/x12/samples is not beside the repository")
def test_post_835_records_the_file_posts_it_and_refuses_it_twice(app, runner) -> None:  # noqa: ANN001
    from backoffice.exchange.models import EdiFile
    from backoffice.extensions import db
    from tests.factories_submission import edi_setup

    with app.app_context():
        edi_setup()
    path = str(GOLDEN / "handmade_835_mental_health.txt")
    first = runner.invoke(cli, ["edi", "post-835", path])
    assert first.exit_code == 0, first.output
    assert "posted handmade_835_mental_health.txt as EDI file 1: 1 remittance(s)" in first.output
    second = runner.invoke(cli, ["edi", "post-835", path])
    assert second.exit_code == 1
    assert "already received as EDI file 1" in second.output and "nothing was posted" in second.output
    with app.app_context():
        (edi_file,) = db.session.query(EdiFile).all()
        assert (edi_file.direction, edi_file.kind, edi_file.status) == ("inbound", "835", "processed")


def test_post_835_refuses_another_kind_of_file(app, runner) -> None:  # noqa: ANN001
    from tests.factories_submission import edi_setup

    with app.app_context():
        edi_setup()
    ack = GOLDEN.parent / "999" / "ims__x12_999_accepted.txt"
    result = runner.invoke(cli, ["edi", "post-835", str(ack)])
    assert result.exit_code == 1
    assert "ST01 is 999, not 835" in result.output


def test_ingest_reads_every_practice_inbox_and_prints_counts(app, runner) -> None:  # noqa: ANN001
    from backoffice.exchange.submission import submit_claims
    from tests.factories_submission import NOW, edi_setup, scrubbed_claim

    with app.app_context():
        org, practice, provider, payer = edi_setup()
        claim = scrubbed_claim(practice, provider, payer, account_number="CLI-INGEST-1")
        submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test")
    result = runner.invoke(cli, ["edi", "ingest"])
    assert result.exit_code == 0, result.output
    assert f"{practice.slug}: 1 999 processed" in result.output
    assert f"{practice.slug}: 1 277CA processed" in result.output
    assert "file(s) read from 1 practice inbox(es)" in result.output


def test_parse_835_reads_a_byte_order_mark_and_lists_the_balancing_problems(runner, tmp_path) -> None:  # noqa: ANN001
    body = [
        "ST*835*0001", "BPR*I*100*C*ACH*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261116",
        "TRN*1*EFT9*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
        "CLP*ACC1*1*150*90*0*12*PCN1*11*1", "SVC*HC:90834*150*90**1", "CAS*CO*45*60", "SE*10*0001",
    ]  # fmt: skip
    text = (
        "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261116*0900*^*00501*000000101*0*P*:~"
        "GS*HP*PAYER01*SUBMITTER01*20261116*0900*101*X*005010X221A1~" + "~".join(body) + "~GE*1*101~IEA*1*000000101~"
    )
    source = tmp_path / "unbalanced.835"
    source.write_bytes(b"\xef\xbb\xbf" + text.encode("ascii") + b"\r\n")
    result = runner.invoke(cli, ["edi", "parse-835", str(source), "--json"])
    assert result.exit_code == 0, result.output
    (payment,) = json.loads(result.stdout)["transactions"]
    assert payment["balanced"] is False and payment["total_paid"] == "100.00"
    assert payment["problems"] and any("BPR02" in problem for problem in payment["problems"]), payment["problems"]
    summary = runner.invoke(cli, ["edi", "parse-835", str(source)])
    assert "NOT BALANCED" in summary.output and payment["problems"][0] in summary.output
