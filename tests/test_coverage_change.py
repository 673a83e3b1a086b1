"""Changing a patient's coverage ends the old one (never a silent extra secondary), refuses overlapping dates of the
same priority naming the field, and re-plans the open work it affects (a new verify-benefits; an unsubmitted claim
re-priced and re-scrubbed against the new payer), logged."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.claims.services import enter_charge
from backoffice.clock import utcnow
from backoffice.coverage.rules import Change, Span, coverage_change, subscriber_problem
from backoffice.coverage.services import CoverageInput, change_coverage
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.work.chains import create_chain
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.services import complete_item
from tests import factories as f
from tests.conftest import csrf_token


def test_a_new_coverage_ends_the_open_one_the_day_before_it_starts() -> None:
    old = Span(1, date(2026, 1, 1), None)
    assert coverage_change([old], date(2026, 11, 1), None) == Change({1: date(2026, 10, 31)})
    assert coverage_change([Span(2, date(2025, 1, 1), date(2025, 12, 31))], date(2026, 1, 1), None) == Change({})


def test_overlapping_dates_of_the_same_priority_are_refused_naming_the_field() -> None:
    later = Span(1, date(2026, 12, 1), None)
    field, why = coverage_change([later], date(2026, 11, 1), None)  # type: ignore[misc]
    assert field == "effective_from" and "2026-12-01" in why
    assert coverage_change([], date(2026, 11, 1), date(2026, 10, 1)) == (
        "effective_to",
        "must not be before effective_from",
    )


def test_a_dependent_needs_the_subscribers_own_name_birth_date_and_sex() -> None:
    assert subscriber_problem("self", None, None, None, None) is None
    found = subscriber_problem("child", "Pat", "Parent", None, "F")
    assert found == ("subscriber_date_of_birth", "required when the patient is not the subscriber")
    assert subscriber_problem("child", "Pat", "Parent", date(1980, 1, 1), "F") is None
    assert subscriber_problem("cousin", None, None, None, None)[0] == "relationship"  # type: ignore[index]


def test_changing_coverage_ends_the_old_one_and_replans_the_open_chain(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    practice = f.make_practice(org, fee_schedule={"90837": "190.00"})
    aetna, uhc = f.make_payer(org, payer_id="AETNA"), f.make_payer(org, payer_id="UHC")
    patient = f.make_patient(practice, aetna)
    session = f.make_session(practice, patient=patient)
    items = create_chain(session=session, kinds=["verify_benefits", "enter_charge", "audit", "submit"], now=utcnow())
    complete_item(item=items[0], actor=None, actor_label="test", now=utcnow())
    claim = enter_charge(session=session, now=utcnow(), today=utcnow().date())
    assert claim.payer_id == aetna.id
    data = CoverageInput(payer_id=uhc.id, member_id="U123", priority="primary", relationship="child",
                         effective_from=date(2026, 11, 1), subscriber_first_name="Pat", subscriber_last_name="Parent",
                         subscriber_date_of_birth=date(1980, 2, 2), subscriber_sex="F")  # fmt: skip
    new = change_coverage(patient=patient, data=data, actor=None, now=utcnow())
    coverages = db.session.scalars(select(Coverage).where(Coverage.patient_id == patient.id).order_by(Coverage.id))
    assert [(c.payer_id, str(c.priority), c.effective_to) for c in coverages] == [
        (aetna.id, "primary", date(2026, 10, 31)), (uhc.id, "primary", None)]  # fmt: skip
    assert str(new.relationship_to_subscriber) == "19" and new.subscriber_last_name == "Parent"
    claim = db.session.get(Claim, claim.id, populate_existing=True)
    assert claim.payer_id == uhc.id and claim.coverage_id == new.id and str(claim.status) in ("draft", "scrubbed")
    verify = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key.like(f"coverage:{new.id}:%")))
    assert verify is not None and verify.kind == "verify_benefits" and verify.payer_id == uhc.id
    logged = db.session.scalar(select(Interaction.body).where(Interaction.session_id == session.id,
                                                              Interaction.body.like("Coverage changed%")))  # fmt: skip
    assert "ended 2026-10-31" in logged and "re-priced and re-scrubbed" in logged


def test_an_overlapping_coverage_is_refused_and_nothing_changes(ctx) -> None:  # noqa: ANN001
    org = f.make_org()
    practice = f.make_practice(org)
    aetna = f.make_payer(org)
    patient = f.make_patient(practice, aetna)  # primary from 2026-01-01, open-ended
    with pytest.raises(ValidationFailed, match="effective_from: overlaps"):
        change_coverage(patient=patient, actor=None, now=utcnow(), data=CoverageInput(
            payer_id=aetna.id, member_id="X", priority="primary", effective_from=date(2025, 6, 1)))  # fmt: skip
    assert db.session.scalar(select(Coverage.effective_to).where(Coverage.patient_id == patient.id)) is None


def test_a_biller_changes_a_childs_coverage_on_the_patient_page(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        aetna, uhc = f.make_payer(org, payer_id="AETNA"), f.make_payer(org, payer_id="UHC")
        patient_id = f.make_patient(practice, aetna, date_of_birth=date(2015, 3, 3)).id
        f.make_user(org, practices=[practice], email="bea@example.test")
        uhc_id = uhc.id
    auth.login("bea@example.test")
    page = client.get(f"/patients/{patient_id}/coverage")
    assert page.status_code == 200
    form = {"payer_id": uhc_id, "member_id": "U1", "priority": "primary", "relationship": "child",
            "effective_from": "2026-11-01", "subscriber_first_name": "Pat", "subscriber_last_name": "Parent",
            "subscriber_date_of_birth": "1980-02-02", "subscriber_sex": "F",
            "csrf_token": csrf_token(page.text)}  # fmt: skip
    missing = client.post(f"/patients/{patient_id}/coverages", data={**form, "subscriber_sex": ""},
                          follow_redirects=True)  # fmt: skip
    assert "subscriber_sex: required when the patient is not the subscriber" in missing.text
    done = client.post(f"/patients/{patient_id}/coverages", data=form, follow_redirects=True)
    assert "Coverage changed" in done.text and "2026-10-31" in done.text
    overlap = client.post(f"/patients/{patient_id}/coverages", data={**form, "effective_from": "2026-10-15"},
                          follow_redirects=True)  # fmt: skip
    assert "effective_from: overlaps the coverage of the same priority from 2026-11-01" in overlap.text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Coverage)) == 2
