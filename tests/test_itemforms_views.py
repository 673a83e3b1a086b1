"""The item-form panels and their POSTs through the test client: what each kind's page shows, validation errors
that name the field, the live scrubber's JSON, CSRF, another practice's item (404) and another biller's (refused)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage
from backoffice.work import chains
from backoffice.work import services as work
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, Mode
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.test_itemforms_world import REJECTION_999, make_claim, make_world, open_exception

BENEFITS = {"coverage_id": "", "active": "yes", "in_network": "yes", "copay": "30.00", "coinsurance_percent": "20",
            "deductible_remaining": "250.00", "out_of_pocket_remaining": "", "visits_allowed": "20",
            "visits_remaining": "12", "auth_required": "no", "carve_out_payer_name": "", "carve_out_payer_id": "",
            "reference_number": "REF-9"}  # fmt: skip


def _ids(app: Flask, **kw: object) -> dict[str, int]:
    with app.app_context():
        w = make_world(**kw)
        return {kind: item.id for kind, item in w.chain.items()} | {
            "coverage": w.coverage.id,
            "other": w.other_biller.id,
        }


def _page(client: FlaskClient, item_id: int) -> str:
    response = client.get(f"/items/{item_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_the_benefits_panel_records_a_manual_check_and_completes_the_item(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    assert 'id="panel-benefits"' in page and "No 271 on file for Aetna" in page
    data = BENEFITS | {"csrf_token": csrf_token(page), "coverage_id": str(ids["coverage"]), "action": "finish"}
    response = client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=data)
    assert response.status_code == 303 and response.headers["Location"].endswith("#panel-benefits")
    page = _page(client, ids["verify_benefits"])
    assert "Benefits recorded; item completed." in page and "Last entered by hand" in page
    with app.app_context():
        check = db.session.scalars(select(BenefitsCheck)).one()
        assert (check.source, str(check.copay), check.visits_remaining) == ("manual", "30.00", 12)
        assert db.session.get(WorkItem, ids["verify_benefits"]).state == ItemState.DONE


def test_a_bad_benefits_entry_flashes_the_field_and_records_nothing(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    data = BENEFITS | {"csrf_token": csrf_token(page), "coinsurance_percent": "120"}
    refused = client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=data)
    # The page comes back at once (422) with the error and what the user typed still in the form.
    assert refused.status_code == 422 and "coinsurance %: between 0 and 100" in refused.get_data(as_text=True)
    assert 'id="benefits-coinsurance"' in refused.get_data(as_text=True)
    assert re.search(r'id="benefits-coinsurance"[^>]*value="120"', refused.get_data(as_text=True))
    data = BENEFITS | {"csrf_token": csrf_token(page), "copay": "thirty"}
    refused = client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=data)
    assert "Copay $: expected an amount such as 150.00" in refused.get_data(as_text=True)
    assert _count(app, BenefitsCheck) == 0


def test_the_benefits_panel_says_when_auth_is_required_and_none_covers_the_session(app, client, auth) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    data = BENEFITS | {"csrf_token": csrf_token(page), "auth_required": "yes", "action": "save"}
    client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=data)
    page = _page(client, ids["verify_benefits"])
    assert "Prior auth is required and no authorization with units left covers 90834." in page
    assert "added obtain-preauth item" in page  # the timeline


def test_the_preauth_panel_lists_authorizations_and_records_one(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["obtain_preauth", "enter_charge"])
    auth.login("biller@example.test")
    page = _page(client, ids["obtain_preauth"])
    assert "No authorizations on file for this patient." in page
    form = {"csrf_token": csrf_token(page), "coverage_id": str(ids["coverage"]), "number": "PA-5",
            "cpt_codes": "90834", "counts": "visits", "authorized": "8", "start_date": "2026-03-01",
            "end_date": "2026-02-01"}  # fmt: skip
    refused = client.post(f"/items/{ids['obtain_preauth']}/forms/authorization", data=form).get_data(as_text=True)
    assert "end date: must be on or after the start date" in refused
    assert re.search(r'id="auth-number"[^>]*value="PA-5"', refused)  # what the user typed stays
    assert _count(app, Authorization) == 0
    client.post(f"/items/{ids['obtain_preauth']}/forms/authorization", data=form | {"end_date": "2026-09-30"})
    page = _page(client, ids["obtain_preauth"])
    assert "Authorization recorded; item completed." in page and "<code>PA-5</code>" in page
    assert '<td class="num">8</td>' in page  # remaining


def test_the_charge_panel_shows_lines_and_the_scrubbers_findings(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["audit"], prior_auth_cpts=["90837"])
    with app.app_context():
        make_claim(_world_of(ids["audit"]), cpt="90837")
    auth.login("biller@example.test")
    page = _page(client, ids["audit"])
    assert 'id="charge-form"' in page and 'value="90837"' in page and "version 1" in page
    assert "AUTH-REQUIRED" in page and "Save and pass audit" in page
    assert 'src="/static/itemforms.js"' in page


def _world_of(item_id: int):  # noqa: ANN202
    """The World of an item made by ``_ids`` (claims need the session, patient and coverage)."""
    from types import SimpleNamespace

    from backoffice.patients.models import Coverage

    item = db.session.get(WorkItem, item_id)
    session = item.session
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == session.patient_id))
    return SimpleNamespace(practice=item.practice, session=session, patient=session.patient, payer=coverage.payer,
                           coverage=coverage)  # fmt: skip


def test_saving_lines_through_the_form_bumps_the_version(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["audit"])
    with app.app_context():
        claim_id = make_claim(_world_of(ids["audit"])).id
    auth.login("biller@example.test")
    page = _page(client, ids["audit"])
    form = {"csrf_token": csrf_token(page), "version": "1", "action": "finish", "line-1-cpt": "90834",
            "line-1-modifiers": "", "line-1-units": "1", "line-1-pos": "02", "line-1-pointers": "1"}  # fmt: skip
    client.post(f"/items/{ids['audit']}/forms/lines", data=form)
    assert "Claim lines saved; item completed." in _page(client, ids["audit"])
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert claim.version == 2 and claim.lines[0].place_of_service == "02"
    refused = client.post(f"/items/{ids['audit']}/forms/lines", data=form | {"version": "2"})
    assert "only open items can be worked" in refused.get_data(as_text=True)


def test_the_live_scrubber_answers_with_findings_for_the_edited_lines(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["audit"], prior_auth_cpts=["90837"])
    auth.login("biller@example.test")
    token = csrf_token(_page(client, ids["audit"]))
    url = f"/items/{ids['audit']}/forms/scrub"
    line = {"cpt": "90834", "modifiers": "", "units": "1", "pos": "11", "pointers": "1"}
    clean = client.post(url, json={"lines": [line]}, headers={"X-CSRFToken": token})
    assert clean.status_code == 200 and clean.json["findings"] == [] and clean.json["total"] == "150.00"
    edited = client.post(url, json={"lines": [line | {"cpt": "90837"}]}, headers={"X-CSRFToken": token}).json
    assert edited["errors"] == 1 and edited["lines"][0]["charge"] == "200.00"
    assert {f["rule"] for f in edited["findings"]} == {"AUTH-REQUIRED", "EDIT-NOT-CODED", "EDIT-CODE-DROPPED"}
    bad = client.post(url, json={"lines": [line | {"cpt": "9"}]}, headers={"X-CSRFToken": token})
    assert bad.status_code == 422 and bad.json["problems"] == ["line 1, CPT: 9 is not in the catalogue"]
    assert client.post(url, json={"lines": [line]}).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Claim)) == 0  # a preview writes nothing


def test_a_rejection_shows_the_999_errors_and_is_corrected_and_resubmitted(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["verify_benefits"])
    with app.app_context():
        claim = make_claim(_world_of(ids["verify_benefits"]), status="rejected")
        item_id = open_exception(_world_of(ids["verify_benefits"]), "fix_rejection", claim, REJECTION_999,
                                 reason="999 IK5 R for transaction set 0001").id  # fmt: skip
    auth.login("biller@example.test")
    page = _page(client, item_id)
    assert 'id="panel-rejection"' in page and "999 IK5 R for transaction set 0001" in page
    assert "<code>NM1</code>" in page and "8 Segment has data element errors" in page
    assert "<code>NM109</code> (data element 67)" in page and "7 Invalid code value" in page
    assert "Correct and resubmit" in page
    form = {"csrf_token": csrf_token(page), "version": "1", "action": "finish", "line-1-cpt": "90834",
            "line-1-modifiers": "", "line-1-units": "1", "line-1-pos": "11", "line-1-pointers": "1"}  # fmt: skip
    client.post(f"/items/{item_id}/forms/lines", data=form)
    assert "Claim lines saved; item completed." in _page(client, item_id)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(WorkItem.kind == "submit")) == 1


def test_a_denial_shows_each_code_with_its_meaning_family_action_and_deadline(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["verify_benefits"])
    evidence = {"family": "authorization", "codes": ["CO-197"], "remarks": ["N54"], "amount": "150.00",
                "appealable": True, "appeal_deadline": "2027-05-01"}  # fmt: skip
    with app.app_context():
        claim = make_claim(_world_of(ids["verify_benefits"]), status="denied")
        item_id = open_exception(_world_of(ids["verify_benefits"]), "work_denial", claim, evidence).id
    auth.login("biller@example.test")
    page = _page(client, item_id)
    assert "<code>CO-197</code>" in page and "CO contractual obligation" in page
    assert "precertification/authorization/notification absent" in page
    assert "Find or request the authorization (retro if allowed)" in page
    assert "$150.00" in page and "05/01/2027" in page and "<code>N54</code>" in page


def test_another_practices_item_is_a_404_for_every_form(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("outsider@example.test")
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    item_id = ids["verify_benefits"]
    assert client.get(f"/items/{item_id}").status_code == 404
    for form in ("benefits", "authorization", "lines"):
        assert client.post(f"/items/{item_id}/forms/{form}", data={"csrf_token": token}).status_code == 404
    scrub = client.post(f"/items/{item_id}/forms/scrub", json={"lines": []}, headers={"X-CSRFToken": token})
    assert scrub.status_code == 404


def test_a_biller_cannot_act_on_someone_elses_item(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    with app.app_context():
        item = db.session.get(WorkItem, ids["verify_benefits"])
        work.start_item(item=item, actor=_user(ids["other"]), now=NOW)
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    data = BENEFITS | {"csrf_token": csrf_token(page)}
    refused = client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=data)
    assert f"work item {ids['verify_benefits']} belongs to another biller" in refused.get_data(as_text=True)
    assert _count(app, BenefitsCheck) == 0


def _user(user_id: int):  # noqa: ANN202
    from backoffice.accounts.models import User

    return db.session.get(User, user_id)


def test_panels_post_only_with_a_csrf_token(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("biller@example.test")
    response = client.post(f"/items/{ids['verify_benefits']}/forms/benefits", data=BENEFITS)
    assert response.status_code == 400 and _count(app, BenefitsCheck) == 0


def test_an_appeal_handed_to_a_person_still_shows_the_denials_codes(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["verify_benefits"])
    evidence = {"family": "medical_necessity", "codes": ["CO-50"], "remarks": [], "amount": "200.00",
                "appealable": True, "appeal_deadline": "2027-05-01"}  # fmt: skip
    with app.app_context():
        claim = make_claim(_world_of(ids["verify_benefits"]), status="denied")
        item = open_exception(_world_of(ids["verify_benefits"]), "appeal", claim, evidence, mode=Mode.AUTOMATED)
        work.hand_over_to_manual(item=item, now=NOW, reason="appeal letter drafted", evidence={"draft": "Dear…"},
                                 source="worker:appeal")  # fmt: skip
        item_id = item.id
    auth.login("biller@example.test")
    page = _page(client, item_id)
    assert "<code>CO-50</code>" in page and "not deemed a medical necessity" in page and "$200.00" in page


def test_a_reauthorization_page_shows_the_expiring_authorization_and_prefills_its_codes(app, client, auth) -> None:  # noqa: ANN001
    ids = _ids(app, chain=["verify_benefits"])
    with app.app_context():
        world = _world_of(ids["verify_benefits"])
        old = Authorization(patient_id=world.patient.id, payer_id=world.payer.id, number="PA-OLD",
                            cpt_codes=["90834", "90785"], counts_visits=False, authorized=10, used=8,
                            start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))  # fmt: skip
        db.session.add(old)
        db.session.commit()
        item_id = chains.open_item(practice_id=world.practice.id, kind="reauthorize", now=NOW, authorization_id=old.id,
                                 reason="2 units left").id  # fmt: skip
    auth.login("biller@example.test")
    page = _page(client, item_id)
    assert "<code>PA-OLD</code>" in page and "to renew" in page and '<td class="num">2</td>' in page
    assert 'value="90834 90785"' in page and '<option selected value="units">' in page
    token = csrf_token(page)
    form = {"csrf_token": token, "number": "PA-NEW", "cpt_codes": "90834 90785", "counts": "units", "authorized": "10",
            "start_date": "2027-01-01", "end_date": "2027-06-30"}  # fmt: skip
    client.post(f"/items/{item_id}/forms/authorization", data=form)
    assert "Authorization recorded; item completed." in _page(client, item_id)
    with app.app_context():
        new = db.session.scalar(select(Authorization).where(Authorization.number == "PA-NEW"))
        assert (new.patient_id, new.payer_id, new.counts_visits) == (world.patient.id, world.payer.id, False)


def test_the_benefits_form_starts_from_the_271_on_file(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    with app.app_context():
        coverage = db.session.get(Coverage, ids["coverage"])
        db.session.add(BenefitsCheck(practice_id=coverage.patient.practice_id, patient_id=coverage.patient_id,
                                     coverage_id=coverage.id, payer_id=coverage.payer_id, checked_at=NOW, source="271",
                                     active=True, in_network=False, copay=D("25.00"), visits_allowed=30,
                                     visits_remaining=18, auth_required=True, messages=[]))  # fmt: skip
        db.session.commit()
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    form = page[page.index('id="benefits-form"') :]
    assert 'id="benefits-filled-from"' in form
    assert re.search(r'id="benefits-copay"[^>]*value="25.00"', form)
    assert re.search(r'id="benefits-visits-remaining"[^>]*value="18"', form)
    assert re.search(r'<option selected value="no">no</option>', form[form.index('id="benefits-network"') :])


def test_a_refused_work_form_keeps_what_was_typed(app, client, auth: AuthActions) -> None:  # noqa: ANN001
    ids = _ids(app)
    auth.login("biller@example.test")
    page = _page(client, ids["verify_benefits"])
    data = {"csrf_token": csrf_token(page), "until": "not a time", "reason": "waiting for the payer's callback"}
    refused = client.post(f"/items/{ids['verify_benefits']}/snooze", data=data)
    assert refused.status_code == 422
    assert "waiting for the payer&#39;s callback" in refused.get_data(as_text=True)
