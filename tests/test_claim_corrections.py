"""Corrections through the Sandbox payer, end to end: a denial corrected by a replacement (frequency 7, REF*F8) is
paid; a wrong-payer denial is rebilled after the coverage is fixed and paid; a void (8) is accepted, closes the claim
and signals ``claim-voided``. Every correction is a kept claim version with its reason, and the 837P passes pyx12
and our business checks. A rejection fixed in its header (member ID) is resubmitted; an unchanged one is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import select

from backoffice import signals
from backoffice.authorizations.models import AuthorizationUse
from backoffice.authorizations.services import take_units_for_claim
from backoffice.automation.runner import run_automated_item
from backoffice.claims.corrections import (
    HeaderEdit,
    correct_claim,
    correction_deadline,
    fix_coverage,
    rebill_claim,
    replace_claim,
    void_claim,
)
from backoffice.claims.models import Claim, ClaimVersion
from backoffice.claims.rules import actions_for_family, correction_problem, snapshot_changes
from backoffice.clearinghouse.sandbox_x12 import scenario_for, sent_scenario
from backoffice.errors import InvalidTransition, NotAllowed, ValidationFailed
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.itemforms.services import save_claim_lines
from backoffice.patients.models import Authorization, Coverage, Patient
from backoffice.remits.models import PaymentAdjustment
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, WorkItem
from backoffice.x12.checks import business_problems
from tests import factories as f
from tests.factories_submission import NOW, account_for, edi_setup, scrubbed_claim
from tests.x12_checks import pyx12_errors


def _adjudicated(scenario: str, account: str | None = None, **setup_kw):  # noqa: ANN003, ANN202
    """A claim sent to the Sandbox payer and answered (999, 277CA, 835) with ``scenario``."""
    org, practice, provider, payer = edi_setup(**setup_kw)
    claim = scrubbed_claim(practice, provider, payer, account_number=account or account_for(scenario))
    result = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test")
    assert result.submitted == [claim.id], result.skipped
    ingest_all(now=NOW)
    user = f.make_user(org, "biller", [practice])
    return org, practice, payer, db.session.get(Claim, claim.id), user


def _send_queued(item_id: int, now=NOW) -> str:  # noqa: ANN001
    """Run the queued submit item (the normal path) and return the 837P text the Sandbox received."""
    outcome = run_automated_item(item_id, now=now)
    assert outcome["status"] == "done", outcome
    edi_file = db.session.scalar(select(EdiFile).where(EdiFile.kind == "837P").order_by(EdiFile.id.desc()).limit(1))
    settings_root = Path(current_app.config["BACKOFFICE_SETTINGS"].instance_path) / "edi" / "sandbox"
    sent = next(settings_root.glob(f"*/sent/{edi_file.filename}"))
    return sent.read_text(encoding="ascii")


def _checked(text: str, tmp_path: Path) -> str:
    assert business_problems(text) == []
    assert pyx12_errors(text, tmp_path) == []
    return text


def test_a_denial_corrected_by_a_replacement_is_paid(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_auth")
    assert claim.status == "denied" and claim.payer_claim_number
    denial = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == claim.id, WorkItem.kind == "work_denial"))
    assert denial is not None and denial.state.value == "ready"

    done = replace_claim(claim=claim, actor=user, now=NOW, reason="authorization on file: add REF*G1",
                         edit=HeaderEdit(auth_number="AUTH-2026-77"))  # fmt: skip
    claim = db.session.get(Claim, claim.id)
    assert (claim.frequency_code, claim.version, claim.status) == ("7", 2, "scrubbed")
    assert done.warnings == [] and done.submit_item_id is not None
    assert db.session.get(WorkItem, denial.id).state.value == "done"  # the correction resolves the denial

    text = _checked(_send_queued(done.submit_item_id), tmp_path)
    assert f"CLM*{claim.account_number}*150*" in text and "*11:B:7*" in text
    assert f"REF*F8*{claim.payer_claim_number}~" in text and "REF*G1*AUTH-2026-77~" in text
    ingest_all(now=NOW)
    claim = db.session.get(Claim, claim.id)
    assert claim.status == "paid" and claim.paid_amount > 0

    versions = db.session.scalars(select(ClaimVersion).where(ClaimVersion.claim_id == claim.id)
                                  .order_by(ClaimVersion.version)).all()  # fmt: skip
    assert [(v.version, v.kind, v.frequency_code) for v in versions] == [(1, "original", "1"), (2, "replacement", "7")]
    assert versions[1].reason == "authorization on file: add REF*G1" and versions[1].actor_user_id == user.id
    changed = {c["field"]: (c["before"], c["after"]) for c in versions[1].changes}
    assert changed["auth_number"] == ("", "AUTH-2026-77")
    assert versions[0].snapshot["auth_number"] == ""  # what version 1 billed is kept as it was
    subs = db.session.scalars(select(ClaimSubmission).where(ClaimSubmission.claim_id == claim.id)
                              .order_by(ClaimSubmission.claim_version)).all()  # fmt: skip
    assert [(s.claim_version, s.frequency_code) for s in subs] == [(1, "1"), (2, "7")]
    logged = db.session.scalars(select(Interaction.body).where(Interaction.claim_id == claim.id)).all()
    assert any(body.startswith("Replacement (frequency 7") for body in logged)


def _wrong_payer_account() -> str:
    """A CLM01 the Sandbox denies as wrong payer (CO-109) whose rebill (-R1) it pays."""
    while True:
        account = account_for("denied_wrong_payer")
        if scenario_for(f"{account}-R1") == "paid":
            return account


def test_a_wrong_payer_denial_is_rebilled_after_the_coverage_is_fixed_and_paid(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_wrong_payer", _wrong_payer_account())
    assert claim.status == "denied"
    with pytest.raises(ValidationFailed, match="fix the coverage first"):
        rebill_claim(claim=claim, actor=user, now=NOW, reason="bill the right payer")
    db.session.rollback()
    right = f.make_payer(org, payer_id="UHC01", name="United Test")
    changed = fix_coverage(claim=claim, actor=user, now=NOW, reason="card on file was the old plan",
                           edit=HeaderEdit(payer_id=right.id, member_id="U998877665"))  # fmt: skip
    assert changed == ["member ID", "payer"]
    patient = db.session.get(Patient, claim.patient_id)  # United's own member file has the patient
    f.enroll_in_sandbox(practice, right, patient, "U998877665")
    db.session.commit()

    done = rebill_claim(claim=claim, actor=user, now=NOW, reason="CO-109: the patient's plan is United")
    new, old = done.claim, db.session.get(Claim, claim.id)
    assert old.status == "closed"
    assert (new.account_number, new.frequency_code, new.payer_id, new.parent_claim_id, new.status) == (
        f"{claim.account_number}-R1", "1", right.id, old.id, "scrubbed")  # fmt: skip
    assert db.session.scalar(select(ClaimVersion.kind).where(ClaimVersion.claim_id == new.id)) == "rebill"

    text = _checked(_send_queued(done.submit_item_id), tmp_path)
    assert "NM1*PR*2*UNITED TEST*****PI*UHC01~" in text and "*11:B:1*" in text and "REF*F8" not in text
    assert "U998877665" in text
    ingest_all(now=NOW)
    new = db.session.get(Claim, new.id)
    assert new.status == "paid" and new.paid_amount > 0
    assert db.session.get(Claim, old.id).status == "closed"


def test_a_void_is_accepted_closes_the_claim_and_signals_claim_voided(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("paid")
    assert claim.status == "paid"
    # the session drew one visit of a 10-visit authorization: the accepted void gives it back
    day = claim.lines[0].date_of_service
    auth = Authorization(patient_id=claim.patient_id, payer_id=payer.id, number="PA-V10", cpt_codes=["90834"],
                         counts_visits=True, authorized=10, used=0, start_date=day - timedelta(days=30),
                         end_date=day + timedelta(days=300))  # fmt: skip
    db.session.add(auth)
    db.session.flush()
    assert take_units_for_claim(claim=claim, now=NOW) == {"PA-V10": 1}
    db.session.commit()
    assert db.session.get(Authorization, auth.id).used == 1
    heard: list[tuple[int, object]] = []

    def listen(sender: Claim, **kw: object) -> None:
        heard.append((sender.id, kw["now"]))

    signals.claim_voided.connect(listen)
    try:
        done = void_claim(claim=claim, actor=user, now=NOW, reason="session billed in error")
        assert (done.claim.frequency_code, done.claim.status, done.claim.version) == ("8", "scrubbed", 2)
        text = _checked(_send_queued(done.submit_item_id), tmp_path)
        assert "*11:B:8*" in text and f"REF*F8*{claim.payer_claim_number}~" in text
        assert heard == []  # not before the payer accepts it
        ingest_all(now=NOW)
    finally:
        signals.claim_voided.disconnect(listen)
    assert db.session.get(Claim, claim.id).status == "closed"
    assert heard == [(claim.id, NOW)]
    db.session.expire_all()
    assert db.session.get(Authorization, auth.id).used == 0  # void (8) accepted → the visit is back
    use = db.session.scalar(select(AuthorizationUse).where(AuthorizationUse.claim_id == claim.id))
    assert use.released_at == NOW and "voided" in use.released_reason
    kinds = db.session.scalars(select(ClaimVersion.kind).where(ClaimVersion.claim_id == claim.id)
                               .order_by(ClaimVersion.version)).all()  # fmt: skip
    assert kinds == ["original", "void"]
    with pytest.raises(InvalidTransition):
        void_claim(claim=db.session.get(Claim, claim.id), actor=user, now=NOW, reason="again")


def test_a_replacement_needs_an_adjudicated_claim_with_the_payer_claim_number(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    user = f.make_user(org, "biller", [practice])
    scrubbed = scrubbed_claim(practice, provider, payer)
    with pytest.raises(InvalidTransition, match="adjudicated"):
        replace_claim(claim=scrubbed, actor=user, now=NOW, reason="x", edit=HeaderEdit(auth_number="A1"))
    denied = scrubbed_claim(practice, provider, payer, status="denied")
    with pytest.raises(InvalidTransition, match="REF\\*F8"):
        void_claim(claim=denied, actor=user, now=NOW, reason="x")
    assert correction_problem(status="paid", frequency="8", payer_claim_number="X", correction="7")
    assert correction_problem(status="paid", frequency="1", payer_claim_number="X", correction="7") is None


def test_an_unchanged_replacement_is_refused_and_changes_nothing(ctx) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_info")
    with pytest.raises(ValidationFailed, match="nothing changed since version 1"):
        replace_claim(claim=claim, actor=user, now=NOW, reason="try again")
    db.session.rollback()
    claim = db.session.get(Claim, claim.id)
    assert (claim.version, claim.frequency_code, claim.status) == (1, "1", "denied")


def test_a_replacement_past_the_payers_corrected_claim_limit_goes_with_a_warning(ctx, clock_pin) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_info")
    payer.corrected_claim_window_days = 30
    db.session.commit()
    deadline = correction_deadline(claim)
    assert deadline.due >= (NOW + timedelta(days=30)).date() and "30 days" in deadline.basis
    later = NOW + timedelta(days=45)
    done = replace_claim(claim=claim, actor=user, now=later, reason="diagnosis corrected",
                         edit=HeaderEdit(diagnoses=("F33.0",)))  # fmt: skip
    assert len(done.warnings) == 1 and "past the corrected-claim limit" in done.warnings[0]
    assert done.claim.status == "scrubbed"
    body = db.session.scalar(select(Interaction.body).where(Interaction.claim_id == claim.id,
                                                            Interaction.body.like("Replacement%")))  # fmt: skip
    assert "WARNING past the corrected-claim limit" in body


def test_corrections_stay_in_the_actors_organization(ctx) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_info")
    stranger = f.make_user(f.make_org(), "biller")
    with pytest.raises(NotAllowed):
        replace_claim(claim=claim, actor=stranger, now=NOW, reason="x", edit=HeaderEdit(auth_number="A"))


def test_a_rejected_claims_member_id_is_corrected_and_resubmitted_and_an_unchanged_one_is_refused(ctx) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("rejected")
    assert claim.status == "rejected"
    fix = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == claim.id, WorkItem.kind == "fix_rejection"))
    assert fix is not None
    rows = [{"cpt": "90834", "modifiers": "", "units": "1", "pos": "11", "pointers": "1"}]
    with pytest.raises(ValidationFailed, match="nothing changed since version 1"):
        save_claim_lines(item=fix, actor=user, now=NOW, lines=rows, version=claim.version, finish=True)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="nothing changed"):
        correct_claim(claim=db.session.get(Claim, claim.id), actor=user, now=NOW, edit=HeaderEdit(),
                      reason="resend", resubmit=True)  # fmt: skip
    db.session.rollback()
    claim = db.session.get(Claim, claim.id)
    assert (claim.version, claim.status) == (1, "rejected")

    done = correct_claim(claim=claim, actor=user, now=NOW, edit=HeaderEdit(member_id="W123456789"),
                         reason="277CA: subscriber not found; member ID from the card", resubmit=True)  # fmt: skip
    claim = db.session.get(Claim, claim.id)
    assert (claim.version, claim.status, claim.frequency_code) == (2, "scrubbed", "1")
    assert db.session.get(Coverage, claim.coverage_id).member_id == "W123456789"
    assert db.session.get(WorkItem, fix.id).state.value == "done"
    submit = db.session.get(WorkItem, done.submit_item_id)
    assert (submit.kind, submit.mode.value, submit.claim_id) == ("submit", "automated", claim.id)
    kept = db.session.scalar(select(ClaimVersion).where(ClaimVersion.claim_id == claim.id, ClaimVersion.version == 2))
    member = next(c for c in kept.changes if c["field"] == "member_id")
    assert member["after"] == "W123456789" and member["before"] != "W123456789"


def test_a_header_correction_with_a_bad_diagnosis_names_it_and_keeps_nothing(ctx) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("rejected")
    with pytest.raises(ValidationFailed, match="diagnosis 2"):
        correct_claim(claim=claim, actor=user, now=NOW, edit=HeaderEdit(diagnoses=("F33.1", "33.1X")),
                      reason="add a diagnosis")  # fmt: skip
    db.session.rollback()
    session = db.session.get(Session, claim.session_id)
    assert session.diagnoses == ["F33.1"] and db.session.get(Claim, claim.id).version == 1
    with pytest.raises(ValidationFailed, match="date of service: cannot be in the future"):
        correct_claim(claim=claim, actor=user, now=NOW, edit=HeaderEdit(date_of_service=NOW.date() + timedelta(1)),
                      reason="dos")  # fmt: skip


def test_the_date_of_service_correction_moves_the_lines_too(ctx) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("rejected")
    day = NOW.date() - timedelta(days=5)
    correct_claim(claim=claim, actor=user, now=NOW, edit=HeaderEdit(date_of_service=day), reason="277CA: DOS")
    claim = db.session.get(Claim, claim.id)
    assert {line.date_of_service for line in claim.lines} == {day}
    assert db.session.get(Session, claim.session_id).date_of_service == day


def test_the_sandbox_pays_replacements_and_accepts_voids_without_remitting() -> None:
    assert sent_scenario("ANY-1", "7") == "paid" and sent_scenario("ANY-1", "8") == "no_response"
    assert sent_scenario("ANY-1", "1") == scenario_for("ANY-1")


def test_version_differences_leave_bookkeeping_out() -> None:
    before = {"version": 1, "status": "denied", "member_id": "A", "lines": ["1: x"]}
    after = {"version": 2, "status": "scrubbed", "member_id": "B", "lines": ["1: x"]}
    assert snapshot_changes(before, after) == [{"field": "member_id", "before": "A", "after": "B"}]
    assert snapshot_changes(None, after) == []


@pytest.mark.parametrize(
    "family, first",
    [("eligibility", "rebill"), ("coding", "replace"), ("medical_necessity", "appeal"), ("timely_filing", "appeal"),
     ("authorization", "replace"), (None, "replace")],
)  # fmt: skip
def test_a_denial_family_offers_the_actions_it_calls_for(family: str | None, first: str) -> None:
    actions = actions_for_family(family)
    assert actions[0] == first
    assert "write_off" in actions or family == "records"


def test_a_replacement_with_corrected_lines_keeps_the_adjudicated_line_rows(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, payer, claim, user = _adjudicated("denied_info")
    line_id = claim.lines[0].id
    posted = db.session.scalar(select(PaymentAdjustment.id).where(PaymentAdjustment.claim_line_id == line_id))
    assert posted is not None  # the denial's CAS points at the line
    rows = [{"cpt": "90837", "modifiers": "", "units": "1", "pos": "11", "pointers": "1"}]
    done = replace_claim(claim=claim, actor=user, now=NOW, reason="60-minute session, not 45", lines=rows)
    claim = db.session.get(Claim, claim.id)
    assert [(x.id, x.cpt, str(x.charge)) for x in claim.lines] == [(line_id, "90837", "200.00")]
    assert str(claim.total_charge) == "200.00" and claim.frequency_code == "7"
    kept = db.session.scalars(select(ClaimVersion).where(ClaimVersion.claim_id == claim.id)
                              .order_by(ClaimVersion.version)).all()  # fmt: skip
    assert "90834" in kept[0].snapshot["lines"][0] and "90837" in kept[1].snapshot["lines"][0]
    text = _checked(_send_queued(done.submit_item_id), tmp_path)
    assert "SV1*HC:90837*200*UN*1" in text and "*11:B:7*" in text
