"""Clearinghouse adapters: the practice's configuration picks one; FileDrop writes to the practice's outbox and
reads its inbox; the Sandbox answers an 837P at once with a 999, a 277CA and an 835, and a 270 from coverage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.adapters import clearinghouse_for
from backoffice.clearinghouse.base import InboundFile
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.sandbox import Sandbox, benefits_answer, enroll_member, member_hash
from backoffice.clearinghouse.sandbox_models import SandboxMember
from backoffice.errors import ValidationFailed
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from tests import factories as f
from tests.factories_submission import NOW, edi_setup, scrubbed_claim


def _settings():  # noqa: ANN202
    return current_app.config["BACKOFFICE_SETTINGS"]


def test_the_practice_configuration_picks_the_adapter(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    assert isinstance(clearinghouse_for(practice, _settings()), Sandbox)
    practice.clearinghouse, practice.edi_outbox, practice.edi_inbox = "file_drop", str(tmp_path / "o"), None
    drop = clearinghouse_for(practice, _settings())
    assert isinstance(drop, FileDrop) and drop.outbox == tmp_path / "o" and drop.fetch(practice=practice) == []
    practice.clearinghouse = "availity"
    with pytest.raises(ValidationFailed, match=f"practice {practice.slug}: unknown clearinghouse 'availity'"):
        clearinghouse_for(practice, _settings())


def test_a_file_drop_practice_without_an_outbox_is_a_setup_error_naming_it(ctx) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup(clearinghouse="file_drop")
    with pytest.raises(ValidationFailed, match=f"practice {practice.slug}: set edi_outbox"):
        clearinghouse_for(practice, _settings())


def test_each_file_drop_practice_writes_to_its_own_outbox(ctx, tmp_path) -> None:  # noqa: ANN001
    org, first, provider, payer = edi_setup(clearinghouse="file_drop", edi_outbox=str(tmp_path / "a" / "out"))
    second = f.make_practice(org, taxonomy="261QM0801X", clearinghouse="file_drop",
                             edi_outbox=str(tmp_path / "b" / "out"))  # fmt: skip
    claims = [scrubbed_claim(first, provider, payer), scrubbed_claim(second, f.make_provider(second), payer)]
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    assert result.skipped == []
    assert [p.name for p in (tmp_path / "a" / "out").iterdir()] == [f"837P-{first.slug}-000000001.x12"]
    assert [p.name for p in (tmp_path / "b" / "out").iterdir()] == [f"837P-{second.slug}-000000002.x12"]


def test_a_file_drop_practice_without_an_outbox_keeps_its_claims_with_why(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup(clearinghouse="file_drop")
    claim = scrubbed_claim(practice, provider, payer)
    result = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test")
    assert result.submitted == []
    assert result.skipped == [(claim.id, f"practice {practice.slug}: set edi_outbox (the folder the clearinghouse "
                                         "uploads)")]  # fmt: skip


def test_file_drop_writes_atomically_and_moves_inbound_files_when_done(ctx, tmp_path) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    drop = FileDrop(tmp_path / "out", tmp_path / "in")
    drop.send(practice=practice, filename="837P-x-000000001.x12", content="ISA*...~", now=NOW)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["837P-x-000000001.x12"]  # no temporary file left
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "b.835").write_text("B", encoding="ascii")
    (tmp_path / "in" / "a.999").write_text("A", encoding="ascii")
    (tmp_path / "in" / ".partial").write_text("sync in progress", encoding="ascii")
    files = drop.fetch(practice=practice)
    assert files == [InboundFile("a.999", "A"), InboundFile("b.835", "B")]
    drop.done(practice=practice, file=files[0], ok=True)
    drop.done(practice=practice, file=files[1], ok=False)
    assert (tmp_path / "in" / "processed" / "a.999").read_text() == "A"
    assert (tmp_path / "in" / "failed" / "b.835").read_text() == "B"
    assert [file.filename for file in drop.fetch(practice=practice)] == []
    drop.retract(practice=practice, filename="837P-x-000000001.x12")
    assert list((tmp_path / "out").iterdir()) == []


def _question(member_id: str, payer_id: str, service_date: date = date(2026, 11, 20)) -> sx.EligibilityQuestion:
    return sx.EligibilityQuestion(
        trace_number="T1", member_id=member_id, first_name="Pat", last_name="Patient", date_of_birth=date(1980, 1, 1),
        sex="F", payer_id=payer_id, payer_name="Payer", provider_npi="1558598797", provider_name="Calm Mind",
        service_date=service_date,
    )  # fmt: skip


def test_sandbox_benefits_come_from_its_own_member_file_not_our_coverage(ctx) -> None:  # noqa: ANN001
    org, practice, _, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    coverage.effective_to = date(2026, 6, 30)  # our record says it ended: the payer's file is what counts
    db.session.commit()
    answer = benefits_answer(practice, _question(coverage.member_id, payer.payer_id))
    assert answer.active and answer.in_network and not answer.auth_required and answer.rejection == ""
    profile = member_hash(coverage.member_id) % 4
    assert (answer.copay, answer.coinsurance_percent) == [
        (Decimal("30.00"), None), (None, Decimal("20")), (Decimal("20.00"), None), (None, Decimal("10"))
    ][profile]  # fmt: skip
    assert answer.visits_remaining == 30 - member_hash(coverage.member_id) % 10
    assert answer == benefits_answer(practice, _question(coverage.member_id, payer.payer_id))  # deterministic
    member = db.session.scalar(select(SandboxMember).where(SandboxMember.member_id == coverage.member_id))
    member.effective_to = date(2026, 12, 31)
    db.session.commit()
    late = benefits_answer(practice, _question(coverage.member_id, payer.payer_id, date(2027, 1, 5)))
    assert not late.active and late.rejection == ""
    assert benefits_answer(practice, _question("NOSUCHMEMBER", payer.payer_id)).rejection == "75"
    wrong_birth = replace(_question(coverage.member_id, payer.payer_id), date_of_birth=date(1981, 1, 1))
    assert benefits_answer(practice, wrong_birth).rejection == "71"
    assert benefits_answer(practice, _question(coverage.member_id, "OTHERPAYER")).rejection == "75"


def test_sandbox_finds_a_dependent_under_the_subscriber_by_name_and_birth_date(ctx) -> None:  # noqa: ANN001
    org, practice, _, payer = edi_setup()
    enroll_member(organization_id=org.id, payer_id=payer.payer_id, payer_kind="commercial", member_id="FAM1",
                  first_name="Dana", last_name="Doe", date_of_birth=date(1975, 3, 3), sex="F",
                  effective_from=date(2026, 1, 1), copay=Decimal("15.00"))  # fmt: skip
    enroll_member(organization_id=org.id, payer_id=payer.payer_id, payer_kind="commercial", member_id="FAM1",
                  first_name="Kid", last_name="Doe", date_of_birth=date(2014, 5, 6), sex="M", relationship="19",
                  effective_from=date(2026, 1, 1), copay=Decimal("10.00"), auth_required=True)  # fmt: skip
    db.session.commit()
    child = replace(
        _question("FAM1", payer.payer_id), first_name="Kid", last_name="Doe", date_of_birth=date(2014, 5, 6), sex="M",
        relationship="19", subscriber_first_name="Dana", subscriber_last_name="Doe",
        subscriber_date_of_birth=date(1975, 3, 3), subscriber_sex="F",
    )  # fmt: skip
    answer = benefits_answer(practice, child)
    assert answer.active and answer.copay == Decimal("10.00") and answer.auth_required
    assert benefits_answer(practice, replace(child, first_name="Other")).rejection == "77"
    assert benefits_answer(practice, replace(child, date_of_birth=date(2015, 5, 6))).rejection == "71"


def test_sandbox_benefits_say_auth_required_and_medicaid_pays_everything(ctx) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    medicaid = f.make_payer(org, payer_id="MCD01", kind="medicaid", prior_auth_cpts=["90837"])
    patient = f.make_patient(practice, medicaid)
    member = db.session.scalar(select(SandboxMember).where(SandboxMember.payer_id == "MCD01"))
    member.auth_required = True
    db.session.commit()
    answer = benefits_answer(practice, _question(member.member_id, "MCD01"))
    assert answer.auth_required and answer.copay == Decimal("0.00") and answer.coinsurance_percent is None
    assert patient.id


def test_the_sandbox_answers_an_837p_at_once_and_deterministically(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claims = [scrubbed_claim(practice, provider, payer, two_lines=True) for _ in range(6)]
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    assert len(result.submitted) == 6
    sandbox = clearinghouse_for(practice, _settings())
    assert (
        sandbox.folder(practice, "inbox")
        == Path(_settings().instance_path) / "edi" / "sandbox" / practice.slug / "inbox"
    )
    names = {file.filename for file in sandbox.fetch(practice=practice)}
    remitted = [c for c in claims if sx.scenario_for(c.account_number) not in ("rejected", "no_response")]
    assert names == {"000000001-1-999.x12", "000000001-2-277CA.x12"} | ({"000000001-3-835.x12"} if remitted else set())
    sent = (sandbox.folder(practice, "sent") / result.files[0].filename).read_text(encoding="ascii")
    again = Sandbox(tmp_path / "again")
    again.send(practice=practice, filename=result.files[0].filename, content=sent, now=NOW)
    for file in sandbox.fetch(practice=practice):
        assert (again.folder(practice, "inbox") / file.filename).read_text(encoding="ascii") == file.content


def test_the_sandbox_answers_eligibility_now_with_a_271(ctx) -> None:  # noqa: ANN001
    org, practice, _, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    member = db.session.scalar(select(Coverage.member_id).where(Coverage.patient_id == patient.id))
    text = clearinghouse_for(practice, _settings()).check_eligibility(
        practice=practice, questions=[_question(member, payer.payer_id)], now=NOW
    )
    assert text is not None and "ST*271*" in text and "*000000001*" in text  # ISA13 from the persisted series


def test_file_drop_eligibility_writes_a_270_and_waits_for_the_inbox(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, _, payer = edi_setup(clearinghouse="file_drop", edi_outbox=str(tmp_path / "out"))
    answer = clearinghouse_for(practice, _settings()).check_eligibility(
        practice=practice, questions=[_question("M1", payer.payer_id)], now=NOW
    )
    assert answer is None
    (written,) = (tmp_path / "out").iterdir()
    assert written.name == f"270-{practice.slug}-000000001.x12"
    assert "ST*270*" in written.read_text(encoding="ascii")
