"""Item-form services: manual benefits checks, prior authorizations, claim-line corrections and rejection fixes.
Each refuses bad input whole (the error names the field), logs on the item, and completes it when asked."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.itemforms import services
from backoffice.itemforms.rules import BenefitsEntry
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage
from backoffice.work import chains
from backoffice.work import services as work
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import ItemState, Mode
from tests import factories as f
from tests.factories import NOW
from tests.test_itemforms_world import DOS, REJECTION_999, make_claim, make_world, open_exception

FULL = BenefitsEntry(
    active=True, in_network=True, copay=Decimal("30.00"), coinsurance_percent=Decimal("20"),
    deductible_remaining=Decimal("250.00"), out_of_pocket_remaining=Decimal("1800.00"), visits_allowed=20,
    visits_remaining=12, auth_required=False, carve_out_payer_name="Optum Behavioral Health",
    carve_out_payer_id="87726", reference_number="REF-77",
)  # fmt: skip


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _log(item: WorkItem) -> list[str]:
    rows = db.session.scalars(
        select(Interaction.body).where(Interaction.work_item_id == item.id).order_by(Interaction.id)
    )
    return [body or "" for body in rows]


# ---- benefits ----------------------------------------------------------------------------------------------------


def test_a_manual_benefits_result_is_recorded_for_the_sessions_coverage_and_logged(ctx) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    check = services.record_benefits(item=item, actor=w.biller, now=NOW, entry=FULL)
    assert (check.source, check.coverage_id, check.payer_id, check.patient_id) == (
        "manual", w.coverage.id, w.payer.id, w.patient.id,
    )  # fmt: skip
    assert (check.copay, check.coinsurance_percent, check.deductible_remaining, check.out_of_pocket_remaining) == (
        Decimal("30.00"), Decimal("20.00"), Decimal("250.00"), Decimal("1800.00"),
    )  # fmt: skip
    assert (check.visits_allowed, check.visits_remaining, check.auth_required, check.in_network) == (
        20,
        12,
        False,
        True,
    )
    assert (check.carve_out_payer_name, check.carve_out_payer_id) == ("Optum Behavioral Health", "87726")
    assert check.messages == ["reference # REF-77"] and check.work_item_id == item.id
    assert check.actor_user_id == w.biller.id
    db.session.refresh(item)
    assert item.state == ItemState.READY  # saved, not completed
    assert any("copay 30.00" in body and "ref REF-77" in body for body in _log(item))


def test_saving_and_completing_benefits_releases_charge_entry(ctx) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    services.record_benefits(item=item, actor=w.biller, now=NOW, entry=FULL, complete=True)
    db.session.refresh(item)
    charge = db.session.get(WorkItem, w.chain["enter_charge"].id)
    assert item.state == ItemState.DONE and item.assignee_id == w.biller.id
    assert item.result["benefits_check_id"] == db.session.scalar(select(BenefitsCheck.id))
    assert charge.state == ItemState.READY


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"coinsurance_percent": Decimal("120")}, "coinsurance %: between 0 and 100"),
        ({"coinsurance_percent": Decimal("-1")}, "coinsurance %: between 0 and 100"),
        ({"copay": Decimal("-5.00")}, "copay: an amount from 0.00"),
        ({"deductible_remaining": Decimal("-0.01")}, "deductible remaining: an amount"),
        ({"out_of_pocket_remaining": Decimal("10.005")}, "out-of-pocket remaining: at most two decimals"),
        ({"visits_allowed": 10, "visits_remaining": 11}, "visits remaining: cannot be more than the visits allowed"),
        ({"visits_remaining": -1}, "visits remaining: between 0 and 1000"),
        ({"active": None}, "active: say whether"),
        ({"carve_out_payer_name": "", "carve_out_payer_id": "87726"}, "carve-out payer name: required"),
    ],
)
def test_a_bad_benefits_entry_is_refused_naming_the_field_and_writes_nothing(ctx, changes, field) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    entry = replace(FULL, **changes)
    before = len(_log(item))
    with pytest.raises(ValidationFailed, match=re.escape(field)):
        services.record_benefits(item=item, actor=w.biller, now=NOW, entry=entry, complete=True)
    assert _count(BenefitsCheck) == 0 and len(_log(item)) == before
    assert db.session.get(WorkItem, item.id).state == ItemState.READY


def test_inactive_coverage_can_be_recorded_but_does_not_complete_the_item(ctx) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    inactive = BenefitsEntry(active=False)
    with pytest.raises(ValidationFailed, match="complete: the coverage is recorded inactive"):
        services.record_benefits(item=item, actor=w.biller, now=NOW, entry=inactive, complete=True)
    assert _count(BenefitsCheck) == 0
    services.record_benefits(item=item, actor=w.biller, now=NOW, entry=inactive)
    assert db.session.scalar(select(BenefitsCheck.active)) is False


def test_auth_required_without_an_authorization_adds_preauth_ahead_of_charge_entry(ctx) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    entry = BenefitsEntry(active=True, auth_required=True)
    services.record_benefits(item=item, actor=w.biller, now=NOW, entry=entry, complete=True)
    preauth = db.session.scalar(select(WorkItem).where(WorkItem.kind == "obtain_preauth"))
    assert preauth is not None and preauth.state == ItemState.READY and preauth.mode == Mode.MANUAL
    assert preauth.session_id == w.session.id and preauth.dedupe_key == f"session:{w.session.id}:obtain_preauth"
    assert preauth.queue == "authorization"
    charge = db.session.get(WorkItem, w.chain["enter_charge"].id)
    assert charge.state == ItemState.BLOCKED  # waits for the authorization, as a planned chain would
    assert db.session.get(WorkItemDependency, (charge.id, preauth.id)) is not None
    assert any(f"added obtain-preauth item #{preauth.id}" in body and "90834" in body for body in _log(item))
    # Once the authorization is in, charge entry goes on.
    services.record_authorization(item=preauth, actor=w.biller, now=NOW, number="A-1", cpt_text="90834",
                                  authorized=10, start=date(2026, 1, 1), end=date(2026, 12, 31))  # fmt: skip
    assert db.session.get(WorkItem, charge.id).state == ItemState.READY


def test_auth_required_with_an_authorization_covering_the_session_adds_nothing(ctx) -> None:  # noqa: ANN001
    w = make_world()
    db.session.add(
        Authorization(
            patient_id=w.patient.id,
            payer_id=w.payer.id,
            number="A-9",
            cpt_codes=["90834"],
            authorized=10,
            used=3,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 6, 30),
        )
    )
    db.session.commit()
    services.record_benefits(item=w.chain["verify_benefits"], actor=w.biller, now=NOW,
                             entry=BenefitsEntry(active=True, auth_required=True))  # fmt: skip
    assert db.session.scalar(select(WorkItem).where(WorkItem.kind == "obtain_preauth")) is None


@pytest.mark.parametrize(
    ("auth", "why"),
    [
        ({"cpt_codes": ["90837"]}, "another CPT"),
        ({"used": 10}, "no units left"),
        ({"end_date": DOS - timedelta(days=1)}, "ended before the DOS"),
    ],
)
def test_an_authorization_that_does_not_cover_the_session_still_needs_preauth(ctx, auth, why) -> None:  # noqa: ANN001
    w = make_world()
    values = {"cpt_codes": ["90834"], "authorized": 10, "used": 0, "start_date": date(2026, 1, 1),
              "end_date": date(2026, 12, 31), **auth}  # fmt: skip
    db.session.add(Authorization(patient_id=w.patient.id, payer_id=w.payer.id, number="A-9", **values))
    db.session.commit()
    services.record_benefits(item=w.chain["verify_benefits"], actor=w.biller, now=NOW,
                             entry=BenefitsEntry(active=True, auth_required=True))  # fmt: skip
    assert db.session.scalar(select(WorkItem).where(WorkItem.kind == "obtain_preauth")) is not None, why


def test_a_practice_that_obtains_its_own_authorizations_gets_told_not_an_item(ctx) -> None:  # noqa: ANN001
    w = make_world(owned=["verify_benefits", "enter_charge", "audit", "submit", "follow_up"])
    item = w.chain["verify_benefits"]
    services.record_benefits(item=item, actor=w.biller, now=NOW, entry=BenefitsEntry(active=True, auth_required=True))
    assert db.session.scalar(select(WorkItem).where(WorkItem.kind == "obtain_preauth")) is None
    assert any("the practice obtains authorizations itself" in body for body in _log(item))


def test_a_chain_that_already_has_its_preauth_step_gets_no_second_one(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["verify_benefits", "obtain_preauth", "enter_charge"])
    services.record_benefits(item=w.chain["verify_benefits"], actor=w.biller, now=NOW,
                             entry=BenefitsEntry(active=True, auth_required=True))  # fmt: skip
    assert db.session.scalar(select(func.count()).where(WorkItem.kind == "obtain_preauth")) == 1


def test_a_biller_cannot_enter_benefits_on_another_billers_item(ctx) -> None:  # noqa: ANN001
    w = make_world()
    item = w.chain["verify_benefits"]
    work.start_item(item=item, actor=w.other_biller, now=NOW)
    with pytest.raises(NotAllowed, match="belongs to another biller"):
        services.record_benefits(item=item, actor=w.biller, now=NOW, entry=FULL)
    assert _count(BenefitsCheck) == 0
    services.record_benefits(item=item, actor=w.supervisor, now=NOW, entry=FULL)  # a supervisor may
    assert _count(BenefitsCheck) == 1


def test_benefits_cannot_be_entered_on_an_item_of_another_kind_or_a_finished_one(ctx) -> None:  # noqa: ANN001
    w = make_world()
    with pytest.raises(InvalidTransition, match="this form is not for it"):
        services.record_benefits(item=w.chain["enter_charge"], actor=w.biller, now=NOW, entry=FULL)
    item = w.chain["verify_benefits"]
    work.complete_item(item=item, actor=w.biller, now=NOW)
    with pytest.raises(InvalidTransition, match="only open items"):
        services.record_benefits(item=item, actor=w.biller, now=NOW, entry=FULL)


# ---- authorizations ----------------------------------------------------------------------------------------------


def test_a_prior_authorization_is_recorded_and_completes_the_item(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["obtain_preauth", "enter_charge"])
    item = w.chain["obtain_preauth"]
    auth = services.record_authorization(item=item, actor=w.biller, now=NOW, number=" PA-123 ",
                                         cpt_text="90834, 90837", authorized=12, counts_visits=True,
                                         start=date(2026, 3, 1), end=date(2026, 8, 31))  # fmt: skip
    assert (auth.patient_id, auth.payer_id, auth.number, auth.cpt_codes) == (
        w.patient.id, w.payer.id, "PA-123", ["90834", "90837"],
    )  # fmt: skip
    assert (auth.authorized, auth.used, auth.remaining, auth.counts_visits) == (12, 0, 12, True)
    db.session.refresh(item)
    assert item.state == ItemState.DONE and item.result["authorization_id"] == auth.id
    assert any("Authorization PA-123 entered: 90834, 90837; 12 visits" in body for body in _log(item))
    assert db.session.get(WorkItem, w.chain["enter_charge"].id).state == ItemState.READY


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"end": date(2026, 2, 28)}, "end date: must be on or after the start date"),
        ({"cpt_text": "90834 99999"}, "CPT codes: 99999 is not in the catalogue"),
        ({"cpt_text": " "}, "CPT codes: at least one"),
        ({"authorized": 0}, "units or visits authorized: between 1 and 1000"),
        ({"number": ""}, "authorization number: required"),
    ],
)
def test_a_bad_authorization_is_refused_naming_the_field(ctx, values, field) -> None:  # noqa: ANN001
    w = make_world(chain=["obtain_preauth"])
    item = w.chain["obtain_preauth"]
    args = {"number": "PA-1", "cpt_text": "90834", "authorized": 10, "start": date(2026, 3, 1),
            "end": date(2026, 8, 31), **values}  # fmt: skip
    with pytest.raises(ValidationFailed, match=field):
        services.record_authorization(item=item, actor=w.biller, now=NOW, **args)
    assert _count(Authorization) == 0 and db.session.get(WorkItem, item.id).state == ItemState.READY


def test_the_same_authorization_number_for_the_payer_is_refused(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["obtain_preauth"])
    db.session.add(
        Authorization(
            patient_id=w.patient.id,
            payer_id=w.payer.id,
            number="PA-1",
            cpt_codes=["90834"],
            authorized=5,
            start_date=date(2026, 1, 1),
            end_date=date(2026, 2, 28),
        )
    )
    db.session.commit()
    with pytest.raises(ValidationFailed, match="authorization number: PA-1 is already on file"):
        services.record_authorization(
            item=w.chain["obtain_preauth"],
            actor=w.biller,
            now=NOW,
            number="PA-1",
            cpt_text="90834",
            authorized=5,
            start=date(2026, 3, 1),
            end=date(2026, 4, 1),
        )
    assert _count(Authorization) == 1


def test_a_reauthorization_is_for_the_expiring_authorizations_patient_and_payer(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["enter_charge"])
    old = Authorization(
        patient_id=w.patient.id,
        payer_id=w.payer.id,
        number="PA-1",
        cpt_codes=["90834"],
        authorized=10,
        used=9,
        start_date=date(2026, 1, 1),
        end_date=date(2026, 3, 31),
    )
    db.session.add(old)
    db.session.commit()
    item = chains.open_item(practice_id=w.practice.id, kind="reauthorize", now=NOW, authorization_id=old.id,
                          reason="1 visit left")  # fmt: skip
    new = services.record_authorization(item=item, actor=w.biller, now=NOW, number="PA-2", cpt_text="90834",
                                        authorized=10, start=date(2026, 4, 1), end=date(2026, 9, 30))  # fmt: skip
    assert (new.patient_id, new.payer_id) == (old.patient_id, old.payer_id)
    assert db.session.get(WorkItem, item.id).state == ItemState.DONE


# ---- claim lines -------------------------------------------------------------------------------------------------


def _line(cpt: str = "90834", **kw: str) -> dict[str, str]:
    return {"cpt": cpt, "modifiers": "", "units": "1", "pos": "11", "pointers": "1", **kw}


def test_charge_entry_without_a_claim_creates_it_from_the_reviewed_lines(ctx) -> None:  # noqa: ANN001
    w = make_world()
    work.complete_item(item=w.chain["verify_benefits"], actor=w.biller, now=NOW)
    item = db.session.get(WorkItem, w.chain["enter_charge"].id)
    blank = dict.fromkeys(_line(), "  ")  # an empty row of the form is not a line
    claim = services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line(), blank], version=None,
                                      finish=True)  # fmt: skip
    assert (claim.status, claim.version, claim.frequency_code, claim.total_charge) == (
        ClaimStatus.SCRUBBED, 1, "1", Decimal("150.00"),
    )  # fmt: skip
    assert [(x.cpt, x.units, x.place_of_service, x.diagnosis_pointers) for x in claim.lines] == [
        ("90834", 1, "11", [1])
    ]
    assert claim.payer_id == w.payer.id and claim.coverage_id == w.coverage.id
    assert db.session.get(WorkItem, item.id).state == ItemState.DONE
    assert db.session.get(WorkItem, w.chain["audit"].id).state == ItemState.READY


def test_saving_edited_lines_bumps_the_version_and_rescrubs_with_the_real_scrubber(ctx) -> None:  # noqa: ANN001
    w = make_world(prior_auth_cpts=["90837"], chain=["audit"])
    claim = make_claim(w)
    item = w.chain["audit"]
    saved = services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90837")], version=1)
    assert saved.id == claim.id and saved.version == 2 and saved.status == ClaimStatus.DRAFT
    assert [x.cpt for x in saved.lines] == ["90837"] and saved.total_charge == Decimal("200.00")
    rules = {f["rule"]: f["severity"] for f in saved.findings}
    assert rules["AUTH-REQUIRED"] == "error"  # the payer wants auth for 90837: the scrubber's own edit
    assert rules["EDIT-NOT-CODED"] == "warning" and rules["EDIT-CODE-DROPPED"] == "warning"
    assert db.session.get(WorkItem, item.id).state == ItemState.READY
    back = services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90834")], version=2)
    assert back.version == 3 and back.status == ClaimStatus.SCRUBBED and back.findings == []


def test_scrubber_errors_block_passing_an_audit_and_nothing_is_saved(ctx) -> None:  # noqa: ANN001
    w = make_world(prior_auth_cpts=["90837"], chain=["audit"])
    claim = make_claim(w)
    item = w.chain["audit"]
    with pytest.raises(ValidationFailed, match=r"complete: scrubber errors block it \(AUTH-REQUIRED\)"):
        services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90837")], version=1, finish=True)
    db.session.refresh(claim)
    assert claim.version == 1 and [x.cpt for x in claim.lines] == ["90834"]
    assert db.session.get(WorkItem, item.id).state == ItemState.READY
    services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line()], version=1, finish=True)
    assert db.session.get(WorkItem, item.id).state == ItemState.DONE


def test_a_stale_claim_version_is_refused(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["audit"])
    make_claim(w, version=3)
    with pytest.raises(Conflict, match="changed since you opened it"):
        services.save_claim_lines(item=w.chain["audit"], actor=w.biller, now=NOW, lines=[_line()], version=2)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_line("99999"), "line 1, CPT: 99999 is not in the catalogue"),
        (_line(units="0"), "line 1, units: a whole number from 1 to 99"),
        (_line(pos="1"), "line 1, POS: a two-digit place-of-service code"),
        (_line(modifiers="95 GT9"), "line 1, modifiers: GT9 is not a two-character modifier"),
        (_line(modifiers="95 59 XE 25 GT"), "line 1, modifiers: at most 4"),
        (_line(pointers="2"), "line 1, diagnosis pointers: 2 beyond the 1 diagnosis code"),
        (_line(pointers=""), "line 1, diagnosis pointers: at least one"),
    ],
)
def test_a_bad_line_is_refused_naming_line_and_field(ctx, line, message) -> None:  # noqa: ANN001
    w = make_world(chain=["audit"])
    claim = make_claim(w)
    with pytest.raises(ValidationFailed, match=message):
        services.save_claim_lines(item=w.chain["audit"], actor=w.biller, now=NOW, lines=[line], version=1)
    db.session.refresh(claim)
    assert claim.version == 1


def test_a_submitted_claims_lines_cannot_be_edited(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["audit"])
    make_claim(w, status="submitted")
    with pytest.raises(InvalidTransition, match="can no longer be edited"):
        services.save_claim_lines(item=w.chain["audit"], actor=w.biller, now=NOW, lines=[_line()], version=1)


def test_a_corrected_rejection_is_reopened_as_an_original_and_resubmitted_once_clean(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["verify_benefits"])
    claim = make_claim(w, status="rejected", cpt="90837")
    claim.status_category, claim.submitted_at = "A7", NOW
    db.session.commit()
    item = open_exception(w, "fix_rejection", claim, REJECTION_999)
    fixed = services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line(modifiers="")], version=1,
                                      finish=True)  # fmt: skip
    assert (fixed.status, fixed.version, fixed.frequency_code) == (ClaimStatus.SCRUBBED, 2, "1")
    assert fixed.status_category is None and fixed.submitted_at is None
    assert [x.cpt for x in fixed.lines] == ["90834"]
    assert db.session.get(WorkItem, item.id).state == ItemState.DONE
    submit = db.session.scalar(select(WorkItem).where(WorkItem.kind == "submit", WorkItem.claim_id == claim.id))
    assert submit is not None and submit.mode == Mode.AUTOMATED and submit.state == ItemState.READY
    assert submit.dedupe_key == f"claim:{claim.id}:v2:resubmit"


def test_a_rejection_fix_with_errors_is_not_resubmitted(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["verify_benefits"], prior_auth_cpts=["90837"])
    claim = make_claim(w, status="rejected", cpt="90837")
    item = open_exception(w, "fix_rejection", claim, REJECTION_999)
    with pytest.raises(ValidationFailed, match="AUTH-REQUIRED"):
        services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90837")], version=1, finish=True)
    assert db.session.get(Claim, claim.id).status == ClaimStatus.REJECTED
    assert db.session.scalar(select(WorkItem).where(WorkItem.kind == "submit")) is None
    saved = services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90837")], version=1)
    assert saved.status == ClaimStatus.DRAFT and saved.version == 2  # kept to work on; not sent


def test_a_self_pay_session_never_gets_a_preauth_step(ctx) -> None:  # noqa: ANN001
    w = make_world()
    w.payer.kind = "self_pay"
    db.session.commit()
    services.record_benefits(item=w.chain["verify_benefits"], actor=w.biller, now=NOW,
                             entry=BenefitsEntry(active=True, auth_required=True))  # fmt: skip
    assert db.session.scalar(select(WorkItem).where(WorkItem.kind == "obtain_preauth")) is None


def test_of_two_people_saving_the_same_version_only_the_first_wins(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["audit"])
    claim = make_claim(w)
    assert claim.version == 1  # this biller's copy
    with db.engine.begin() as other:  # someone else saves version 2 meanwhile
        other.execute(update(Claim).where(Claim.id == claim.id).values(version=2))
    with pytest.raises(Conflict, match="was changed by someone else"):
        services.save_claim_lines(item=w.chain["audit"], actor=w.biller, now=NOW, lines=[_line("90837")], version=1)
    fresh = db.session.get(Claim, claim.id, populate_existing=True)
    assert fresh.version == 2 and [x.cpt for x in fresh.lines] == ["90834"]


def test_benefits_and_authorizations_are_only_for_the_sessions_patients_coverages(ctx) -> None:  # noqa: ANN001
    w = make_world(chain=["verify_benefits"])
    preauth = chains.open_item(practice_id=w.practice.id, kind="obtain_preauth", now=NOW, session_id=w.session.id,
                             reason="auth needed")  # fmt: skip
    other = f.make_patient(w.practice, w.payer)  # another patient of the same practice and payer
    stranger = db.session.scalar(select(Coverage).where(Coverage.patient_id == other.id))
    with pytest.raises(ValidationFailed, match="coverage: choose one of the patient's coverages"):
        services.record_benefits(item=w.chain["verify_benefits"], actor=w.biller, now=NOW, entry=FULL,
                                 coverage_id=stranger.id)  # fmt: skip
    with pytest.raises(ValidationFailed, match="coverage: choose one of the patient's coverages"):
        services.record_authorization(item=preauth, actor=w.biller, now=NOW, number="PA-1", cpt_text="90834",
                                      authorized=5, start=DOS, end=DOS, coverage_id=stranger.id)  # fmt: skip
    assert _count(BenefitsCheck) == 0 and _count(Authorization) == 0


def test_the_generic_complete_cannot_pass_an_audit_whose_claim_has_scrubber_errors(ctx) -> None:  # noqa: ANN001
    w = make_world(prior_auth_cpts=["90837"], chain=["audit"])
    make_claim(w)
    item = w.chain["audit"]
    services.save_claim_lines(item=item, actor=w.biller, now=NOW, lines=[_line("90837")], version=1)  # errors stored
    with pytest.raises(ValidationFailed, match=r"scrubber errors \(AUTH-REQUIRED\)"):
        work.complete_item(item=item, actor=w.biller, now=NOW)
    assert db.session.get(WorkItem, item.id).state == ItemState.READY
    work.complete_item(item=item, actor=w.biller, now=NOW, outcome="handed_off", note="sent back to the practice")
    assert db.session.get(WorkItem, item.id).state == ItemState.DONE
