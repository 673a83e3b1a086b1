"""Appeals against the database: the appeal step records the appeal from the best template (idempotent per claim
and level), letter edits are logged by hash, the PDF, sending and outcomes, the next level and template saving."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from backoffice.appeals import services
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.appeals.pdf import appeal_pdf
from backoffice.appeals.rules import PARITY_ARGUMENT
from backoffice.audit.models import AuditEvent
from backoffice.automation.runner import run_automated_item
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.remits.services import post_835
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wed 10:00 New York
DOS = date(2026, 11, 2)
D = Decimal


def era(account: str, charge: str, cas: str, *, trace: str = "EFT1") -> str:
    body = [f"CLP*{account}*4*{charge}*0*0*12*PCN-{account}*11*1", "NM1*QC*1****MI*M1",
            f"SVC*HC:90837*{charge}*0**1", "DTM*472*20261102", cas]  # fmt: skip
    segments = ["ST*835*0001", "BPR*I*0*C*NON*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261116",
                f"TRN*1*{trace}*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
                *body]  # fmt: skip
    segments.append(f"SE*{len('~'.join(segments).split('~')) + 1}*0001")  # ``cas`` may be several segments
    isa = "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261116*0900*^*00501*000000101*0*P*:~"
    gs = "GS*HP*PAYER01*SUBMITTER01*20261116*0900*101*X*005010X221A1~"
    return f"{isa}{gs}{'~'.join(segments)}~GE*1*101~IEA*1*000000101~"


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
    provider = f.make_provider(practice, first_name="Rae", last_name="Clinician")
    patient = f.make_patient(practice, payer, first_name="Ana", last_name="Example", date_of_birth=date(1990, 1, 2))
    session = f.make_session(practice, provider, patient, date_of_service=DOS, diagnoses=["F33.1"])
    biller = f.make_user(org, practices=[practice])
    admin = f.make_user(org, role="admin")
    return {"org": org, "practice": practice, "payer": payer, "patient": patient, "session": session,
            "biller": biller, "admin": admin}  # fmt: skip


def denied(world, account: str = "ACC2", cas: str = "CAS*CO*50*200") -> tuple[Claim, WorkItem]:  # noqa: ANN001
    """A claim denied by an 835 and the appeal item the posting created, drafted by the appeal step."""
    w = world
    coverage_id = db.session.scalar(select(Coverage.id).where(Coverage.patient_id == w["patient"].id))
    claim = Claim(practice_id=w["practice"].id, session_id=w["session"].id, patient_id=w["patient"].id,
                  payer_id=w["payer"].id, coverage_id=coverage_id, account_number=account,
                  status=ClaimStatus.ACCEPTED, total_charge=D("200.00"), created_at=NOW,
                  lines=[ClaimLine(line_number=1, date_of_service=DOS, cpt="90837", modifiers=[], units=1,
                                   place_of_service="11", diagnosis_pointers=[1], charge=D("200.00"))])  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    post_835(organization_id=w["org"].id, now=NOW, text=era(account, "200", cas, trace=f"EFT-{account}"))
    item = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == claim.id))
    if item.kind == "appeal":
        run_automated_item(item.id, now=NOW)
        db.session.refresh(item)
    return claim, item


def appeal_of(claim: Claim, level: int = 1) -> Appeal:
    return db.session.scalar(select(Appeal).where(Appeal.claim_id == claim.id, Appeal.level == level))


def test_the_appeal_step_records_a_draft_appeal_with_amount_deadline_and_built_in_letter(world) -> None:  # noqa: ANN001
    claim, item = denied(world)
    appeal = appeal_of(claim)
    assert (item.state, item.mode) == (ItemState.READY, Mode.MANUAL)  # handed to a biller to review and send
    assert (appeal.status, appeal.level, appeal.denial_family, appeal.amount) == ("draft", 1, "medical_necessity",
                                                                                 D("200.00"))  # fmt: skip
    assert appeal.work_item_id == item.id and appeal.template_id is None and appeal.practice_id == claim.practice_id
    # Commercial level 1 = provider reconsideration: the payer's 180-day window from the 835's date (11/16/2026).
    assert appeal.deadline == date(2027, 5, 15)
    for expected in ("Ana Example", "01/02/1990", "PCN-ACC2", "CO-50", "not deemed a medical necessity",
                     "Rae Clinician", PARITY_ARGUMENT, "05/15/2027"):  # fmt: skip
        assert expected in appeal.letter, expected
    log = db.session.scalar(select(Interaction).where(Interaction.kind == InteractionKind.DOCUMENT))
    assert log.work_item_id == item.id and log.data["sha256"] == services.digest(appeal.letter)
    assert "Ana" not in log.body and appeal.letter not in str(log.data)  # the hash, never the letter


def test_drafting_again_for_the_same_claim_and_level_returns_the_same_appeal(world) -> None:  # noqa: ANN001
    claim, item = denied(world)
    again = services.draft_appeal(claim=claim, now=NOW, today=NOW.date(), item=item)
    assert again.id == appeal_of(claim).id
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


def test_the_step_uses_the_most_specific_active_template(world) -> None:  # noqa: ANN001
    w = world
    body = "Any payer: {{ claim.number }} {% for d in denials %}{{ d.code }} {{ d.meaning }}{% endfor %}"
    services.save_template(actor=w["admin"], now=NOW, name="Any", denial_family="medical_necessity", payer_id=None,
                           level=1, body=body)  # fmt: skip
    specific = services.save_template(actor=w["admin"], now=NOW, name="This payer", payer_id=w["payer"].id,
                                      denial_family="medical_necessity", level=1,
                                      body="For {{ payer.name }}: " + body)  # fmt: skip
    services.save_template(actor=w["admin"], now=NOW, name="Off", denial_family="medical_necessity", level=1,
                           payer_id=w["payer"].id, body="Inactive {{ claim.number }}", active=False)  # fmt: skip
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    assert appeal.template_id == specific.id
    assert appeal.letter == "For Example Health Plan: Any payer: PCN-ACC2 CO-50 not deemed a medical necessity"


def test_saving_a_template_with_a_typo_or_an_escape_is_refused_and_nothing_is_written(world) -> None:  # noqa: ANN001
    w = world
    with pytest.raises(ValidationFailed, match="pateint"):
        services.save_template(actor=w["admin"], now=NOW, name="Bad", denial_family="coding", payer_id=None, level=1,
                               body="{{ pateint.name }}")  # fmt: skip
    with pytest.raises(ValidationFailed, match="unsafe"):
        services.save_template(actor=w["admin"], now=NOW, name="Bad", denial_family="coding", payer_id=None, level=1,
                               body="{{ ''.__class__.__mro__ }}")  # fmt: skip
    with pytest.raises(ValidationFailed, match="level: 1, 2 or 3"):
        services.save_template(actor=w["admin"], now=NOW, name="Bad", denial_family="coding", payer_id=None, level=4,
                               body="ok")  # fmt: skip
    with pytest.raises(NotAllowed):
        services.save_template(actor=w["biller"], now=NOW, name="Mine", denial_family="coding", payer_id=None,
                               level=1, body="ok")  # fmt: skip
    other_payer = f.make_payer(f.make_org())
    with pytest.raises(ValidationFailed, match="payer: not one of your organization's payers"):
        services.save_template(actor=w["admin"], now=NOW, name="X", denial_family="coding", payer_id=other_payer.id,
                               level=1, body="ok")  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(AppealTemplate)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_a_template_save_is_audited(world) -> None:  # noqa: ANN001
    template = services.save_template(actor=world["admin"], now=NOW, name="T", denial_family="coding", payer_id=None,
                                      level=1, body="{{ claim.number }}")  # fmt: skip
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.target_id, event.user_id) == ("admin:appeal_template_saved", str(template.id),
                                                              world["admin"].id)  # fmt: skip


def test_editing_the_letter_logs_a_document_with_the_hash_and_unchanged_text_logs_nothing(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    before = db.session.scalar(select(func.count()).select_from(Interaction))
    assert services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter=appeal.letter) is False
    assert db.session.scalar(select(func.count()).select_from(Interaction)) == before
    edited = appeal.letter + "\nThe patient's PHQ-9 fell from 19 to 11 over 12 weeks."
    assert services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter=edited) is True
    db.session.refresh(appeal)
    assert appeal.letter.endswith("12 weeks.")
    log = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.DOCUMENT)
                             .order_by(Interaction.id.desc())).first()  # fmt: skip
    assert log.data["sha256"] == services.digest(edited) and "PHQ-9" not in log.body + str(log.data)
    assert log.actor_user_id == world["biller"].id
    with pytest.raises(ValidationFailed, match="letter: required"):
        services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter="  \n ")


def test_the_pdf_parses_and_holds_the_claim_number_the_carc_meaning_and_the_edit(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter=appeal.letter + "\nEDIT-MARKER-42")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(appeal_pdf(appeal))).pages)
    for expected in ("PCN-ACC2", "not deemed a medical necessity", "EDIT-MARKER-42", "Calm Mind", "TIN"):
        assert expected in text, expected


def test_sending_moves_the_claim_to_appealed_and_a_late_send_needs_a_logged_reason(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    appeal.deadline = date(2026, 11, 16)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="late reason"):
        services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 17), method="fax")
    with pytest.raises(ValidationFailed, match="sent date: cannot be in the future"):
        services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 19), method="fax",
                           late_reason="x")  # fmt: skip
    db.session.refresh(appeal)
    assert appeal.status == "draft"
    services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 17), method="fax",
                       reference="FAX-77", late_reason="payer fax line busy on the 16th; log enclosed")  # fmt: skip
    db.session.refresh(appeal)
    db.session.refresh(claim)
    assert (appeal.status, appeal.sent_on, appeal.sent_method, appeal.reference_number) == (
        "sent",
        date(2026, 11, 17),
        "fax",
        "FAX-77",
    )
    assert claim.status == ClaimStatus.APPEALED
    sent = (Interaction.claim_id == claim.id, Interaction.to_state == "appealed")
    log = db.session.scalars(select(Interaction).where(*sent)
                             .order_by(Interaction.id.desc())).first()  # fmt: skip
    assert (
        log.data["late"] is True
        and "payer fax line busy" in log.body
        and (log.from_state, log.to_state) == ("denied", "appealed")
    )
    with pytest.raises(InvalidTransition):
        services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter="changed after sending")


def test_outcomes_are_validated_and_an_upheld_level_1_offers_level_2_with_its_own_deadline(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    with pytest.raises(InvalidTransition):  # not sent yet
        services.record_outcome(appeal=appeal, actor=world["biller"], now=NOW, outcome="upheld",
                                decided_on=date(2026, 11, 17), recovered=None)  # fmt: skip
    services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 16), method="portal")
    with pytest.raises(ValidationFailed, match="recovered: a partial win"):
        services.record_outcome(appeal=appeal, actor=world["biller"], now=NOW, outcome="partial",
                                decided_on=date(2026, 11, 17), recovered=D("200.00"))  # fmt: skip
    db.session.refresh(appeal)
    assert appeal.status == "sent" and appeal.outcome is None
    services.record_outcome(appeal=appeal, actor=world["biller"], now=NOW, outcome="upheld",
                            decided_on=date(2026, 11, 17), recovered=None)  # fmt: skip
    db.session.refresh(appeal)
    assert (appeal.status, appeal.outcome, appeal.recovered_amount) == ("decided", "upheld", D("0.00"))
    assert services.next_level_offered(appeal)
    second = services.open_next_level(appeal=appeal, actor=world["biller"], now=NOW)
    assert (second.level, second.status, second.denial_family, second.amount) == (2, "draft", "medical_necessity",
                                                                                 D("200.00"))  # fmt: skip
    # Level 2 (internal appeal): the payer's 180 days from the level-1 decision, not from the 835.
    assert second.deadline == date(2026, 11, 17) + timedelta(days=180)
    assert "Internal Appeal" in second.letter
    assert services.open_next_level(appeal=appeal, actor=world["biller"], now=NOW).id == second.id  # idempotent


def test_an_overturn_without_an_amount_recovers_the_amount_in_dispute(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 16), method="mail")
    services.record_outcome(appeal=appeal, actor=world["biller"], now=NOW, outcome="overturned",
                            decided_on=date(2026, 11, 18), recovered=None)  # fmt: skip
    db.session.refresh(appeal)
    assert appeal.recovered_amount == D("200.00") and not services.next_level_offered(appeal)


def test_regenerating_replaces_the_draft_from_the_chosen_template(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    template = services.save_template(actor=world["admin"], now=NOW, name="Short", denial_family="medical_necessity",
                                      payer_id=None, level=1, body="Short: {{ claim.number }}")  # fmt: skip
    services.regenerate_letter(appeal=appeal, actor=world["biller"], now=NOW, today=NOW.date(), template=template)
    db.session.refresh(appeal)
    assert (appeal.letter, appeal.template_id) == ("Short: PCN-ACC2", template.id)


def test_another_organization_cannot_touch_the_appeal(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    outsider = f.make_user(f.make_org(), role="admin")
    with pytest.raises(NotAllowed):
        services.edit_letter(appeal=appeal_of(claim), actor=outsider, now=NOW, letter="x")


def test_an_edit_started_from_an_older_version_is_refused_not_silently_overwritten(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    opened = services.digest(appeal.letter)
    services.edit_letter(appeal=appeal, actor=world["biller"], now=NOW, letter="First biller's version",
                         base_sha256=opened)  # fmt: skip
    with pytest.raises(Conflict, match="changed by someone else"):
        services.edit_letter(appeal=appeal, actor=world["admin"], now=NOW, letter="Second version", base_sha256=opened)
    db.session.refresh(appeal)
    assert appeal.letter == "First biller's version"


def test_a_draft_can_be_withdrawn_with_a_reason_and_then_not_sent(world) -> None:  # noqa: ANN001
    claim, _ = denied(world)
    appeal = appeal_of(claim)
    with pytest.raises(ValidationFailed, match="reason: required"):
        services.withdraw_appeal(appeal=appeal, actor=world["biller"], now=NOW, reason=" ")
    services.withdraw_appeal(appeal=appeal, actor=world["biller"], now=NOW, reason="payer reprocessed on a call")
    db.session.refresh(appeal)
    assert appeal.status == "withdrawn"
    with pytest.raises(InvalidTransition):
        services.mark_sent(appeal=appeal, actor=world["biller"], now=NOW, sent_on=date(2026, 11, 17), method="fax")


@pytest.fixture
def medicare_world(world):  # noqa: ANN001, ANN201
    """The same practice and patient, covered by Medicare (window fixed by regulation, no parity, ALJ floor)."""
    world["payer"].payer_id = "OTHER"  # the 835's payer identifier now names Medicare
    db.session.commit()
    medicare = f.make_payer(world["org"], payer_id="1512345678", name="Medicare Part B", kind="medicare",
                            appeal_window_days=120)  # fmt: skip
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == world["patient"].id))
    coverage.payer_id = medicare.id
    db.session.commit()
    return {**world, "payer": medicare}


def test_a_medicare_timely_filing_denial_has_no_appeal_rights(medicare_world) -> None:  # noqa: ANN001
    claim, item = denied(medicare_world, account="MCR29", cas="CAS*CO*29*200")
    assert item.kind == "work_denial"
    with pytest.raises(ValidationFailed, match="no appeal rights.*42 CFR 424.44"):
        services.draft_appeal(claim=claim, now=NOW, today=NOW.date(), item=item, actor=medicare_world["biller"])
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 0


def test_a_medicare_alj_hearing_needs_the_years_amount_in_controversy(medicare_world) -> None:  # noqa: ANN001
    w = medicare_world
    claim, _ = denied(w, account="MCR50", cas="CAS*CO*45*50~CAS*CO*50*150")  # $150 in dispute: under $200
    first = appeal_of(claim)
    assert "Redetermination" in first.letter and PARITY_ARGUMENT not in first.letter
    assert first.deadline == date(2026, 11, 16) + timedelta(days=125)  # 120 days from presumed receipt (+5)
    for appeal, decided in ((first, date(2026, 11, 17)), (None, date(2026, 11, 18))):
        appeal = appeal or appeal_of(claim, 2)
        services.mark_sent(appeal=appeal, actor=w["biller"], now=NOW, sent_on=date(2026, 11, 17), method="mail")
        services.record_outcome(appeal=appeal, actor=w["biller"], now=NOW, outcome="upheld", decided_on=decided,
                                recovered=None)  # fmt: skip
        if appeal.level == 1:
            second = services.open_next_level(appeal=appeal, actor=w["biller"], now=NOW)
            assert second.deadline == date(2026, 11, 17) + timedelta(days=185)  # QIC: 180 days from receipt
    with pytest.raises(ValidationFailed, match=r"ALJ hearing needs at least \$200.00 in dispute in 2026"):
        services.open_next_level(appeal=appeal_of(claim, 2), actor=w["biller"], now=NOW)
    assert appeal_of(claim, 3) is None
