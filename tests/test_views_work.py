"""The work-queue screens through the test client: queue, Get next, the item page and its actions."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from backoffice.extensions import db
from backoffice.work.log import record_interaction
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState
from tests import factories as f
from tests.conftest import AuthActions, csrf_token


def _world(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        practice_a = f.make_practice(org, name="Calm Mind")
        practice_b = f.make_practice(org, name="Harbor")
        payer = f.make_payer(org, name="Aetna")
        biller = f.make_user(org, practices=[practice_a], email="biller@example.test", name="Bea Biller")
        other = f.make_user(org, practices=[practice_b], email="other@example.test")
        supervisor = f.make_user(org, role="supervisor", email="sup@example.test", name="Sam Super")
        items_a = f.make_ready_items(practice_a, 2)
        items_b = f.make_ready_items(practice_b, 1)
        return {
            "a1": items_a[0].id,
            "a2": items_a[1].id,
            "b1": items_b[0].id,
            "payer": payer.id,
            "biller": biller.id,
            "other": other.id,
            "supervisor": supervisor.id,
        }


def test_it_redirects_anonymous_users_to_login_with_a_local_next(client: FlaskClient) -> None:
    response = client.get("/queue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_biller_gets_next_logs_a_call_completes_and_sees_it_in_the_timeline(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    assert auth.login("biller@example.test").status_code == 302
    queue_page = client.get("/queue").get_data(as_text=True)
    response = client.post("/items/next", data={"csrf_token": csrf_token(queue_page)})
    assert response.status_code == 303
    item_url = response.headers["Location"]
    item_id = int(item_url.rsplit("/", 1)[1])
    assert item_id in (ids["a1"], ids["a2"])  # never practice B's item

    page = client.get(item_url).get_data(as_text=True)
    token = csrf_token(page)
    response = client.post(
        f"/items/{item_id}/calls",
        data={
            "csrf_token": token,
            "payer_id": ids["payer"],
            "phone_line": "provider services",
            "representative": "Maria",
            "reference_number": "REF-2026-1122-001",
            "outcome": "benefits_confirmed",
            "next_action": "enter charge",
            "duration_minutes": "12",
            "body": "copay $30",
        },
    )
    assert response.status_code == 303
    response = client.post(
        f"/items/{item_id}/complete", data={"csrf_token": token, "outcome": "resolved", "note": "verified"}
    )
    assert response.status_code == 303

    page = client.get(item_url).get_data(as_text=True)
    assert "REF-2026-1122-001" in page
    assert "Completed." in page
    with app.app_context():
        item = db.session.get(WorkItem, item_id)
        assert item.state == ItemState.DONE
        assert item.assignee_id == ids["biller"]
        kinds = [
            i.kind.value for i in db.session.query(Interaction).filter_by(work_item_id=item_id).order_by(Interaction.id)
        ]
        assert kinds == ["status_change", "assignment", "call", "status_change"]


def test_a_biller_of_practice_a_gets_404_on_practice_b_items(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("biller@example.test")
    assert client.get(f"/items/{ids['b1']}").status_code == 404
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    assert client.post(f"/items/{ids['b1']}/notes", data={"csrf_token": token, "body": "hi"}).status_code == 404
    assert client.get("/items/999999").status_code == 404


def test_supervisor_sees_every_practice_and_the_floor(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = _world(app)
    auth.login("sup@example.test")
    assert client.get(f"/items/{ids['b1']}").status_code == 200
    board = client.get("/supervisor")
    assert board.status_code == 200
    assert "eligibility" in board.get_data(as_text=True)


def test_billers_may_not_open_the_supervisor_board(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _world(app)
    auth.login("biller@example.test")
    assert client.get("/supervisor").status_code == 403


def test_the_call_form_preselects_the_patients_primary_payer(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        payer = f.make_payer(org, name="Carelon Behavioral Health")
        f.make_user(org, practices=[practice], email="b@example.test")
        session = f.make_session(practice, patient=f.make_patient(practice, payer))
        from backoffice.work.chains import create_chain

        item_id = create_chain(session=session, kinds=["verify_benefits"], now=f.NOW)[0].id
        payer_id = payer.id
    auth.login("b@example.test")
    page = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert f'<option selected value="{payer_id}">Carelon Behavioral Health</option>' in page


def test_the_timeline_shows_the_newest_200_and_every_older_entry_one_link_further(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    with app.app_context():
        item = db.session.get(WorkItem, ids["a1"])
        other = db.session.get(WorkItem, ids["b1"])
        base = f.NOW + timedelta(days=1)  # after the row that opened the item
        for n in range(205):  # three entries a minute: the cursor must break ties on the id
            record_interaction(practice_id=item.practice_id, actor=None, kind=InteractionKind.NOTE, item=item,
                               now=base + timedelta(minutes=n // 3), body=f"entry-{n:03d}")  # fmt: skip
        foreign = record_interaction(practice_id=other.practice_id, actor=None, kind=InteractionKind.NOTE, item=other,
                                     now=base, body="practice B")  # fmt: skip
        db.session.commit()
        foreign_id = foreign.id
    auth.login("biller@example.test")
    entries = re.compile(r"entry-(\d{3})")

    newest = client.get(f"/items/{ids['a1']}").get_data(as_text=True)
    first = [int(n) for n in entries.findall(newest)]
    assert first == list(range(204, 4, -1))  # the newest 200, newest first
    older_url = re.search(r'href="(/items/\d+\?older=\d+)#timeline"', newest).group(1)

    page = client.get(older_url).get_data(as_text=True)
    assert [int(n) for n in entries.findall(page)] == [4, 3, 2, 1, 0]  # the rest: nothing dropped, nothing twice
    assert "?older=" not in page
    assert "Newest entries" in page
    # Another practice's entry as the cursor is ignored: the newest page, nothing of practice B.
    page = client.get(f"/items/{ids['a1']}?older={foreign_id}").get_data(as_text=True)
    assert [int(n) for n in entries.findall(page)] == first
    assert "practice B" not in page
