"""The whole workflow, end to end, on the real database and the real Redis: 50 sessions imported, planned by the
intake logic, pushed through every automated step by a real RQ worker to the Sandbox payer, its answers ingested
and posted, then worked again (appeal drafts). Each session must end where its Sandbox scenario sends it, every
transition must be in the interaction log, and running everything again must change nothing."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta

import pytest
from flask import Flask
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from backoffice.automation.runner import RESOLVED, recover_automation, run_automated_item
from backoffice.claims.models import Claim
from backoffice.clearinghouse.sandbox import enroll_member
from backoffice.clearinghouse.sandbox_x12 import scenario_for
from backoffice.clearinghouse.sandbox_x12_277 import status_for
from backoffice.clock import utcnow
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.extensions import db
from backoffice.intake.planning import pending_session_ids, plan_sessions
from backoffice.patients.models import BenefitsCheck, LedgerEntry
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.sessions.models import Session
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS, parse_csv
from backoffice.sessions.services import import_sessions
from backoffice.tasks import QUEUE_NAMES, get_queue
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f

SESSIONS = 50
# The Sandbox payer picks each claim's fate from a hash of CLM01 ("<SLUG>-<session id>"); with this slug the 45
# billable sessions of a fresh database cover every scenario (checked below, so a change cannot go unnoticed).
SLUG = "e2e-79"
PAID = {"paid", "deductible", "copay", "coinsurance", "contractual", "reversal"}
DENIAL_QUEUES = {
    "denied_auth": "authorization",
    "denied_info": "coding",
    "denied_timely": "timely-filing",
    "denied_wrong_payer": "eligibility",
}


def _world(app: Flask) -> dict[str, int]:
    """A billing company with one practice on the Sandbox clearinghouse, a commercial payer that requires prior
    auth for 90837, and a CSV of 50 sessions (45- and 60-minute psychotherapy)."""
    with app.app_context():
        org = f.make_org(edi_submitter_id="E2ESUB001", edi_contact_name="Billing Desk", edi_contact_phone="5551230000")
        steps = ["verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal"]
        practice = f.make_practice(org, slug=SLUG, name="E2E Calm Mind", taxonomy="261QM0801X", owned_steps=steps,
                                   fee_schedule={"90834": "150.00", "90837": "190.00", "90832": "100.00"})  # fmt: skip
        provider = f.make_provider(practice)
        f.make_payer(org, payer_id="AETNA", name="Aetna", prior_auth_cpts=["90837"])
        f.make_payer(org, payer_id="UHC", name="UnitedHealthcare")
        return {"org": org.id, "practice": practice.id, "npi": int(provider.npi)}


def _csv(ids: dict[str, int], today: date) -> str:
    columns = (*COLUMNS, *ADDRESS_COLUMNS)
    lines = [",".join(columns)]
    for n in range(SESSIONS):
        long = n % 10 == 0  # 90837 with Aetna and no authorization: a prior-auth item
        payer = "AETNA" if long else ("UHC" if n % 2 else "AETNA")
        row = {
            "session_ref": f"E2E-{n:03d}", "practice": SLUG, "date_of_service": str(today - timedelta(days=3)),
            "start_time": "10:00", "provider_npi": str(ids["npi"]), "provider_credential": "LCSW",
            "patient_ref": f"PT-{n:03d}", "patient_first": "Alex", "patient_last": f"Tester{n}",
            "patient_dob": "1985-06-15", "patient_sex": "F", "payer_id": payer, "member_id": f"W{n:09d}",
            "service": "psychotherapy", "minutes": "60" if long else "45", "em_code": "", "modality": "in_person",
            "patient_location": "office", "interactive_complexity": "no", "screenings": "0", "diagnoses": "F33.1",
            "auth_number": "", "patient_address": f"{n + 1} Elm St", "patient_city": "Springfield",
            "patient_state": "IL", "patient_zip": "62701",
        }  # fmt: skip
        lines.append(",".join(row.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


def _enrol_with_the_sandbox(ids: dict[str, int], today: date) -> None:
    """The Sandbox payer's own member file covers the CSV's patients (as the payers' enrolment would)."""
    for n in range(SESSIONS):
        payer = "AETNA" if n % 10 == 0 or not n % 2 else "UHC"
        enroll_member(organization_id=ids["org"], payer_id=payer, payer_kind="commercial", member_id=f"W{n:09d}",
                      first_name="Alex", last_name=f"Tester{n}", date_of_birth=date(1985, 6, 15), sex="F",
                      effective_from=today - timedelta(days=365))  # fmt: skip
    db.session.commit()


def _work_off(redis_conn: Redis) -> None:
    queues = [get_queue(name, redis_conn) for name in QUEUE_NAMES]
    SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def _run_everything(app: Flask, redis_conn: Redis) -> None:
    """What the scheduled flows and workers do, in order: intake, automation, inbox, automation again."""
    with app.app_context():  # the worker runs its jobs in this app (this test's database)
        plan_sessions(session_ids=pending_session_ids(), now=utcnow())
        _work_off(redis_conn)
        ingest_all(now=utcnow())
        _work_off(redis_conn)


def _counts() -> dict[str, int]:
    models = (Session, WorkItem, Claim, ClaimSubmission, EdiFile, Remittance, ClaimPayment, PaymentAdjustment,
              LedgerEntry, BenefitsCheck, Interaction)  # fmt: skip
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in models}


def _items(session: Session, claim: Claim | None) -> list[WorkItem]:
    condition = WorkItem.session_id == session.id
    if claim is not None:
        condition = condition | (WorkItem.claim_id == claim.id)
    return list(db.session.scalars(select(WorkItem).where(condition).order_by(WorkItem.id)))


@pytest.mark.usefixtures("redis_conn")
def test_fifty_sessions_flow_through_the_sandbox_payer_to_where_their_scenario_sends_them(
    app: Flask, redis_conn: Redis, tmp_path
) -> None:
    ids = _world(app)
    today = utcnow().date()  # the pinned clock the app reads too
    with app.app_context():
        rows, errors = parse_csv(io.StringIO(_csv(ids, today)), today=today)
        assert errors == []
        imported = import_sessions(rows=rows, organization_id=ids["org"], now=utcnow(), source="e2e.csv")
        assert len(imported.created) == SESSIONS
        _enrol_with_the_sandbox(ids, today)

    _run_everything(app, redis_conn)

    with app.app_context():
        outcome: Counter[str] = Counter()
        for session in db.session.scalars(select(Session).order_by(Session.id)):
            claim = db.session.scalar(select(Claim).where(Claim.session_id == session.id, Claim.payer_sequence == "P"))
            items = _items(session, claim)
            kinds = {item.kind: item for item in items}
            if session.minutes == 60:  # Aetna requires auth for 90837 and none is on file
                preauth = kinds["obtain_preauth"]
                assert (preauth.state, preauth.mode, preauth.queue) == (ItemState.READY, Mode.MANUAL, "authorization")
                assert claim is None and kinds["enter_charge"].state == ItemState.BLOCKED
                outcome["preauth"] += 1
                continue
            assert kinds["verify_benefits"].state == ItemState.DONE, session.external_ref
            assert claim is not None, session.external_ref
            scenario = scenario_for(claim.account_number)
            outcome[scenario] += 1
            status = str(claim.status)
            if scenario in PAID:
                assert status == "paid", (session.external_ref, scenario, status)
                assert claim.paid_amount + claim.patient_responsibility > 0, (scenario, claim.account_number)
            elif scenario == "partial":
                assert status == "partially_paid"
            elif scenario == "denied_necessity":
                assert status == "denied"
                appeal = kinds["appeal"]
                assert (appeal.state, appeal.mode) == (ItemState.READY, Mode.MANUAL)
                handed = db.session.scalars(
                    select(Interaction).where(
                        Interaction.work_item_id == appeal.id, Interaction.kind == InteractionKind.AUTOMATION
                    )
                ).all()
                draft = next(e.data["evidence"]["draft"] for e in handed if "draft" in e.data.get("evidence", {}))
                assert claim.account_number in draft and "medically necessary" in draft
            elif scenario in DENIAL_QUEUES:
                assert status == "denied"
                denial = kinds["work_denial"]
                assert denial.queue == DENIAL_QUEUES[scenario] and denial.state == ItemState.READY
            elif scenario == "rejected":
                assert status == "rejected"
                fix = kinds["fix_rejection"]
                assert (fix.state, fix.queue) == (ItemState.READY, "rejections")
            elif scenario == "no_response":
                assert status == "accepted"
                assert kinds["follow_up"].state == ItemState.SNOOZED  # waits for the payer's response window
            # Every claim status the claim went through is in its log.
            logged = set(db.session.scalars(select(Interaction.to_state).where(Interaction.claim_id == claim.id)))
            assert status in logged and "submitted" in logged, (session.external_ref, status, logged)
        assert outcome["preauth"] == 5
        expected = {"paid", "partial", "rejected", "no_response", "reversal", "denied_necessity", *DENIAL_QUEUES}
        assert expected <= set(outcome), f"the sandbox mix missed {expected - set(outcome)}"
        assert sum(outcome[s] for s in PAID) >= 10, outcome
        # Every item that finished did so through a logged transition.
        done = set(db.session.scalars(select(WorkItem.id).where(WorkItem.state == ItemState.DONE)))
        logged_done = set(db.session.scalars(select(Interaction.work_item_id).where(Interaction.to_state == "done")))
        assert done and done <= logged_done

        # The 835 that answered a claim woke its follow-up at once (remittance-posted), and the worker closed it.
        follow_ups = {i.session_id: i for i in db.session.scalars(select(WorkItem).where(WorkItem.kind == "follow_up"))}
        answered = [
            c for c in db.session.scalars(select(Claim).where(Claim.payer_sequence == "P")) if c.status in RESOLVED
        ]
        assert answered and all(follow_ups[c.session_id].state == ItemState.DONE for c in answered)
        # A month on, the payer's response window has closed: the follow-ups still waiting wake; for the claims the
        # payer never answered the step asks for a 276/277 status.
        waiting = sum(item.state == ItemState.SNOOZED for item in follow_ups.values())
        later = utcnow() + timedelta(days=35)
        assert waiting and recover_automation(now=later)["recovered"] == waiting
        for item_id in db.session.scalars(select(WorkItem.id).where(WorkItem.kind == "follow_up")).all():
            run_automated_item(item_id, now=later)
        for claim in db.session.scalars(select(Claim).where(Claim.payer_sequence == "P")):
            follow = db.session.scalar(
                select(WorkItem).where(WorkItem.session_id == claim.session_id, WorkItem.kind == "follow_up")
            )
            scenario = scenario_for(claim.account_number)
            if scenario != "no_response":
                assert follow.state == ItemState.DONE, (scenario, follow.state)
                continue
            category, _ = status_for(claim.account_number)
            if category == "P1":  # in process: ask again in two weeks
                assert (follow.state, str(claim.status_category)) == (ItemState.SNOOZED, "P1")
                assert follow.snoozed_until == later + timedelta(days=14)
            else:  # not on file: the 277 posting rejected it and opened a fix item; the follow-up is done
                assert (follow.state, str(claim.status)) == (ItemState.DONE, "rejected")
                assert db.session.scalar(
                    select(WorkItem).where(WorkItem.claim_id == claim.id, WorkItem.kind == "fix_rejection")
                )
        before = _counts()

    _run_everything(app, redis_conn)

    with app.app_context():
        assert _counts() == before, "running intake, the workers and the inbox again changes nothing"
