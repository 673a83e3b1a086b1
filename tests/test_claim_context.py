"""Items carry their context (issue 17): the claim header of claim-related items (a denial made by 835 posting has
no session: its patient, member ID and date of service come through its claim), queue rows with patient and date of
service sorted by any column, and Complete and next."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.audit.models import AuditEvent
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import Coverage
from backoffice.remits.services import post_835
from backoffice.work import chains
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.test_post_835 import clp, era, svc


def _world(app: Flask) -> dict[str, int]:
    """A denial item from an 835 (claim, no session) and two session items of practice A; one item of B."""
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org, name="Calm Mind")
        other_practice = f.make_practice(org, name="Harbor")
        payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan")
        f.make_user(org, practices=[practice], email="biller@example.test", name="Bea Biller",
                    queues=["eligibility", "authorization"])  # fmt: skip
        patient = f.make_patient(practice, payer, last_name="Zimmer", first_name="Ana", date_of_birth=date(1979, 4, 2))
        coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
        provider = f.make_provider(practice)
        session = f.make_session(practice, provider, patient, date_of_service=date(2026, 11, 2))
        claim = Claim(practice_id=practice.id, session_id=session.id, patient_id=patient.id, payer_id=payer.id,
                      coverage_id=coverage.id, account_number="CALM-77", status=ClaimStatus.SUBMITTED,
                      total_charge=D("200.00"), created_at=NOW, submitted_at=NOW,
                      lines=[ClaimLine(line_number=1, date_of_service=date(2026, 11, 2), cpt="90837", modifiers=[],
                                       units=1, place_of_service="11", diagnosis_pointers=[1],
                                       charge=D("200.00"))])  # fmt: skip
        db.session.add(claim)
        db.session.commit()
        post_835(organization_id=org.id, now=NOW, text=era(clp("CALM-77", "4", "200", "0", "0",
                 svc("90837", "200", "0", "CAS*CO*197*200"), "REF*6R*1")))  # fmt: skip
        denial = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == claim.id))
        early = f.make_patient(practice, payer, last_name="Adams", first_name="Bo")
        first = f.make_session(practice, provider, early, date_of_service=date(2026, 10, 1))
        (head,) = chains.create_chain(session=first, kinds=["verify_benefits"], now=NOW)
        (b_item,) = f.make_ready_items(other_practice, 1)
        return {"denial": denial.id, "claim": claim.id, "patient": patient.id, "head": head.id, "b": b_item.id,
                "member": coverage.member_id}  # fmt: skip


def test_a_denial_item_from_an_835_shows_the_claim_header_with_the_patient_and_amounts(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("biller@example.test")
    page = client.get(f"/items/{ids['denial']}").get_data(as_text=True)
    header = page[page.index('id="item-context"') : page.index('<ol class="chain">')]
    for text in ("Zimmer, Ana", "04/02/1979", ids["member"], "11/02/2026", "CALM-77", "Example Health Plan",
                 "$200.00", "Denied"):  # fmt: skip
        assert text in header, text
    assert re.search(r"Paid</dt><dd[^>]*>\$0\.00", header) and re.search(r"Open</dt><dd[^>]*>\$200\.00", header)
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent.patient_id).where(AuditEvent.target_id == str(ids["denial"])))
        assert ids["patient"] in set(reads)


def test_an_item_with_no_claim_has_no_claim_header(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = _world(app)
    auth.login("biller@example.test")
    page = client.get(f"/items/{ids['head']}").get_data(as_text=True)
    assert 'id="item-context"' not in page


def _rows(page: str) -> list[str]:
    return re.findall(r'<td class="patient">([^<]*)</td><td>([^<]*)</td>', page)


def test_queue_rows_show_patient_and_date_of_service_and_sort_by_them(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    _world(app)
    auth.login("biller@example.test")
    page = client.get("/queue?queue=authorization").get_data(as_text=True)
    assert ("Zimmer, Ana", "11/02/2026") in _rows(page)  # the denial reaches them through its claim
    by_patient = _rows(client.get("/queue?sort=patient&dir=asc").get_data(as_text=True))
    assert [name for name, _ in by_patient] == ["Adams, Bo", "Zimmer, Ana"]
    by_patient_desc = _rows(client.get("/queue?sort=patient&dir=desc").get_data(as_text=True))
    assert [name for name, _ in by_patient_desc] == ["Zimmer, Ana", "Adams, Bo"]
    by_dos = _rows(client.get("/queue?sort=dos&dir=desc").get_data(as_text=True))
    assert [day for _, day in by_dos] == ["11/02/2026", "10/01/2026"]
    for column in ("id", "kind", "practice", "queue", "owner", "state", "priority", "amount", "due"):
        assert client.get(f"/queue?sort={column}&dir=desc").status_code == 200
    page = client.get("/queue?sort=patient&dir=asc").get_data(as_text=True)
    assert 'href="/queue?sort=patient&amp;dir=desc"' in page  # the current column flips
    assert "Harbor" not in page  # sorting keeps the practice scope
    assert "sort: expected one of" in client.get("/queue?sort=ssn").get_data(as_text=True)


def test_complete_and_next_opens_the_next_item_of_the_queue(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = _world(app)
    with app.app_context():
        practice_id = db.session.get(WorkItem, ids["head"]).practice_id
        (second,) = f.make_ready_items(db.session.get(Practice, practice_id), 1)
        second_id = second.id
    auth.login("biller@example.test")
    page = client.get(f"/items/{ids['head']}").get_data(as_text=True)
    token = csrf_token(page)
    client.post(f"/items/{ids['head']}/start", data={"csrf_token": token})
    response = client.post(f"/items/{ids['head']}/complete",
                           data={"csrf_token": token, "outcome": "resolved", "note": "", "then": "next"})  # fmt: skip
    assert response.status_code == 303 and response.headers["Location"] == f"/items/{second_id}"
    with app.app_context():
        assert db.session.get(WorkItem, ids["head"]).state.value == "done"
        assert db.session.get(WorkItem, second_id).assignee_id is not None
    response = client.post(f"/items/{second_id}/complete",
                           data={"csrf_token": token, "outcome": "resolved", "note": "", "then": "next"})  # fmt: skip
    assert response.status_code == 303 and response.headers["Location"].startswith("/queue")
