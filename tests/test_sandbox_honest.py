"""Issue 19 items 6 and 7: 270s for dependents written by our codec (subscriber and dependent loops, the
connection's receiver and usage, checked by pyx12), the 271 mapped back to the dependent, and an honest Sandbox
(its own member file, AAA rejections, 999 and 277CA rejections, a delay, PLBs, reversals, crossovers)."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import delete, select

from backoffice.automation import runner
from backoffice.automation.eligibility import send_eligibility_inquiry
from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.adapters import clearinghouse_for
from backoffice.clearinghouse.sandbox import benefits_answer, enroll_member
from backoffice.clearinghouse.sandbox_models import SandboxMember, SandboxSettings
from backoffice.clearinghouse.services import save_connection
from backoffice.eligibility.services import question_for
from backoffice.exchange.ingest import ingest_all, ingest_file
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.patients.models import BenefitsCheck, Coverage
from backoffice.remits.models import ProviderAdjustment
from backoffice.tasks import QUEUE_NAMES, get_queue
from backoffice.work import chains
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from backoffice.x12 import reader as x12
from backoffice.x12.acks import parse_999
from backoffice.x12.era835 import parse_835
from backoffice.x12.inquiry import EligibilityQuestion, write_270
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.factories_submission import edi_setup, scrubbed_claim
from tests.test_itemforms_world import make_world
from tests.x12_checks import pyx12_270_errors

CHILD = EligibilityQuestion(
    "12-1", "FAM1", "Kid", "Doe", date(2014, 5, 6), "M", "PAYER01", "Example Plan", "1234567893", "Calm",
    date(2026, 11, 20), relationship="19", subscriber_first_name="Dana", subscriber_last_name="Doe",
    subscriber_date_of_birth=date(1975, 3, 3), subscriber_sex="F",
)  # fmt: skip
SELF = EligibilityQuestion("13-1", "SELF1", "Ann", "Lee", date(1990, 5, 6), "F", "PAYER01", "Example Plan",
                           "1234567893", "Calm", date(2026, 11, 20))  # fmt: skip


def _settings():  # noqa: ANN202
    return current_app.config["BACKOFFICE_SETTINGS"]


# ---- 270 for a dependent (pure) ------------------------------------------------------------------------------------


def test_a_dependent_270_has_the_subscriber_loop_and_the_dependent_loop_and_passes_pyx12(tmp_path: Path) -> None:
    text = write_270([CHILD, SELF], submitter_id="SUB01", now=NOW, control_number=7, receiver_id="330897513",
                     usage="P")  # fmt: skip
    ((interchange, _, txn),) = x12.transactions(text, "270")
    assert interchange.isa[8].strip() == "330897513" and interchange.isa[15] == "P"
    segs = [(s.id, s.elements) for s in txn.segments]
    hls = [s[1][:4] for s in segs if s[0] == "HL"]
    assert hls == [("1", "", "20", "1"), ("2", "1", "21", "1"), ("3", "2", "22", "1"), ("4", "3", "23", "0"),
                   ("5", "2", "22", "0")]  # fmt: skip
    dependent = text.split("HL*4*3*23*0~\n", 1)[1].split("HL*5", 1)[0]
    subscriber = text.split("HL*3*2*22*1~\n", 1)[1].split("HL*4", 1)[0]
    assert subscriber == "NM1*IL*1*DOE*DANA****MI*FAM1~\nDMG*D8*19750303*F~\n"  # no TRN: the patient is below
    assert dependent.startswith("TRN*1*12-1*")
    assert "NM1*03*1*DOE*KID~\nDMG*D8*20140506*M~\nINS*N*19~\nDTP*291*D8*" in dependent
    assert dependent.endswith("EQ*30~\nEQ*MH~\n")
    assert pyx12_270_errors(text, tmp_path) == []
    # the yardstick bites: a relationship code that does not exist, a dependent under no subscriber
    assert pyx12_270_errors(text.replace("INS*N*19", "INS*N*99"), tmp_path) != []
    assert pyx12_270_errors(text.replace("HL*4*3*23*0", "HL*4*9*23*0"), tmp_path) != []


def test_a_dependent_question_needs_a_relationship_a_270_can_carry() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="relationship '18x'"):
        write_270([replace(CHILD, relationship="18x")], submitter_id="S", now=NOW, control_number=1)


def test_the_sandbox_271_for_a_dependent_reads_back_at_the_dependent_level() -> None:
    from backoffice.x12.benefits import parse_271

    answer = sx.BenefitsAnswer(True, True, Decimal("10"), None, Decimal("0"), 30, 20, False)
    text = sx.respond_271([(CHILD, answer), (SELF, sx.BenefitsAnswer(False, False, None, None, None, None, None,
                                                                       False, rejection="75"))], now=NOW,
                          control_number=8)  # fmt: skip
    records = parse_271(text)
    child = next(r for r in records if r.level == "23")
    assert child.trace == "12-1" and child.active and child.birth_date == date(2014, 5, 6)
    rejected = next(r for r in records if r.trace == "13-1")
    assert rejected.rejection_messages == ("AAA 75: Subscriber/insured not found (correct and resubmit)",)


# ---- the verify-benefits step for a dependent through a batch connection -------------------------------------------


def _dependent_session(practice, provider, payer):  # noqa: ANN001, ANN202
    child = f.make_patient(practice, first_name="Kid", last_name="Doe", date_of_birth=date(2014, 5, 6), sex="M")
    db.session.add(Coverage(patient_id=child.id, payer_id=payer.id, member_id="FAM1", priority="primary",
                            relationship_to_subscriber="19", subscriber_first_name="Dana", subscriber_last_name="Doe",
                            subscriber_date_of_birth=date(1975, 3, 3), subscriber_sex="F",
                            effective_from=date(2026, 1, 1)))  # fmt: skip
    enroll_member(organization_id=practice.organization_id, payer_id=payer.payer_id, payer_kind="commercial",
                  member_id="FAM1", first_name="Dana", last_name="Doe", date_of_birth=date(1975, 3, 3), sex="F",
                  effective_from=date(2026, 1, 1))  # fmt: skip
    enroll_member(organization_id=practice.organization_id, payer_id=payer.payer_id, payer_kind="commercial",
                  member_id="FAM1", first_name="Kid", last_name="Doe", date_of_birth=date(2014, 5, 6), sex="M",
                  relationship="19", effective_from=date(2026, 1, 1), copay=Decimal("10.00"))  # fmt: skip
    db.session.commit()
    return f.make_session(practice, provider=provider, patient=child)


def test_a_dependent_270_goes_out_by_our_writer_and_the_late_271_closes_the_item(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    save_connection(organization_id=org.id, values={"name": "OA", "kind": "local_folder", "profile": "office_ally",
                    "usage": "P", "practice_id": practice.id, "upload_folder": str(tmp_path / "out"),
                    "download_folder": str(tmp_path / "in")}, secrets={}, settings=_settings(), actor=None,
                    now=NOW)  # fmt: skip
    session = _dependent_session(practice, provider, payer)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    assert runner.run_automated_item(item.id, now=NOW)["status"] == "handed_over"
    (sent,) = (tmp_path / "out").iterdir()
    text = sent.read_text(encoding="ascii")
    assert text[:106].split("*")[8].strip() == "330897513" and text[:106].split("*")[15] == "P"  # profile, usage
    assert "HL*4*3*23*0~" in text and "NM1*IL*1*DOE*DANA****MI*FAM1~" in text and "INS*N*19~" in text
    assert pyx12_270_errors(text, tmp_path) == []
    # the clearinghouse answers later: the Sandbox's responder, from its own member file
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == session.patient_id))
    question = question_for(session, coverage, trace_number=f"{item.id}-1")
    answer = benefits_answer(practice, question)
    assert answer.active and answer.copay == Decimal("10.00")
    reply = sx.respond_271([(question, answer)], now=NOW, control_number=90)
    posted = ingest_file(organization_id=org.id, practice_id=practice.id, filename="a.271", content=reply, now=NOW)
    assert posted.status == "processed"
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    check = db.session.scalar(select(BenefitsCheck))
    assert item.state == ItemState.DONE and check.patient_id == session.patient_id and check.copay == Decimal("10")


def test_an_unknown_member_gets_an_aaa_and_the_item_goes_to_a_person_with_it(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    db.session.execute(delete(SandboxMember))  # the payer never heard of this member
    db.session.commit()
    session = f.make_session(practice, provider=provider, patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    assert runner.run_automated_item(item.id, now=NOW)["status"] == "handed_over"
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    assert "the payer could not answer: AAA 75: Subscriber/insured not found" in item.last_error


def test_a_birth_date_the_payer_does_not_have_is_an_aaa_71(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    member = db.session.scalar(select(SandboxMember))
    member.date_of_birth = date(1979, 12, 31)
    db.session.commit()
    session = f.make_session(practice, provider=provider, patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    runner.run_automated_item(item.id, now=NOW)
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    assert "AAA 71: Patient birth date does not match" in item.last_error


def test_auth_required_with_nothing_planned_goes_to_a_person_and_with_an_auth_step_it_clears(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    db.session.scalar(select(SandboxMember)).auth_required = True
    db.session.commit()
    session = f.make_session(practice, provider=provider, patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    runner.run_automated_item(item.id, now=NOW)
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    assert "requires prior authorization" in item.last_error
    second = f.make_session(practice, provider=provider, patient=patient)
    items = chains.create_chain(session=second, kinds=["verify_benefits", "obtain_preauth"], now=NOW,
                                automated=["verify_benefits"])  # fmt: skip
    assert runner.run_automated_item(items[0].id, now=NOW)["status"] == "done"


# ---- the Sandbox's 837P answers -----------------------------------------------------------------------------------


def _submit(n: int = 4, scenarios: tuple[str, ...] = (), **settings: int):  # noqa: ANN202
    """``n`` scrubbed claims, the first ones with account numbers the Sandbox answers with ``scenarios`` (the rest
    as their ids fall)."""
    org, practice, provider, payer = edi_setup()
    if settings:
        db.session.add(SandboxSettings(organization_id=org.id, **{"seed": 7, **settings}))
        db.session.commit()
    accounts = [_account_for(scenario) for scenario in scenarios]
    named = [{"account_number": account} for account in accounts] + [{}] * (n - len(accounts))
    claims = [scrubbed_claim(practice, provider, payer, **kw) for kw in named[:n]]
    return org, practice, claims


_accounts = itertools.count(1)


def _account_for(scenario: str) -> str:
    """A fresh account number (CLM01) the Sandbox payer answers with ``scenario``."""
    while True:
        account = f"SBX-{next(_accounts)}"
        if sx.scenario_for(account) == scenario:
            return account


def _answers(practice, now=NOW) -> dict[str, str]:  # noqa: ANN001
    return {file.filename.split("-", 1)[1]: file.content
            for file in clearinghouse_for(practice, _settings()).fetch(practice=practice, now=now)}  # fmt: skip


def test_the_999_rejects_a_transaction_set_by_the_configured_rate_naming_a_segment(ctx) -> None:  # noqa: ANN001
    org, practice, claims = _submit(3, reject_999_percent=100)
    submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    answers = _answers(practice)
    assert set(answers) == {"1-999.x12"}  # nothing reached the payer: no 277CA, no 835
    (ack,) = parse_999(answers["1-999.x12"])
    assert ack.status == "R" and ack.transactions[0].status == "R"
    assert ack.transactions[0].segment_errors[0].segment_id == "CLM"
    ingest_all(now=NOW)
    assert {db.session.get(type(c), c.id, populate_existing=True).status for c in claims} == {"rejected"}


def test_the_999_rejects_what_its_front_end_finds_wrong_in_a_set(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, claims = _submit(1)
    result = submit_claims(organization_id=org.id, claim_ids=[claims[0].id], now=NOW, source="test")
    sandbox = clearinghouse_for(practice, _settings())
    text = (sandbox.folder(practice, "sent") / result.files[0].filename).read_text(encoding="ascii")
    broken = re.sub(r"(CLM\*[^*]+\*)[0-9.]+\*", r"\g<1>151*", text, count=1)  # CLM02 no longer ΣSV102
    assert broken != text
    rejections = sx.syntax_rejections(broken)
    (st02, problem), st = next(iter(rejections.items())), next(iter(x12.transactions(text, "837")))[2].st
    assert st02 == st[2] and problem.segment_id == "CLM" and problem.element == 2
    assert sx.syntax_rejections(text) == {}


def test_the_277ca_rejects_a_member_the_payer_does_not_know(ctx) -> None:  # noqa: ANN001
    org, practice, claims = _submit(4)
    gone = db.session.scalar(select(Coverage.member_id).where(Coverage.id == claims[0].coverage_id))
    db.session.execute(delete(SandboxMember).where(SandboxMember.member_id == gone))
    db.session.commit()
    submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    ca = _answers(practice)["2-277CA.x12"]
    first = ca.split(f"TRN*2*{claims[0].account_number}~", 1)[1]
    assert first.split("~", 2)[0].strip() == f"STC*A7:164:IL*{NOW:%Y%m%d}*U*150.00"
    # the others are known: accepted, unless their account number's own scenario is a rejection (ids vary by run)
    known = [c for c in claims[1:] if sx.sent_scenario(c.account_number, "1") != "rejected"]
    assert known and all(f"TRN*2*{c.account_number}~\nSTC*A2:20" in ca for c in known)


def test_answers_wait_for_the_configured_delay_by_the_pinned_clock(ctx) -> None:  # noqa: ANN001
    org, practice, claims = _submit(2, delay_minutes=30)
    submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    assert _answers(practice, NOW + timedelta(minutes=29)) == {}
    assert "1-999.x12" in _answers(practice, NOW + timedelta(minutes=30))


def test_835s_carry_recoupments_interest_and_reversals_and_they_balance_and_post(ctx) -> None:  # noqa: ANN001
    org, practice, claims = _submit(
        8, ("paid", "partial"), recoupment_percent=100, interest_percent=100, reversal_percent=100
    )  # a paid claim to reverse, a partial one to recoup
    submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    remit = _answers(practice).get("3-835.x12")
    assert remit is not None
    (payment,) = parse_835(remit)
    assert payment.balanced, payment.problems
    reasons = {(p.reason, p.reference) for p in payment.provider_adjustments}
    accounts = {c.account_number for c in claims}
    assert any(r == "WO" and ref in accounts for r, ref in reasons)
    assert any(r == "L6" for r, _ in reasons) and all(
        p.amount < 0 for p in payment.provider_adjustments if p.reason == "L6"
    )  # fmt: skip
    assert any(c.status == "22" for c in payment.claims)  # a reversal…
    assert sum(p.amount for p in payment.provider_adjustments) == sum(c.paid for c in payment.claims) - (
        payment.total_paid
    )  # fmt: skip
    ingest_all(now=NOW)
    assert db.session.scalar(select(ProviderAdjustment.id).where(ProviderAdjustment.reason == "WO")) is not None


def test_a_medicare_member_with_medicaid_is_crossed_over(ctx) -> None:  # noqa: ANN001
    org, practice, claims = _submit(8)
    for member in db.session.scalars(select(SandboxMember)):
        member.crossover_payer_name, member.crossover_payer_id = "State Medicaid", "MCD01"
    db.session.commit()
    submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    remit = _answers(practice)["3-835.x12"]
    paid = [c for c in parse_835(remit)[0].claims if c.paid > 0]
    assert paid and all(c.status == "19" and c.crossover_payer == "STATE MEDICAID" for c in paid)
    assert "NM1*TT*2*STATE MEDICAID*****PI*MCD01~" in remit


def test_the_same_settings_give_the_same_answers(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, claims = _submit(6, reject_277ca_percent=30, recoupment_percent=30, seed=3)
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    first = _answers(practice)
    sandbox = clearinghouse_for(practice, _settings())
    text = (sandbox.folder(practice, "sent") / result.files[0].filename).read_text(encoding="ascii")
    from backoffice.clearinghouse.sandbox import Sandbox

    again = Sandbox(tmp_path / "again")
    again.send(practice=practice, filename=result.files[0].filename, content=text, now=NOW)
    second = {p.name.split("-", 1)[1]: p.read_text() for p in sorted(again.folder(practice, "inbox").iterdir())}
    assert first == second


def test_nothing_about_interactions_names_the_member(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    patient = f.make_patient(practice, payer)
    db.session.execute(delete(SandboxMember))
    db.session.commit()
    session = f.make_session(practice, provider=provider, patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    runner.run_automated_item(item.id, now=NOW)
    member = db.session.scalar(select(Coverage.member_id).where(Coverage.patient_id == patient.id))
    bodies = db.session.scalars(select(Interaction.body)).all()
    assert bodies and not any(member in (b or "") or patient.last_name in (b or "") for b in bodies)


# ---- "Check eligibility now" ---------------------------------------------------------------------------------------


def _benefits_item(app: Flask, *, batch_to: Path | None = None, **member: object) -> int:
    with app.app_context():
        world = make_world()
        for name, value in member.items():
            setattr(db.session.scalar(select(SandboxMember)), name, value)
        if batch_to is not None:
            save_connection(organization_id=world.org.id, values={"name": "OA", "kind": "local_folder",
                            "profile": "office_ally", "usage": "T", "practice_id": world.practice.id,
                            "upload_folder": str(batch_to)}, secrets={}, settings=_settings(), actor=None,
                            now=NOW)  # fmt: skip
        db.session.commit()
        return world.chain["verify_benefits"].id


def test_check_eligibility_now_uses_the_real_time_channel_and_a_clean_271_completes_the_item(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    item_id = _benefits_item(app)
    auth.login("biller@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "Check eligibility now" in page
    response = client.post(f"/items/{item_id}/forms/benefits/check", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and response.headers["Location"].endswith("#panel-benefits")
    assert "verified the benefits; item completed" in client.get(f"/items/{item_id}").get_data(as_text=True)
    with app.app_context():
        item = db.session.get(WorkItem, item_id)
        assert item.state == ItemState.DONE and item.result["benefits_check_id"]


def test_check_eligibility_now_writes_why_a_person_must_look(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    item_id = _benefits_item(app, effective_to=date(2026, 1, 31))  # the payer's file: ended before the session
    auth.login("biller@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    client.post(f"/items/{item_id}/forms/benefits/check", data={"csrf_token": csrf_token(page)})
    after = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert "The payer answered: the payer reports the coverage inactive on the date of service" in after
    with app.app_context():
        assert db.session.get(WorkItem, item_id).state != ItemState.DONE


@pytest.mark.usefixtures("redis_conn")
def test_check_eligibility_now_on_a_batch_connection_queues_a_270_for_the_batch(
    app: Flask, client: FlaskClient, auth: AuthActions, redis_conn: Redis, tmp_path: Path
) -> None:
    item_id = _benefits_item(app, batch_to=tmp_path / "out")
    auth.login("biller@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    client.post(f"/items/{item_id}/forms/benefits/check", data={"csrf_token": csrf_token(page)})
    assert "A 270 is queued for the clearinghouse batch" in client.get(f"/items/{item_id}").get_data(as_text=True)
    assert not (tmp_path / "out").exists()  # nothing sent from the web request
    queued = [get_queue(name, redis_conn).jobs for name in QUEUE_NAMES]
    jobs = [job for jobs in queued for job in jobs if job.func_name == "workers.jobs.send_eligibility_inquiry"]
    assert [list(job.args) for job in jobs] == [[item_id]]  # the id only: no PHI in a job
    with app.app_context():
        assert send_eligibility_inquiry(item_id, now=NOW) == "sent"
    (sent,) = (tmp_path / "out").iterdir()
    assert sent.name.startswith("270") and f"TRN*1*{item_id}-" in sent.read_text(encoding="ascii")


# ---- setting the Sandbox up (CLI) ----------------------------------------------------------------------------------

MEMBERS_CSV = (
    ("payer_id,member_id,relationship,first_name,last_name,date_of_birth,sex,effective_from,copay,auth_required\n")
    + """AET1,FAM9,18,Dana,Doe,1975-03-03,F,2026-01-01,25.00,no
AET1,FAM9,19,Kid,Doe,2014-05-06,M,2026-01-01,10.00,yes
"""
)


def test_the_sandbox_settings_and_member_file_are_set_from_the_command_line(app: Flask, runner, tmp_path) -> None:  # noqa: ANN001
    from backoffice.cli import cli

    with app.app_context():
        org = f.make_org(slug="acme")
    shown = runner.invoke(cli, ["sandbox", "settings", "--delay-minutes", "15", "--reject-999-percent", "5"])
    assert shown.exit_code == 0 and "delay_minutes=15" in shown.output and "reject_999_percent=5" in shown.output
    refused = runner.invoke(cli, ["sandbox", "settings", "--interest-percent", "101"])
    assert refused.exit_code == 1 and "interest_percent: a percentage from 0 to 100" in refused.output
    good = tmp_path / "members.csv"
    good.write_text(MEMBERS_CSV)
    added = runner.invoke(cli, ["sandbox", "members", str(good)])
    assert added.exit_code == 0 and "2 member(s) added" in added.output
    bad = tmp_path / "bad.csv"
    bad.write_text(MEMBERS_CSV.replace("2014-05-06", "06/05/2014").replace("FAM9,18,Dana", "FAM8,18,Dana"))
    refused = runner.invoke(cli, ["sandbox", "members", str(bad)])
    assert refused.exit_code == 1 and "row 3, column date_of_birth: a date as YYYY-MM-DD" in refused.output
    again = runner.invoke(cli, ["sandbox", "members", str(good)])
    assert again.exit_code == 1 and "row 2: this person" in again.output and "Dana" not in again.output
    with app.app_context():
        members = db.session.scalars(select(SandboxMember).order_by(SandboxMember.id)).all()
        assert [(m.member_id, m.relationship, m.auth_required) for m in members] == [("FAM9", "18", False),
                                                                                     ("FAM9", "19", True)]  # fmt: skip
        assert db.session.get(SandboxSettings, org.id).delay_minutes == 15


def test_the_adapters_send_inquiries_written_by_our_codec_never_by_the_sandbox() -> None:
    import ast

    import backoffice.clearinghouse.file_drop as file_drop
    import backoffice.clearinghouse.https_api as https_api
    import backoffice.clearinghouse.sftp as sftp

    for module in (file_drop, https_api, sftp):
        tree = ast.parse(Path(module.__file__).read_text())
        sources = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(s and "sandbox" in s for s in sources), module.__name__
    assert file_drop.write_270.__module__ == https_api.write_270.__module__ == "backoffice.x12.inquiry"
