"""A 271 that comes back later through the inbox is matched to the verify-benefits item that asked, by the trace
number of its 270 (TRN02 ``<item id>-<attempt>``): a clean answer closes the item, a doubtful one is written on its
timeline with the reason for the person who holds it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from backoffice.automation import runner
from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.sandbox import benefits_answer
from backoffice.eligibility.rules import item_id_from_trace, needs_person
from backoffice.exchange.ingest import ingest_file
from backoffice.extensions import db
from backoffice.patients.models import BenefitsCheck, Coverage
from backoffice.work import chains
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.factories import NOW
from tests.factories_submission import edi_setup


def _asked(tmp_path: Path):  # noqa: ANN202
    org, practice, provider, payer = edi_setup(clearinghouse="file_drop", edi_outbox=str(tmp_path / "out"))
    patient = f.make_patient(practice, payer)
    session = f.make_session(practice, provider=provider, patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW, automated=["verify_benefits"])
    assert runner.run_automated_item(item.id, now=NOW)["status"] == "handed_over"  # the 270 went out
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    question = sx.EligibilityQuestion(
        trace_number=f"{item.id}-1", member_id=coverage.member_id, first_name=patient.first_name,
        last_name=patient.last_name, date_of_birth=patient.date_of_birth, sex=str(patient.sex), payer_id=payer.payer_id,
        payer_name=payer.name, provider_npi=provider.npi, provider_name=provider.last_name,
        service_date=session.date_of_service,
    )  # fmt: skip
    return org, practice, item, question


def test_the_trace_number_names_the_item() -> None:
    assert item_id_from_trace("1234-2") == 1234 and item_id_from_trace("ABC-1") is None


def test_the_same_rule_decides_for_an_answer_now_and_one_that_comes_later() -> None:
    assert needs_person(active=True, carve_out="", visits_remaining=5) is None
    assert "inactive" in needs_person(active=False, carve_out="", visits_remaining=5)
    assert "carved out to MBH01" in needs_person(active=True, carve_out="MBH01", visits_remaining=5)
    assert "visit limit" in needs_person(active=True, carve_out="", visits_remaining=0)


def test_a_late_clean_271_closes_the_item_that_asked(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, item, question = _asked(tmp_path)
    answer = replace(benefits_answer(practice, question), carve_out_payer_name="", carve_out_payer_id="")
    text = sx.respond_271([(question, answer)], now=NOW, control_number=50)
    posted = ingest_file(organization_id=org.id, practice_id=practice.id, filename="a.271", content=text, now=NOW)
    assert posted.status == "processed"
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    assert item.state == ItemState.DONE
    check = db.session.scalar(select(BenefitsCheck))
    assert check.work_item_id == item.id and item.result["benefits_check_id"] == check.id


def test_a_late_inactive_271_goes_to_the_person_with_the_reason(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, item, question = _asked(tmp_path)
    inactive = sx.BenefitsAnswer(False, False, None, None, None, None, None, False)
    text = sx.respond_271([(question, inactive)], now=NOW, control_number=51)
    ingest_file(organization_id=org.id, practice_id=practice.id, filename="b.271", content=text, now=NOW)
    item = db.session.get(WorkItem, item.id, populate_existing=True)
    assert item.state == ItemState.READY  # still with a person
    bodies = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == item.id)).all()
    assert any("The 271 came back and needs a person: the payer reports the coverage inactive" in b for b in bodies)
