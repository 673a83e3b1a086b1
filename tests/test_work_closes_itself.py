"""Work closes itself (issue 18): a write-off approval, an appeal sent or decided, a payment on a denied claim and a
void close or advance the items they resolve, logged with the reason; a snoozed item past due is breached on the
board, the breach list and the KPI snapshot; sweeps' escalations are told apart from people's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice import signals
from backoffice.appeals import services as appeals
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.remits.services import post_835
from backoffice.supervisor import queries as supervisor_queries
from backoffice.supervisor.write_offs import decide_write_off, request_write_off
from backoffice.sweeps.services import _practice_figures, sweep_sla
from backoffice.work import chains, queries
from backoffice.work import services as work
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.test_appeal_services import NOW, appeal_of, denied, world  # noqa: F401 - the fixture

D = Decimal


def _log(item: WorkItem) -> Interaction:
    return db.session.scalars(select(Interaction).where(Interaction.work_item_id == item.id)
                              .order_by(Interaction.id.desc())).first()  # fmt: skip


def paid_era(account: str, charge: str, paid: str, *, trace: str) -> str:
    """An 835 that pays ``account``: paid plus a CO-45 for the rest."""
    rest = D(charge) - D(paid)
    body = [f"CLP*{account}*1*{charge}*{paid}*0*12*PCN-{account}*11*1", "NM1*QC*1****MI*M1",
            f"SVC*HC:90837*{charge}*{paid}**1", "DTM*472*20261102", f"CAS*CO*45*{rest}"]  # fmt: skip
    segments = ["ST*835*0001", f"BPR*I*{paid}*C*ACH*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261118",
                f"TRN*1*{trace}*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
                *body]  # fmt: skip
    segments.append(f"SE*{len(segments) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261118*0900*^*00501*000000102*0*P*:~"
    gs = "GS*HP*PAYER01*SUBMITTER01*20261118*0900*102*X*005010X221A1~"
    return f"{isa}{gs}{'~'.join(segments)}~GE*1*102~IEA*1*000000102~"


def test_sending_an_appeal_parks_its_item_until_the_decision_is_due_and_deciding_closes_it(world) -> None:  # noqa: ANN001, F811
    claim, item = denied(world)
    appeal = appeal_of(claim)
    assert item.state == ItemState.READY
    appeals.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 17), method="fax")
    db.session.refresh(item)
    tz = ZoneInfo(world["practice"].timezone)
    assert item.state == ItemState.SNOOZED
    assert item.snoozed_until.astimezone(tz).date() == date(2026, 12, 17)  # sent + 30 days
    assert item.due_at > item.snoozed_until  # the SLA no longer runs while the payer decides
    log = _log(item)
    assert "waiting for the payer's decision until 12/17/2026" in log.body and log.data["advanced_by"] == "appeal-sent"
    assert item not in queries.breached_items(world["admin"], NOW + timedelta(days=20))

    appeals.record_outcome(appeal=appeal, actor=world["biller"], now=NOW + timedelta(days=1), outcome="overturned",
                           decided_on=date(2026, 11, 18), recovered=None)  # fmt: skip
    db.session.refresh(item)
    assert item.state == ItemState.DONE and item.result["closed_by"] == "appeal-decided"
    log = _log(item)
    assert log.body == f"Appeal #{appeal.id} (level 1) decided: overturned" and log.to_state == "done"


def test_an_approved_insurance_write_off_closes_the_denial_item_and_withdraws_the_draft_appeal(world) -> None:  # noqa: ANN001, F811
    claim, item = denied(world)
    appeal = appeal_of(claim)
    org = world["org"]
    boss = f.make_user(org, role="supervisor", email="boss@example.test")
    request = request_write_off(item=item, actor=world["biller"], now=NOW, balance="insurance", amount=D("200.00"),
                                reason="timely_filing", note=None)  # fmt: skip
    decide_write_off(request=request, actor=boss, now=NOW + timedelta(hours=1), approve=True, note=None)
    db.session.refresh(item)
    db.session.refresh(appeal)
    assert item.state == ItemState.DONE and item.result["closed_by"] == "write-off"
    assert appeal.status == "withdrawn"
    log = _log(item)
    assert log.body.startswith(f"Write-off request #{request.id} approved") and log.actor_user_id == boss.id
    like = Interaction.body.like("%withdrawn: Write-off%")
    withdrawn = db.session.scalars(select(Interaction).where(Interaction.claim_id == claim.id, like)).all()
    assert len(withdrawn) == 1


def test_a_rejected_write_off_leaves_the_denial_work_open(world) -> None:  # noqa: ANN001, F811
    claim, item = denied(world)
    boss = f.make_user(world["org"], role="supervisor", email="boss@example.test")
    request = request_write_off(item=item, actor=world["biller"], now=NOW, balance="insurance", amount=D("200.00"),
                                reason="timely_filing", note=None)  # fmt: skip
    decide_write_off(request=request, actor=boss, now=NOW, approve=False, note="appeal first")
    db.session.refresh(item)
    assert item.state == ItemState.READY and appeal_of(claim).status == "draft"


def test_a_payment_on_a_denied_claim_closes_its_denial_item(world) -> None:  # noqa: ANN001, F811
    claim, item = denied(world)
    later = NOW + timedelta(days=2)
    post_835(organization_id=world["org"].id, now=later, text=paid_era(claim.account_number, "200", "150",
                                                                      trace="EFT-PAID"))  # fmt: skip
    db.session.refresh(item)
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.PAID
    assert item.state == ItemState.DONE and item.result["closed_by"] == "payment-posted"
    log = _log(item)
    assert f"Payment posted on denied claim {claim.account_number}: $150.00" in log.body and log.actor_label == (
        "payment-posted"
    )


def test_a_denial_the_same_835_opened_stays_open(world) -> None:  # noqa: ANN001, F811
    _, item = denied(world)  # posted at NOW: the item was created by that very posting
    assert item.state == ItemState.READY


def test_a_voided_claim_cancels_its_follow_up_work(world) -> None:  # noqa: ANN001, F811
    claim, item = denied(world)
    practice = world["practice"]
    follow = chains.open_item(practice_id=practice.id, kind="follow_up", now=NOW, reason="chase", claim_id=claim.id)
    other = chains.open_item(practice_id=practice.id, kind="posting_exception", now=NOW, reason="x", claim_id=claim.id)
    signals.claim_voided.send(claim, now=NOW, actor=world["biller"], reason="duplicate claim")
    db.session.commit()
    for row in (item, follow, other):
        db.session.refresh(row)
    assert follow.state == ItemState.CANCELLED and item.state == ItemState.CANCELLED
    assert other.state == ItemState.READY  # not the void's business
    assert _log(follow).body == f"Claim {claim.account_number} voided: duplicate claim"
    assert _log(follow).data["closed_by"] == "claim-voided"


def test_a_snoozed_item_past_its_due_date_is_breached_everywhere(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    practice = f.make_practice(org)
    boss = f.make_user(org, role="supervisor")
    biller = f.make_user(org, practices=[practice])
    patient = f.make_patient(practice)
    item = chains.open_item(
        practice_id=practice.id, kind="work_denial", now=NOW, reason="denied", patient_id=patient.id
    )
    work.snooze_item(item=item, actor=biller, now=NOW, until=NOW + timedelta(days=60), reason="waiting on records")
    later = item.due_at + timedelta(days=11)
    assert item.state == ItemState.SNOOZED
    assert sum(row.breached for row in queries.queue_overview(boss, later)) == 1
    assert [i.id for i in queries.breached_items(boss, later)] == [item.id]
    count, rows = supervisor_queries.breaches(boss, supervisor_queries.ItemFilter(), later)
    assert count == 1 and rows[0].id == item.id
    by_user = {row.user.id: row for row in queries.biller_workload(boss, later, ZoneInfo("America/New_York"))}
    assert by_user[biller.id].breached == 1
    _, figures = _practice_figures(practice.id, practice.timezone, later)
    assert figures["breached_items"] == 1


def test_sweep_escalations_are_flagged_automatic_and_the_board_shows_peoples_by_default(ctx, client, auth) -> None:  # noqa: ANN001
    org = f.make_org()
    practice = f.make_practice(org)
    boss = f.make_user(org, role="supervisor", email="boss@example.test")
    patient = f.make_patient(practice)
    swept = chains.open_item(
        practice_id=practice.id, kind="work_denial", now=NOW, reason="late one", patient_id=patient.id
    )
    flagged = chains.open_item(
        practice_id=practice.id, kind="work_denial", now=NOW, reason="hard one", patient_id=patient.id
    )
    work.escalate_item(item=flagged, actor=boss, now=NOW, reason="payer keeps losing the records")
    sweep_sla(now=swept.due_at + timedelta(hours=1))
    db.session.refresh(swept)
    db.session.refresh(flagged)
    assert (swept.auto_escalated, flagged.auto_escalated) == (True, False)
    assert [i.id for i in queries.escalated_items(boss)] == [flagged.id]
    assert [i.id for i in queries.escalated_items(boss, source="automatic")] == [swept.id]
    assert {i.id for i in queries.escalated_items(boss, source="all")} == {swept.id, flagged.id}
    auth.login("boss@example.test")
    page = client.get("/supervisor").get_data(as_text=True)
    assert "by the SLA sweeps" in page and "<strong>by people</strong>" in page
    page = client.get("/supervisor?escalations=automatic").get_data(as_text=True)
    assert "<strong>by the SLA sweeps</strong>" in page
