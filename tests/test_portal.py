"""The client portal and requests to the practice (issue 20): the request's life (sent from a denial, the origin's
SLA paused, answered in the portal, the origin released with its SLA moved by exactly the time paused), the pause
arithmetic on a pinned clock, reminders, the submission hold, and the practice user's scope."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from backoffice.accounts.rules import practice_user_may_reach
from backoffice.automation import steps
from backoffice.automation.runner import NotYet
from backoffice.calendars import is_business_day
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.onboarding.people import invite_user, known_queues
from backoffice.portal import rules as portal_rules
from backoffice.portal import services
from backoffice.portal.models import PracticeRequest
from backoffice.routing.services import people as routing_people
from backoffice.sessions.models import Session
from backoffice.sweeps.services import sweep_sla
from backoffice.work import chains, queries
from backoffice.work import rules as work_rules
from backoffice.work.claiming import claim_next_item
from backoffice.work.models import Interaction, SlaPause, WorkItem
from backoffice.work.rules import ItemState, Mode
from backoffice.work.services import cancel_item, defer_automated_item, reassign_item, start_item
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.factories_edi_posting import make_claim
from tests.factories_submission import edi_setup, scrubbed_claim
from tests.test_session_import import GOOD, _csv

NY = ZoneInfo("America/New_York")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# NOW is Wednesday 2026-11-18 10:00 in New York: a work-denial item made then is due Friday 17:00 (2 business days).
DENIAL_DUE = datetime(2026, 11, 20, 17, 0, tzinfo=NY)


# --- pure rules -----------------------------------------------------------------------------------------------------


def test_the_due_time_moves_later_by_exactly_the_time_paused() -> None:
    paused_at, resumed_at = NOW, NOW + timedelta(hours=29, minutes=30)
    assert work_rules.resumed_due_at(DENIAL_DUE, paused_at, resumed_at) == DENIAL_DUE + timedelta(hours=29.5)
    assert work_rules.resumed_due_at(None, paused_at, resumed_at) is None
    # An item already 2 h overdue when paused is still 2 h overdue the moment it resumes.
    overdue = NOW - timedelta(hours=2)
    assert work_rules.resumed_due_at(overdue, NOW, resumed_at) == resumed_at - timedelta(hours=2)


def test_paused_time_adds_closed_intervals_and_an_open_one_up_to_now() -> None:
    intervals = [(NOW, NOW + timedelta(hours=3)), (NOW + timedelta(hours=5), None)]
    assert work_rules.paused_time(intervals, NOW + timedelta(hours=6)) == timedelta(hours=4)
    assert work_rules.paused_label(timedelta(hours=29.5), waiting_on="practice", open_now=False) == (
        "paused 29.5 h, waiting on practice"
    )
    assert work_rules.paused_label(timedelta(hours=2), waiting_on="practice", open_now=True) == (
        "paused 2 h so far, waiting on practice"
    )
    assert work_rules.paused_label(timedelta(minutes=40), waiting_on="practice", open_now=False).startswith(
        "paused 40 min"
    )


def test_the_practice_answers_by_close_of_business_two_business_days_later_skipping_the_weekend() -> None:
    due, policy = portal_rules.respond_by(NOW, {}, NY, is_business_day)
    assert due == datetime(2026, 11, 20, 17, 0, tzinfo=NY) and policy == "default:practice_request:2bd"
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=NY)
    assert portal_rules.respond_by(friday, {}, NY, is_business_day)[0] == datetime(2026, 11, 24, 17, 0, tzinfo=NY)
    assert portal_rules.respond_by(NOW, {"practice_request": 1}, NY, is_business_day)[0] == datetime(
        2026, 11, 19, 17, 0, tzinfo=NY
    )
    # Reminders: close of business the next business day (Thanksgiving, Thursday 26, is skipped).
    wednesday = datetime(2026, 11, 25, 17, 0, tzinfo=NY)
    assert portal_rules.next_reminder(wednesday, NY, is_business_day) == datetime(2026, 11, 27, 17, 0, tzinfo=NY)


def test_a_request_needs_a_known_type_and_a_message_and_an_answer_needs_words() -> None:
    assert portal_rules.request_problem("fax", "x").startswith("type:")
    assert portal_rules.request_problem("signature", "  ").startswith("message:")
    assert portal_rules.request_problem("signature", "Sign the treatment plan") is None
    assert portal_rules.answer_problem("", True).startswith("answer:")
    assert portal_rules.answer_problem("Attached", True) is None


# --- the request's life ---------------------------------------------------------------------------------------------


def _denial_world() -> dict:
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org)
    patient = f.make_patient(practice, payer)
    claim = make_claim(practice, patient)
    denial, _ = chains.add_item(practice_id=practice.id, kind="work_denial", now=NOW, reason="CO-50", claim_id=claim.id)
    db.session.commit()
    biller = f.make_user(org, practices=[practice])
    supervisor = f.make_user(org, role="supervisor")
    portal_user = f.make_user(org, role="practice", practices=[practice])
    return {"org": org, "practice": practice, "claim": claim, "denial": denial, "biller": biller,
            "supervisor": supervisor, "portal_user": portal_user, "patient": patient}  # fmt: skip


def _send(w: dict, *, at: datetime = NOW, blocks: bool = False, origin: WorkItem | None = None) -> PracticeRequest:
    return services.send_request(origin=origin or w["denial"], actor=w["biller"], now=at,
                                 request_type="appeal_documentation", message="Send the progress note of 11/16",
                                 blocks_submission=blocks, upload=("letter.pdf", PDF))  # fmt: skip


def test_a_request_pauses_the_denial_and_the_answer_releases_it_with_the_paused_time_given_back(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    denial = w["denial"]
    assert denial.due_at == DENIAL_DUE
    start_item(item=denial, actor=w["biller"], now=NOW)
    request = _send(w)
    db.session.refresh(denial)
    assert denial.state == ItemState.BLOCKED and denial.due_at is None and denial.assignee_id == w["biller"].id
    pause = db.session.scalar(select(SlaPause).where(SlaPause.work_item_id == denial.id))
    assert (pause.started_at, pause.ended_at, pause.due_before, pause.waiting_on) == (NOW, None, DENIAL_DUE, "practice")
    item = request.item
    assert (item.kind, item.queue, item.state, item.due_at, item.claim_id) == (
        "practice_request", "practice", ItemState.READY, None, w["claim"].id)  # fmt: skip
    assert request.respond_by == datetime(2026, 11, 20, 17, 0, tzinfo=NY)
    assert queries.sla_pause_note(denial, NOW + timedelta(hours=2)) == "paused 2 h so far, waiting on practice"

    answered_at = NOW + timedelta(hours=29, minutes=30)  # Thursday 15:30 in New York
    services.answer_request(request=request, user=w["portal_user"], now=answered_at,
                            answer="Progress note attached", upload=("note.pdf", PDF))  # fmt: skip
    db.session.refresh(denial)
    db.session.refresh(item)
    assert item.state == ItemState.DONE and request.answered_at == answered_at
    assert denial.state == ItemState.READY and denial.assignee_id == w["biller"].id
    assert denial.due_at == DENIAL_DUE + timedelta(hours=29, minutes=30)
    assert pause.ended_at == answered_at
    assert queries.sla_pause_note(denial, answered_at + timedelta(days=3)) == "paused 29.5 h, waiting on practice"
    log = db.session.scalars(select(Interaction).where(Interaction.work_item_id == denial.id)).all()
    answer = next(row for row in log if row.body.startswith("The practice answered"))
    assert answer.actor_user_id == w["portal_user"].id and "Progress note attached" in answer.body
    assert answer.data["document_id"] is not None
    assert any("SLA resumed, paused 29.5 h, waiting on practice" in (row.body or "") for row in log)


def test_paused_time_never_counts_as_a_breach(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    request = _send(w)
    after_due = DENIAL_DUE + timedelta(hours=3)  # Friday 20:00: past the original due time, still waiting
    assert queries.breached_items(w["supervisor"], after_due) == []
    assert sweep_sla(now=after_due)["escalated"] == 0
    services.answer_request(request=request, user=w["portal_user"], now=after_due, answer="Sent by fax today")
    denial = db.session.get(WorkItem, w["denial"].id)
    # Paused from Wednesday 10:00 to Friday 20:00 (58 h): due Monday 03:00 New York time, not breached on Saturday.
    assert denial.due_at == DENIAL_DUE + timedelta(hours=58)
    saturday = after_due + timedelta(hours=14)
    assert work_rules.sla_status(denial.due_at, saturday, state=denial.state) == "ok"
    assert queries.breached_items(w["supervisor"], saturday) == []
    assert queries.breached_items(w["supervisor"], denial.due_at) == [denial]


def test_get_next_never_hands_out_a_request_to_the_practice_nor_the_item_waiting_on_it(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    _send(w)
    assert claim_next_item(user=w["supervisor"], now=NOW + timedelta(days=5)) is None
    assert claim_next_item(user=w["biller"], now=NOW + timedelta(days=5), queue="practice") is None


def test_a_second_request_joins_the_pause_and_the_item_waits_for_both(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    first = _send(w)
    second = services.send_request(origin=w["denial"], actor=w["biller"], now=NOW + timedelta(hours=1),
                                   request_type="signature", message="Sign the plan")  # fmt: skip
    services.answer_request(request=first, user=w["portal_user"], now=NOW + timedelta(hours=2), answer="Note sent")
    assert db.session.get(WorkItem, w["denial"].id).state == ItemState.BLOCKED
    services.answer_request(request=second, user=w["portal_user"], now=NOW + timedelta(hours=4), answer="Signed")
    denial = db.session.get(WorkItem, w["denial"].id)
    assert denial.state == ItemState.READY and denial.due_at == DENIAL_DUE + timedelta(hours=4)
    assert len(db.session.scalars(select(SlaPause).where(SlaPause.work_item_id == denial.id)).all()) == 1


def test_a_withdrawn_request_releases_the_item_it_paused(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    request = _send(w)
    cancel_item(item=request.item, actor=w["supervisor"], now=NOW + timedelta(hours=5), reason="asked by phone")
    denial = db.session.get(WorkItem, w["denial"].id)
    assert denial.state == ItemState.READY and denial.due_at == DENIAL_DUE + timedelta(hours=5)
    with pytest.raises(Exception, match="already answered or withdrawn"):
        services.answer_request(request=request, user=w["portal_user"], now=NOW + timedelta(hours=6), answer="x")


def test_only_the_practice_s_own_users_answer_and_only_staff_send(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    request = _send(w)
    other_practice = f.make_practice(w["org"])
    stranger = f.make_user(w["org"], role="practice", practices=[other_practice])
    for user in (stranger, w["biller"]):
        with pytest.raises(NotAllowed):
            services.answer_request(request=request, user=user, now=NOW, answer="x")
    with pytest.raises(NotAllowed):
        services.send_request(origin=w["denial"], actor=w["portal_user"], now=NOW, request_type="signature",
                              message="x")  # fmt: skip
    with pytest.raises(ValidationFailed, match="type:"):
        services.send_request(origin=w["denial"], actor=w["biller"], now=NOW, request_type="fax", message="x")
    assert db.session.get(WorkItem, w["denial"].id).state == ItemState.BLOCKED  # the refused ones changed nothing
    assert len(db.session.scalars(select(PracticeRequest)).all()) == 1


def test_the_practice_is_reminded_when_its_answer_is_late_once_per_business_day(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    request = _send(w)
    due = request.respond_by
    assert services.remind_practice_requests(now=due - timedelta(minutes=1)) == {"reminded": 0}
    assert services.remind_practice_requests(now=due) == {"reminded": 1}
    assert services.remind_practice_requests(now=due + timedelta(hours=1)) == {"reminded": 0}
    # Friday 17:00 → the next reminder is Monday 17:00.
    assert request.next_reminder_at == datetime(2026, 11, 23, 17, 0, tzinfo=NY)
    assert services.remind_practice_requests(now=request.next_reminder_at) == {"reminded": 1}
    notes = db.session.scalars(
        select(Interaction.body).where(
            Interaction.work_item_id.in_([request.work_item_id, w["denial"].id]), Interaction.body.like("Reminder %")
        )  # fmt: skip
    ).all()
    assert sorted(notes) == sorted(
        [f"Reminder {n} to the practice: the answer was due Fri Nov 20 17:00 EST" for n in (1, 1, 2, 2)]
    )
    services.answer_request(request=request, user=w["portal_user"], now=due + timedelta(days=5), answer="Done")
    assert services.remind_practice_requests(now=due + timedelta(days=10)) == {"reminded": 0}


def test_a_blocking_request_holds_the_claim_from_submission_until_the_practice_answers(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    audit, _ = chains.add_item(practice_id=practice.id, kind="audit", now=NOW, reason="check", claim_id=claim.id)
    db.session.commit()
    biller = f.make_user(org, practices=[practice])
    portal_user = f.make_user(org, role="practice", practices=[practice])
    request = services.send_request(origin=audit, actor=biller, now=NOW, request_type="insurance",
                                    message="The member ID is wrong", blocks_submission=True)  # fmt: skip
    drop = FileDrop(tmp_path / "outbox", tmp_path / "inbox")
    held = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test", adapter=drop)
    assert held.submitted == [] and held.skipped == [
        (claim.id, f"held: waiting on the practice (request #{request.work_item_id}, wrong or missing insurance)")
    ]
    services.answer_request(request=request, user=portal_user, now=NOW + timedelta(hours=1), answer="W123456789")
    sent = submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW + timedelta(hours=1), source="test",
                         adapter=drop)  # fmt: skip
    assert sent.submitted == [claim.id]


def test_a_request_that_does_not_block_leaves_submission_alone(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    audit, _ = chains.add_item(practice_id=practice.id, kind="audit", now=NOW, reason="check", claim_id=claim.id)
    db.session.commit()
    biller = f.make_user(org, practices=[practice])
    services.send_request(origin=audit, actor=biller, now=NOW, request_type="coding_question", message="F33.1?")
    drop = FileDrop(tmp_path / "outbox", tmp_path / "inbox")
    assert submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="t", adapter=drop).submitted


# --- accounts: inviting a practice user -------------------------------------------------------------------------


def test_an_admin_invites_a_practice_user_bound_to_exactly_one_practice(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    one, two = f.make_practice(org), f.make_practice(org)
    admin = f.make_user(org, role="admin")
    user, token = invite_user(organization_id=org.id, email="front@clinic.test", name="Front Desk", role="practice",
                              practices=[one.slug], queues=["denials"], actor=admin, now=NOW)  # fmt: skip
    assert user.role == "practice" and [p.id for p in user.practices] == [one.id] and user.queues == [] and token
    for practices in ([], [one.slug, two.slug]):
        with pytest.raises(ValidationFailed, match="exactly one practice"):
            invite_user(organization_id=org.id, email=f"x{len(practices)}@clinic.test", name="X", role="practice",
                        practices=practices, actor=admin, now=NOW)  # fmt: skip


# --- the portal's pages and scope -----------------------------------------------------------------------------------


def _portal_world(app: Flask) -> dict:
    with app.app_context():
        w = _denial_world()
        other = f.make_practice(w["org"])
        other_patient = f.make_patient(other, f.make_payer(w["org"]), last_name="Elsewhere")
        other_claim = make_claim(other, other_patient)
        other_denial, _ = chains.add_item(practice_id=other.id, kind="work_denial", now=NOW, reason="CO-50",
                                          claim_id=other_claim.id)  # fmt: skip
        db.session.commit()
        request = _send(w)
        other_request = services.send_request(origin=other_denial, actor=w["supervisor"], now=NOW,
                                              request_type="signature", message="Sign it")  # fmt: skip
        return {"portal_email": w["portal_user"].email, "biller_email": w["biller"].email, "request": request.id,
                "request_item": request.work_item_id, "other_request": other_request.id, "denial": w["denial"].id,
                "other_claim_account": other_claim.account_number,
                "claim_account": w["claim"].account_number}  # fmt: skip


def test_a_practice_user_sees_only_the_portal_of_their_practice(app: Flask) -> None:
    w = _portal_world(app)
    client = app.test_client()
    response = AuthActions(client).login(w["portal_email"])
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal")
    page = client.get("/portal")
    assert page.status_code == 200 and w["claim_account"] in page.text and w["other_claim_account"] not in page.text
    assert "Get next" not in page.text and "My queue" not in page.text
    assert client.get(f"/portal/requests/{w['request']}").status_code == 200
    assert client.get(f"/portal/requests/{w['other_request']}").status_code == 404
    for internal in ("/queue", f"/items/{w['denial']}", f"/items/{w['request_item']}", "/supervisor", "/claims",
                     "/reports", "/admin/automation", "/exchange", "/supervisor/routing"):  # fmt: skip
        assert client.get(internal).status_code == 403, internal
    token = csrf_token(client.get("/portal").text)
    acted = client.post(f"/items/{w['request_item']}/complete", data={"csrf_token": token, "outcome": "resolved"})
    assert acted.status_code == 403


def test_the_practice_answers_in_the_portal_with_a_file_and_the_biller_sees_it_on_the_item(app: Flask) -> None:
    w = _portal_world(app)
    client = app.test_client()
    AuthActions(client).login(w["portal_email"])
    page = client.get(f"/portal/requests/{w['request']}")
    assert "Send the progress note of 11/16" in page.text and "letter.pdf" in page.text
    refused = client.post(f"/portal/requests/{w['request']}", data={"csrf_token": csrf_token(page.text), "answer": ""})
    assert refused.status_code == 422
    answered = client.post(
        f"/portal/requests/{w['request']}",
        data={"csrf_token": csrf_token(page.text), "answer": "Note attached", "file": (io.BytesIO(PDF), "note.pdf")},
        content_type="multipart/form-data",
    )
    assert answered.status_code == 302
    staff = app.test_client()
    AuthActions(staff).login(w["biller_email"])
    item_page = staff.get(f"/items/{w['denial']}").text
    assert "The practice answered request" in item_page and "Note attached" in item_page
    assert "waiting on practice" in item_page and "note.pdf" in item_page
    assert staff.get("/portal").status_code == 403


def test_a_biller_sends_a_request_from_the_item_page(app: Flask) -> None:
    w = _portal_world(app)
    client = app.test_client()
    AuthActions(client).login(w["biller_email"])
    with app.app_context():
        origin = chains.open_item(practice_id=db.session.get(WorkItem, w["denial"]).practice_id, kind="work_denial",
                                  now=NOW, reason="CO-16",
                                  claim_id=db.session.get(WorkItem, w["denial"]).claim_id)  # fmt: skip
        origin_id = origin.id
    page = client.get(f"/items/{origin_id}")
    assert "Ask the practice" in page.text
    response = client.post(f"/items/{origin_id}/practice-request", data={
        "csrf_token": csrf_token(page.text), "request_type": "signature", "message": "Please sign the plan",
        "blocks_submission": "y"})  # fmt: skip
    assert response.status_code == 302
    page = client.get(f"/items/{origin_id}").text
    assert "Please sign the plan" in page and "paused 0 min so far, waiting on practice" in page
    with app.app_context():
        row = db.session.scalar(select(PracticeRequest).where(PracticeRequest.origin_item_id == origin_id))
        assert row.blocks_submission and row.request_type == "signature"
        assert db.session.get(WorkItem, origin_id).state == ItemState.BLOCKED


def test_the_portal_imports_sessions_of_its_own_practice_only_all_or_nothing(app: Flask) -> None:
    with app.app_context():
        org = f.make_org()
        practice, other = f.make_practice(org), f.make_practice(org)
        provider, payer = f.make_provider(practice), f.make_payer(org)
        user = f.make_user(org, role="practice", practices=[practice])
        own = {**GOOD, "practice": practice.slug, "provider_npi": provider.npi, "payer_id": payer.payer_id}
        names = (practice.slug, other.slug, user.email)
    client = app.test_client()
    AuthActions(client).login(names[2])
    token = csrf_token(client.get("/portal/sessions").text)

    def upload(*rows: dict[str, str]):  # noqa: ANN202
        data = {"csrf_token": token, "file": (io.BytesIO(_csv(*rows).encode()), "sessions.csv")}
        return client.post("/portal/sessions", data=data, content_type="multipart/form-data")

    refused = upload(own, {**own, "session_ref": "CM-2", "practice": names[1]})
    assert refused.status_code == 422 and "is not your practice" in refused.text and "row 3" not in refused.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Session)) == 0
    assert upload(own).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Session.external_ref)).all() == ["CM-1001"]


def test_the_submit_step_waits_while_the_claim_is_held_and_wakes_when_the_practice_answers(ctx) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer)
    submit, _ = chains.add_item(practice_id=practice.id, kind="submit", now=NOW, reason="ready", claim_id=claim.id,
                                mode=Mode.AUTOMATED)  # fmt: skip
    audit, _ = chains.add_item(practice_id=practice.id, kind="audit", now=NOW, reason="check", claim_id=claim.id)
    db.session.commit()
    biller = f.make_user(org, practices=[practice])
    portal_user = f.make_user(org, role="practice", practices=[practice])
    request = services.send_request(origin=audit, actor=biller, now=NOW, request_type="signature",
                                    message="Sign the claim form", blocks_submission=True)  # fmt: skip
    with pytest.raises(NotYet, match=f"held: waiting on the practice \\(request #{request.work_item_id}"):
        steps.submit(submit, NOW)
    defer_automated_item(item=submit, now=NOW, until=NOW + timedelta(days=1), reason="held", source="test")
    services.answer_request(request=request, user=portal_user, now=NOW + timedelta(hours=2), answer="Signed")
    db.session.refresh(submit)
    assert submit.state == ItemState.READY  # woken at once: its step runs and submits
    log = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == submit.id)).all()
    assert f"The practice answered #{request.work_item_id}" in log


@pytest.mark.parametrize(
    ("endpoint", "reachable"),
    [("portal.inbox", True), ("accounts.account", True), ("static", True), ("work.queue", False),
     ("work.item", False), ("api.list_work_items", False), ("practice_requests.send", False),
     ("documents.download", False), ("supervisor.breaches", False), (None, True)],
)  # fmt: skip
def test_a_practice_user_reaches_the_portal_and_their_account_only(endpoint: str | None, reachable: bool) -> None:
    assert practice_user_may_reach(endpoint) is reachable


def test_no_queue_list_offers_the_practice_s_queue_and_no_rule_or_reassignment_reaches_a_practice_user(ctx) -> None:  # noqa: ANN001
    w = _denial_world()
    assert "practice" not in known_queues() and "denials" in known_queues()
    assert w["portal_user"].id not in {c.id for c in routing_people(w["org"].id)}
    assert w["portal_user"] not in queries.assignable_users(w["denial"], w["supervisor"])
    with pytest.raises(ValidationFailed, match="not one of the billing staff"):
        reassign_item(item=w["denial"], actor=w["supervisor"], now=NOW, assignee=w["portal_user"], reason="try")
