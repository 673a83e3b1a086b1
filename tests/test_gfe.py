"""Good Faith Estimates (billing-rules §10.1, 45 CFR 149.610): who gets one, its prices and due date, the
issue item, superseding, issuing, and every required element in the PDF."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.audit.models import AuditEvent
from backoffice.balances import estimates, pdf, services
from backoffice.balances.models import GoodFaithEstimate
from backoffice.deadlines.gfe import gfe_due_date
from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.extensions import db
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests import test_balances
from tests.conftest import csrf_token
from tests.factories import NOW
from tests.test_balances import TODAY, World, pdf_text, sign_in

world = test_balances.world  # the same fixture: a practice with tiers, patients, a biller, a supervisor

D = Decimal
THERAPY = [estimates.ExpectedService("90791", 1), estimates.ExpectedService("90834", 40)]


def draft(w: World, **kw) -> GoodFaithEstimate:  # noqa: ANN003
    values = {
        "patient": w.patient,
        "provider": w.provider,
        "services": THERAPY,
        "diagnosis_codes": ["F41.1", " f33.1 "],
        "covers_from": date(2026, 12, 7),
        "covers_to": date(2027, 12, 6),
        "scheduled_on": TODAY,
        "first_service_on": date(2026, 12, 7),
        "actor": w.biller,
        "now": NOW,
    } | kw
    return estimates.create_gfe(**values)


def test_a_gfe_prices_expected_services_from_the_fee_schedule(world: World) -> None:
    gfe = draft(world)
    assert [(line["cpt"], line["sessions"], line["unit_fee"], line["total"]) for line in gfe.lines] == [
        ("90791", 1, "250.00", "250.00"),
        ("90834", 40, "160.00", "6400.00"),
    ]
    assert gfe.total == D("6650.00") and gfe.state == "draft" and gfe.issued_on is None
    assert gfe.diagnosis_codes == ["F41.1", "F33.1"]


def test_a_sliding_scale_patient_is_estimated_at_the_tier_price(world: World) -> None:
    services.determine_sliding_scale(
        patient=world.patient, household_size=2, annual_income="30000", evidence="W-2", actor=world.biller, now=NOW
    )  # 138% of 21,640 → tier B: 50% off
    gfe = draft(world)
    assert [line["unit_fee"] for line in gfe.lines] == ["125.00", "80.00"] and gfe.total == D("3325.00")


@pytest.mark.parametrize(
    ("scheduled", "service", "requested", "due"),
    [
        (TODAY, date(2026, 12, 7), None, date(2026, 11, 23)),  # 10+ business days ahead: 3 business days
        (TODAY, date(2026, 11, 24), None, date(2026, 11, 19)),  # 4 business days ahead: 1 business day
        (TODAY, date(2026, 11, 20), None, date(2026, 11, 20)),  # 2 business days: none owed; by the session
        (None, None, date(2026, 11, 25), date(2026, 12, 1)),  # a request: 3 business days, Thanksgiving skipped
    ],
)
def test_the_due_date_follows_the_no_surprises_act_rule(
    world: World, scheduled: date | None, service: date | None, requested: date | None, due: date
) -> None:
    gfe = draft(world, scheduled_on=scheduled, first_service_on=service, requested_on=requested)
    assert gfe.due_on == due
    if scheduled and gfe_due_date(scheduled_on=scheduled, service_date=service) is not None:
        assert gfe.due_on == gfe_due_date(scheduled_on=scheduled, service_date=service)
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "issue_gfe"))
    assert item.patient_id == world.patient.id and item.dedupe_key == f"gfe:{gfe.id}:issue"
    assert item.due_at == datetime.combine(due, datetime.min.time(), tzinfo=UTC) + timedelta(hours=22)  # 17:00 EST
    assert item.queue == "patient-balances" and item.state == ItemState.READY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"patient": "insured"}, "has insurance in force"),
        ({"covers_to": date(2027, 12, 7)}, "at most 12 months"),
        ({"services": [estimates.ExpectedService("90837", 4)], "fees": {"90834": "1"}}, "90837 has no fee"),
        ({"diagnosis_codes": ["F41.1", "not-a-code"]}, "NOT-A-CODE is not an ICD-10-CM code"),
        ({"diagnosis_codes": []}, "diagnosis_codes: at least one"),
        ({"services": [estimates.ExpectedService("90834", 0)]}, "service 1 sessions"),
        ({"scheduled_on": None}, "scheduled_on: give the day"),
        ({"first_service_on": None}, "first_service_on: required"),
    ],
)
def test_a_bad_estimate_is_refused_by_field_and_writes_nothing(world: World, changes: dict, message: str) -> None:
    if changes.pop("patient", None):
        changes["patient"] = world.insured
    if fees := changes.pop("fees", None):
        world.practice.fee_schedule = fees
        db.session.commit()
    with pytest.raises(ValidationFailed, match=message):
        draft(world, **changes)
    assert db.session.scalar(select(func.count()).select_from(GoodFaithEstimate)) == 0
    assert db.session.scalar(select(func.count()).select_from(WorkItem)) == 0


def test_an_insured_patient_who_chooses_not_to_bill_insurance_gets_one(world: World) -> None:
    assert draft(world, patient=world.insured, declines_insurance=True).state == "draft"


def test_a_new_estimate_supersedes_the_old_and_closes_its_item(world: World) -> None:
    first = draft(world)
    second = draft(world, services=[estimates.ExpectedService("90837", 20)])
    db.session.refresh(first)
    assert first.state == "superseded" and second.state == "draft"
    items = {i.dedupe_key: i for i in db.session.scalars(select(WorkItem))}
    assert items[f"gfe:{first.id}:issue"].state == ItemState.DONE
    assert items[f"gfe:{first.id}:issue"].result["outcome"] == "not_needed"
    assert items[f"gfe:{second.id}:issue"].state == ItemState.READY


def test_issuing_stamps_the_day_and_completes_the_item(world: World) -> None:
    gfe = draft(world)
    estimates.issue_gfe(gfe=gfe, actor=world.biller, now=NOW)
    assert gfe.state == "issued" and gfe.issued_on == TODAY
    item = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"gfe:{gfe.id}:issue"))
    assert item.state == ItemState.DONE and item.result["outcome"] == "resolved"
    with pytest.raises(InvalidTransition):
        estimates.issue_gfe(gfe=gfe, actor=world.biller, now=NOW)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "pdf")).all()
    assert [(e.target_type, e.target_id, e.patient_id) for e in events] == [("gfe", str(gfe.id), world.patient.id)]


def test_the_pdf_has_every_required_element_and_the_disclaimers(world: World) -> None:
    gfe = draft(world)
    estimates.issue_gfe(gfe=gfe, actor=world.biller, now=NOW)
    text = " ".join(pdf_text(pdf.gfe_pdf(gfe)).split())
    provider, practice = world.provider, world.practice
    required = [
        "Good Faith Estimate",
        "Date of estimate 11/18/2026",  # the date of the GFE
        "Robin Selfpay",  # patient name
        "01/01/1980",  # date of birth
        "scheduled for 12/07/2026",  # primary service and its date
        "F41.1, F33.1",  # diagnosis codes
        "90791",
        "90834",  # expected service codes
        "$250.00",
        "$160.00",
        "$6,400.00",
        "$6,650.00",  # itemized expected charges and the total
        provider.last_name,
        provider.npi,
        practice.group_npi,
        practice.tax_id,  # provider name, NPI, TIN
        "1 Main St",
        "State where services are furnished IL",  # location and state
        "scheduled separately",  # services needing separate scheduling
        "not included in this estimate",  # disclaimer (a)
        "only an estimate",  # disclaimer (b)
        "$400",
        "120 days",
        "patient-provider dispute resolution",
        "will not affect the quality of the care",  # disclaimer (c)
    ]
    missing = [phrase for phrase in required if phrase not in text]
    assert missing == []


def test_a_draft_pdf_says_it_is_not_issued(world: World) -> None:
    assert "draft, not yet issued" in pdf_text(pdf.gfe_pdf(draft(world)))


def test_drafting_issuing_and_printing_through_the_page(world: World, client, auth) -> None:  # noqa: ANN001
    sign_in(auth, "biller@example.test")
    page = client.get(f"/patients/{world.patient.id}").get_data(as_text=True)
    assert "90834 Psychotherapy, about 45 minutes" in page
    data = {
        "csrf_token": csrf_token(page),
        "gfe-provider_id": str(world.provider.id),
        "gfe-services-0-cpt": "90834",
        "gfe-services-0-sessions": "30",
        "gfe-services-1-cpt": "",
        "gfe-services-1-sessions": "",
        "gfe-diagnosis_codes": "F41.1",
        "gfe-scheduled_on": "2026-11-18",
        "gfe-first_service_on": "2026-12-07",
        "gfe-covers_from": "2026-12-07",
        "gfe-covers_to": "2027-06-30",
    }
    bad = client.post(f"/patients/{world.patient.id}/gfes", data=data | {"gfe-services-1-cpt": "90791"},
                      follow_redirects=True)  # fmt: skip
    assert "service 2: choose a CPT and a number of sessions" in bad.get_data(as_text=True)
    assert client.post(f"/patients/{world.patient.id}/gfes", data=data).status_code == 303
    db.session.remove()
    gfe = db.session.scalar(select(GoodFaithEstimate))
    assert gfe.total == D("4800.00") and gfe.due_on == date(2026, 11, 23)
    assert client.post(f"/gfes/{gfe.id}/issue", data={"csrf_token": csrf_token(page)}).status_code == 303
    response = client.get(f"/gfes/{gfe.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "$4,800.00" in pdf_text(response.data)
    db.session.remove()
    assert db.session.get(GoodFaithEstimate, gfe.id).issued_on is not None
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "gfe")).all()
    assert {e.action for e in reads} == {"pdf", "gfe_created"}


def test_another_practices_estimate_is_a_404(world: World, client, auth) -> None:  # noqa: ANN001
    gfe = draft(world)
    sign_in(auth, "outsider@example.test")
    assert client.get(f"/gfes/{gfe.id}.pdf").status_code == 404
    page = client.get("/patients").get_data(as_text=True)
    assert client.post(f"/gfes/{gfe.id}/issue", data={"csrf_token": csrf_token(page)}).status_code == 404
    db.session.remove()
    assert db.session.get(GoodFaithEstimate, gfe.id).state == "draft"


def test_the_issue_item_page_shows_the_estimate_and_issues_it(world: World, client, auth) -> None:  # noqa: ANN001
    gfe_id = draft(world).id
    item_id = db.session.scalar(select(WorkItem.id).where(WorkItem.kind == "issue_gfe"))
    sign_in(auth, "biller@example.test")
    html = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert f"#{gfe_id} · $6,650.00 · due 11/23/2026 · Draft" in html and "Issue the estimate" in html
    assert client.post(f"/gfes/{gfe_id}/issue", data={"csrf_token": csrf_token(html)}).status_code == 303
    db.session.remove()
    assert db.session.get(WorkItem, item_id).state == ItemState.DONE
    assert "Issue the estimate" not in client.get(f"/items/{item_id}").get_data(as_text=True)
