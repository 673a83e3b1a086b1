"""Write-offs under dual control: a biller asks from a claim item, a supervisor other than the requester decides;
approval posts to the claim (and its lines) or the patient ledger, closes a settled claim, and decides once."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backoffice.audit.models import AuditEvent
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import Conflict, NotAllowed, ServiceError, ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import LedgerEntry
from backoffice.supervisor import rules
from backoffice.supervisor.models import WriteOffRequest
from backoffice.supervisor.write_offs import decide_write_off, request_write_off
from backoffice.work import chains
from backoffice.work import services as work
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories_edi_posting import make_claim

NOW = f.NOW
D = Decimal


def _setup() -> dict[str, Any]:
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    payer = f.make_payer(org, name="Aetna")
    patient = f.make_patient(practice, payer)
    claim = make_claim(practice, patient, status=ClaimStatus.DENIED, total_charge=D("200.00"), paid_amount=D("50.00"),
                       lines=[ClaimLine(line_number=n, date_of_service=NOW.date(), cpt=cpt, modifiers=[], units=1,
                                        place_of_service="11", diagnosis_pointers=[1], charge=charge,
                                        paid_amount=paid)
                              for n, cpt, charge, paid in ((1, "90834", D("150.00"), D("50.00")),
                                                           (2, "90785", D("50.00"), D("0.00")))])  # fmt: skip
    item = chains.open_item(practice_id=practice.id, kind="work_denial", now=NOW, reason="denied", claim_id=claim.id)
    return {
        "org": org, "practice": practice, "patient": patient, "claim": claim, "item": item,
        "biller": f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller"),
        "boss": f.make_user(org, role="supervisor", email="boss@example.test", name="Sam Supervisor"),
        "boss2": f.make_user(org, role="supervisor", email="boss2@example.test", name="Sky Supervisor"),
    }  # fmt: skip


@pytest.fixture
def w(ctx: Flask) -> dict[str, Any]:
    return _setup()


def _ask(w: dict[str, Any], *, actor=None, balance="insurance", amount="150.00", reason="timely_filing",
         note=None) -> WriteOffRequest:  # fmt: skip
    return request_write_off(item=w["item"], actor=actor or w["biller"], now=NOW, balance=balance, amount=D(amount),
                             reason=reason, note=note)  # fmt: skip


def test_a_request_makes_a_pending_request_and_an_approval_item_in_the_write_offs_queue(w) -> None:
    request = _ask(w, amount="100.00")
    assert (request.state, request.amount, request.claim_id, request.patient_id) == ("pending", D("100.00"),
                                                                                      w["claim"].id, None)  # fmt: skip
    approval = db.session.get(WorkItem, request.work_item_id)
    assert (approval.kind, approval.queue, approval.claim_id, approval.state) == (
        "approve_write_off",
        "write-offs",
        w["claim"].id,
        ItemState.READY,
    )
    assert approval.amount == D("100.00") and approval.due_at is not None
    note = db.session.scalar(select(Interaction).where(Interaction.work_item_id == w["item"].id,
                                                       Interaction.kind == "note"))  # fmt: skip
    assert "write-off of $100.00 of the insurance balance" in note.body and note.claim_id == w["claim"].id
    db.session.refresh(w["claim"])
    assert w["claim"].adjustment_amount == D("0.00")  # nothing posts before approval


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"amount": "150.01"}, r"amount: more than the open insurance balance \(\$150.00\)"),
        ({"amount": "0"}, "amount: must be more than zero"),
        ({"reason": "hardship", "balance": "patient", "amount": "10.00"}, "note: a hardship write-off needs"),
        ({"reason": "hardship", "balance": "insurance", "note": "income below 100% FPL"}, "patient balance only"),
        ({"reason": "contractual", "balance": "patient", "amount": "10.00"}, "insurance balance only"),
        ({"reason": "other"}, "note: required"),
        ({"reason": "goodwill"}, "reason: expected one of"),
        ({"balance": "patient", "reason": "small_balance", "amount": "30.01"}, r"open patient balance \(\$30.00\)"),
    ],
)
def test_bad_requests_are_refused_naming_the_field_and_change_nothing(w, kw: dict[str, str], message: str) -> None:
    db.session.add(LedgerEntry(practice_id=w["practice"].id, patient_id=w["patient"].id, claim_id=w["claim"].id,
                               kind="patient_responsibility", amount=D("30.00"), reason="PR-1", at=NOW))  # fmt: skip
    db.session.commit()
    with pytest.raises(ValidationFailed, match=message):
        _ask(w, **kw)
    assert db.session.scalar(select(func.count(WriteOffRequest.id))) == 0
    assert db.session.scalar(select(func.count(WorkItem.id))) == 1


def test_a_claim_still_with_the_payer_cannot_be_written_off_and_one_balance_waits_once(w) -> None:
    _ask(w, amount="10.00")
    with pytest.raises(ValidationFailed, match=r"request #\d+ for this balance is still waiting"):
        _ask(w, amount="20.00")
    w["claim"].status = ClaimStatus.SUBMITTED
    db.session.commit()
    with pytest.raises(ValidationFailed, match="a submitted claim cannot be written off"):
        _ask(w, balance="patient", reason="small_balance", amount="1.00")


def test_the_requester_never_approves_their_own_and_a_biller_never_approves(w) -> None:
    own = _ask(w, actor=w["boss"], amount="10.00")
    with pytest.raises(NotAllowed, match="dual control"):
        decide_write_off(request=own, actor=w["boss"], now=NOW, approve=True, note=None)
    with pytest.raises(NotAllowed, match="only a supervisor"):
        decide_write_off(request=own, actor=w["biller"], now=NOW, approve=True, note=None)
    db.session.refresh(own)
    assert own.state == "pending" and own.decided_by_id is None


def test_the_database_refuses_a_decision_by_the_requester_too(w) -> None:
    request = _ask(w, actor=w["boss"], amount="10.00")
    request.state, request.decided_by_id, request.decided_at = "approved", w["boss"].id, NOW
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_approval_posts_to_claim_and_lines_closes_the_settled_claim_and_completes_the_item(w) -> None:
    request = _ask(w, amount="150.00")
    decided = decide_write_off(request=request, actor=w["boss"], now=NOW + timedelta(hours=1), approve=True,
                               note="past the filing limit")  # fmt: skip
    assert (decided.state, decided.decided_by_id, decided.decision_note) == ("approved", w["boss"].id,
                                                                             "past the filing limit")  # fmt: skip
    claim = db.session.get(Claim, w["claim"].id)
    db.session.refresh(claim)
    assert claim.adjustment_amount == D("150.00")
    assert claim.status == ClaimStatus.CLOSED  # charge 200 = paid 50 + written off 150; the patient owes nothing
    lines = {line.line_number: line.adjustment_amount for line in db.session.scalars(select(ClaimLine))}
    assert lines == {1: D("100.00"), 2: D("50.00")}  # each line up to its own open balance, in line order
    approval = db.session.get(WorkItem, request.work_item_id)
    assert approval.state == ItemState.DONE and approval.assignee_id == w["boss"].id
    timeline = [i.body for i in db.session.scalars(select(Interaction).where(Interaction.claim_id == claim.id))]
    assert "Claim closed: nothing left open after the write-off" in timeline
    assert any(body.startswith(f"Write-off request #{request.id} approved") for body in timeline)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "supervisor:write_off"))
    assert event.data["decision"] == "approved" and event.data["claim_closed"] is True


def test_a_partial_write_off_leaves_the_claim_open(w) -> None:
    request = _ask(w, amount="40.00", reason="small_balance")
    decide_write_off(request=request, actor=w["boss"], now=NOW, approve=True, note=None)
    claim = db.session.get(Claim, w["claim"].id)
    db.session.refresh(claim)
    assert (claim.adjustment_amount, claim.status) == (D("40.00"), ClaimStatus.DENIED)


def test_a_patient_write_off_is_a_negative_ledger_entry(w) -> None:
    db.session.add(LedgerEntry(practice_id=w["practice"].id, patient_id=w["patient"].id, claim_id=w["claim"].id,
                               kind="patient_responsibility", amount=D("30.00"), reason="PR-1", at=NOW))  # fmt: skip
    db.session.commit()
    request = _ask(w, balance="patient", reason="hardship", amount="30.00", note="determination #12: 90% FPL")
    assert request.patient_id == w["patient"].id
    decide_write_off(request=request, actor=w["boss"], now=NOW, approve=True, note=None)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "write_off"))
    assert (entry.amount, entry.claim_id, entry.patient_id) == (D("-30.00"), w["claim"].id, w["patient"].id)
    total = db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.patient_id == w["patient"].id))
    assert total == D("0.00")
    db.session.refresh(w["claim"])
    assert w["claim"].adjustment_amount == D("0.00") and w["claim"].status == ClaimStatus.DENIED  # payer still owes


def test_a_rejection_needs_a_note_and_posts_nothing(w) -> None:
    request = _ask(w, amount="150.00")
    with pytest.raises(ValidationFailed, match="note: say why"):
        decide_write_off(request=request, actor=w["boss"], now=NOW, approve=False, note=" ")
    decide_write_off(request=request, actor=w["boss"], now=NOW, approve=False, note="appeal first")
    db.session.refresh(request)
    db.session.refresh(w["claim"])
    assert request.state == "rejected" and w["claim"].adjustment_amount == D("0.00")
    assert db.session.get(WorkItem, request.work_item_id).state == ItemState.DONE


def test_a_second_decision_is_refused_and_posts_nothing_more(w) -> None:
    request = _ask(w, amount="60.00", reason="small_balance")
    decide_write_off(request=request, actor=w["boss"], now=NOW, approve=True, note=None)
    with pytest.raises(Conflict, match="already decided"):
        decide_write_off(request=request, actor=w["boss2"], now=NOW, approve=True, note=None)
    db.session.refresh(w["claim"])
    assert w["claim"].adjustment_amount == D("60.00")


def test_approval_is_refused_when_the_balance_shrank_since_the_request(w) -> None:
    request = _ask(w, amount="150.00")
    w["claim"].paid_amount = D("120.00")  # the payer reprocessed and paid more
    db.session.commit()
    with pytest.raises(ValidationFailed, match=r"more than the claim's open insurance balance now \(\$80.00\)"):
        decide_write_off(request=request, actor=w["boss"], now=NOW, approve=True, note=None)
    db.session.refresh(request)
    db.session.refresh(w["claim"])
    assert request.state == "pending" and w["claim"].adjustment_amount == D("0.00")


@pytest.mark.postgres
def test_two_supervisors_approving_at_once_on_postgres_decide_once(app: Flask) -> None:
    with app.app_context():
        w = _setup()
        request = _ask(w, amount="150.00")
        ids = {"request": request.id, "claim": w["claim"].id, "bosses": [w["boss"].id, w["boss2"].id]}
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []

    def approve(user_id: int) -> None:
        from backoffice.accounts.models import User

        with app.app_context():
            found = db.session.get(WriteOffRequest, ids["request"])
            actor = db.session.get(User, user_id)
            barrier.wait()
            try:
                decide_write_off(request=found, actor=actor, now=NOW, approve=True, note=None)
                outcomes.append("approved")
            except ServiceError as error:
                outcomes.append(type(error).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=approve, args=(uid,)) for uid in ids["bosses"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["Conflict", "approved"]
    with app.app_context():
        assert db.session.get(Claim, ids["claim"]).adjustment_amount == D("150.00")
        assert (
            db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "supervisor:write_off")) == 1
        )


def test_write_off_rules_allocate_over_lines_in_order_up_to_each_open_balance() -> None:
    assert rules.allocate(D("120.00"), [(1, D("100.00")), (2, D("50.00")), (3, D("10.00"))]) == [
        (1, D("100.00")), (2, D("20.00"))]  # fmt: skip
    assert rules.allocate(D("5.00"), [(1, D("0.00")), (2, D("-3.00")), (3, D("9.00"))]) == [(3, D("5.00"))]


# --- views -------------------------------------------------------------------------------------------------


def test_a_biller_asks_from_the_item_page_and_another_supervisor_approves_on_the_write_offs_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        w = _setup()
        item_id, claim_id = w["item"].id, w["claim"].id
    auth.login("biller@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "Ask for a write-off" in page and "open with payer $150.00" in page
    bad = client.post(f"/items/{item_id}/write-off", data={"csrf_token": csrf_token(page), "balance": "insurance",
                      "amount": "500", "reason": "timely_filing"}, follow_redirects=True)  # fmt: skip
    assert "amount: more than the open insurance balance ($150.00)" in bad.get_data(as_text=True)
    done = client.post(f"/items/{item_id}/write-off", data={"csrf_token": csrf_token(page), "balance": "insurance",
                       "amount": "150.00", "reason": "timely_filing"}, follow_redirects=True)  # fmt: skip
    assert "sent for a supervisor&#39;s approval" in done.get_data(as_text=True)
    assert client.get("/supervisor/write-offs").status_code == 403
    auth.logout()
    auth.login("boss@example.test")
    listing = client.get("/supervisor/write-offs").get_data(as_text=True)
    assert "Bea Biller" in listing and "$150.00" in listing and "Timely filing" in listing
    with app.app_context():
        request_id = db.session.scalar(select(WriteOffRequest.id))
    response = client.post(f"/supervisor/write-offs/{request_id}/decide",
                           data={"csrf_token": csrf_token(listing), "decision": "approve", "note": "ok"},
                           follow_redirects=True)  # fmt: skip
    assert f"Write-off request #{request_id} approved and posted." in response.get_data(as_text=True)
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.adjustment_amount, claim.status) == (D("150.00"), ClaimStatus.CLOSED)


def test_a_supervisor_who_asked_sees_no_approve_button_on_the_item(app: Flask, client: FlaskClient,
                                                                   auth: AuthActions) -> None:  # fmt: skip
    with app.app_context():
        w = _setup()
        request = _ask(w, actor=w["boss"], amount="10.00")
        approval_id = request.work_item_id
    auth.login("boss@example.test")
    page = client.get(f"/items/{approval_id}").get_data(as_text=True)
    assert "another supervisor decides it" in page and "Approve and post" not in page
    auth.logout()
    auth.login("boss2@example.test")
    assert "Approve and post" in client.get(f"/items/{approval_id}").get_data(as_text=True)


def test_a_bare_complete_of_the_approval_item_is_refused_while_the_request_is_pending(w) -> None:
    request = _ask(w, amount="20.00")
    approval = db.session.get(WorkItem, request.work_item_id)
    with pytest.raises(ValidationFailed, match="on the Write-offs page"):
        work.complete_item(item=approval, actor=w["boss2"], now=NOW)
    db.session.refresh(approval)
    assert approval.state != ItemState.DONE
    decide_write_off(request=request, actor=w["boss2"], now=NOW, approve=True, note=None)
    assert db.session.get(WorkItem, request.work_item_id).state == ItemState.DONE
