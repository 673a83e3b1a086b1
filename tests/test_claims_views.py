"""The claims list and the claim page: search by every field a biller has at hand, inside the practice scope; the page
shows versions, lines with CARC/RARC meanings, submissions, payments and deadlines, and its reads are audited; the
correction forms reach the services (a rejected claim's member ID corrected and resubmitted, an unchanged one
refused)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from backoffice.audit.models import AuditEvent
from backoffice.claims.models import Claim
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.work.models import WorkItem
from tests import factories as f
from tests.conftest import csrf_token
from tests.factories_submission import NOW, account_for, edi_setup, scrubbed_claim


def _world(scenario: str):  # noqa: ANN202
    org, practice, provider, payer = edi_setup()
    claim = scrubbed_claim(practice, provider, payer, account_number=account_for(scenario))
    submit_claims(organization_id=org.id, claim_ids=[claim.id], now=NOW, source="test")
    ingest_all(now=NOW)
    biller = f.make_user(org, "biller", [practice], email=f"biller{claim.id}@claims.test")
    return org, practice, payer, db.session.get(Claim, claim.id), biller


def test_a_claim_is_found_by_member_id_and_each_other_field(ctx, client, auth) -> None:  # noqa: ANN001
    org, practice, payer, claim, biller = _world("denied_auth")
    coverage = db.session.get(Coverage, claim.coverage_id)
    auth.login(biller.email)
    dos = claim.lines[0].date_of_service
    searches = {
        "member_id": coverage.member_id.lower(),
        "claim_number": claim.account_number[-4:],
        "payer_claim_number": claim.payer_claim_number,
        "date_of_birth": "1980-01-01",
        "dos_from": (dos - timedelta(days=1)).isoformat(),
        "payer_id": str(payer.id),
        "status": "denied",
        "practice_id": str(practice.id),
    }
    for name, value in searches.items():
        page = client.get("/claims", query_string={name: value})
        assert page.status_code == 200
        assert f">{claim.account_number}</a>" in page.text, name
    miss = client.get("/claims", query_string={"member_id": "NOPE", "dos_to": (dos - timedelta(days=1)).isoformat()})
    assert f">{claim.account_number}</a>" not in miss.text and "No claims match" in miss.text
    assert client.get("/claims", query_string={"dos_from": "2026-13-01"}).status_code == 400


def test_the_list_stays_inside_the_users_practices(ctx, client, auth) -> None:  # noqa: ANN001
    org, practice, payer, claim, biller = _world("paid")
    other = f.make_practice(org)
    outsider = f.make_user(org, "biller", [other], email="other@claims.test")
    auth.login(outsider.email)
    page = client.get("/claims", query_string={"claim_number": claim.account_number})
    assert f">{claim.account_number}</a>" not in page.text and "No claims match" in page.text
    assert client.get(f"/claims/{claim.id}").status_code == 404


def test_the_claim_page_shows_its_history_money_and_deadlines_and_audits_the_read(ctx, client, auth) -> None:  # noqa: ANN001
    org, practice, payer, claim, biller = _world("denied_auth")
    auth.login(biller.email)
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200
    text = page.text
    assert claim.payer_claim_number in text
    assert "CO-197" in text or "CO-15" in text or "CO-62" in text  # the denial's CARC, with its meaning
    assert "authorization" in text.lower()
    assert "Timely filing" in text and "Corrected claim (replacement)" in text and "Appeal:" in text
    assert "Submitted in 837P-" in text and "277CA" in text  # the status history
    assert 'id="replace-form"' in text and 'id="void-form"' in text and 'id="rebill-form"' in text
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.endpoint == "claims.detail"))
    assert (row.action, row.patient_id) == ("phi_view", claim.patient_id)


def test_a_rejected_claims_member_id_is_corrected_and_resubmitted_from_the_claim_page(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org, practice, payer, claim, biller = _world("rejected")
        claim_id, payer_id, email = claim.id, payer.id, biller.email
    auth.login(email)
    page = client.get(f"/claims/{claim_id}")
    assert 'id="correct-form"' in page.text
    form = {"csrf_token": csrf_token(page.text), "version": "1", "reason": "277CA: subscriber not found",
            "action": "resubmit", "payer_id": str(payer_id)}  # fmt: skip
    refused = client.post(f"/claims/{claim_id}/correct", data=form)
    assert refused.status_code == 422 and "nothing changed since version 1" in refused.text
    assert "277CA: subscriber not found</textarea>" in refused.text  # the claim page again, with what was typed
    bad_date = client.post(f"/claims/{claim_id}/correct", data={**form, "member_id": "W777000111",
                                                                "date_of_service": "2026-02-30"})  # fmt: skip
    assert bad_date.status_code == 422 and 'value="W777000111"' in bad_date.text and "2026-02-30" in bad_date.text
    done = client.post(f"/claims/{claim_id}/correct", data={**form, "member_id": "W777000111"}, follow_redirects=True)
    assert "Claim corrected as version 2; resubmission queued." in done.text
    assert 'id="claim-member-id">W777000111' in done.text
    with app.app_context():
        claim = db.session.get(Claim, claim_id)
        assert (claim.status, claim.version) == ("scrubbed", 2)
        assert db.session.get(Coverage, claim.coverage_id).member_id == "W777000111"
        assert db.session.scalar(select(WorkItem.id).where(WorkItem.claim_id == claim_id, WorkItem.kind == "submit"))


def test_a_replacement_from_the_claim_page_warns_past_the_corrected_claim_limit(app, client, auth, clock_pin) -> None:  # noqa: ANN001
    with app.app_context():
        org, practice, payer, claim, biller = _world("denied_info")
        payer.corrected_claim_window_days = 10
        db.session.commit()
        claim_id, email = claim.id, biller.email
    clock_pin.advance(days=20)
    auth.login(email)
    page = client.get(f"/claims/{claim_id}")
    assert "past the corrected-claim limit" in page.text
    form = {"csrf_token": csrf_token(page.text), "version": "1", "reason": "diagnosis fixed", "diagnoses": "F33.0"}
    no_reason = client.post(f"/claims/{claim_id}/replace", data={**form, "reason": "", "line-1-cpt": "90834"})
    assert no_reason.status_code == 422 and 'name="line-1-cpt" value="90834"' in no_reason.text  # the lines typed
    assert 'value="F33.0"' in no_reason.text
    done = client.post(f"/claims/{claim_id}/replace", data=form, follow_redirects=True)
    assert "Replacement claim (frequency 7) made as version 2" in done.text
    assert "Warning: past the corrected-claim limit" in done.text
    with app.app_context():
        assert db.session.get(Claim, claim_id).frequency_code == "7"


def test_a_denial_item_offers_the_actions_its_family_calls_for(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org, practice, payer, claim, biller = _world("denied_wrong_payer")
        item_id = db.session.scalar(select(WorkItem.id).where(WorkItem.claim_id == claim.id,
                                                              WorkItem.kind == "work_denial"))  # fmt: skip
        claim_id, email = claim.id, biller.email
    auth.login(email)
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200
    actions = page.text[page.text.index('id="denial-actions"') :].split("</p>")[0]
    assert actions.index("Rebill to the right payer") < actions.index("Correct and replace")
    assert f"/claims/{claim_id}#coverage-form" in actions and "#panel-write-off" in actions
    assert "Appeal" not in actions  # a wrong-payer denial is rebilled, not appealed


def test_a_rejection_item_links_to_the_header_correction(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org, practice, payer, claim, biller = _world("rejected")
        item_id = db.session.scalar(select(WorkItem.id).where(WorkItem.claim_id == claim.id,
                                                              WorkItem.kind == "fix_rejection"))  # fmt: skip
        claim_id, email = claim.id, biller.email
    auth.login(email)
    page = client.get(f"/items/{item_id}")
    assert f"/claims/{claim_id}#correct-form" in page.text


def test_a_replacement_form_carries_corrected_lines(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org, practice, payer, claim, biller = _world("denied_info")
        claim_id, email = claim.id, biller.email
    auth.login(email)
    page = client.get(f"/claims/{claim_id}")
    assert 'name="line-1-cpt" value="90834"' in page.text
    form = {"csrf_token": csrf_token(page.text), "version": "1", "reason": "modifier 95: it was telehealth",
            "line-1-cpt": "90834", "line-1-modifiers": "95", "line-1-units": "1", "line-1-pos": "10",
            "line-1-pointers": "1"}  # fmt: skip
    done = client.post(f"/claims/{claim_id}/replace", data=form, follow_redirects=True)
    assert "Replacement claim (frequency 7) made as version 2" in done.text, done.text[:3000]
    with app.app_context():
        line = db.session.get(Claim, claim_id).lines[0]
        assert (line.cpt, line.place_of_service) == ("90834", "10") and "95" in line.modifiers
