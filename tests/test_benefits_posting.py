"""Recording 271 answers as benefits checks: the mental-health reading of the EBs (pure, many cases) and one
dated check per subscriber/dependent matched to its coverage, all or nothing, errors naming the trace."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.eligibility.rules import BenefitsFacts, benefits_from_271
from backoffice.eligibility.services import record_271
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.patients.models import BenefitsCheck, Coverage
from backoffice.work.chains import open_item
from backoffice.work.models import Interaction
from backoffice.x12.benefits import parse_271
from tests import factories as f
from tests.factories import NOW
from tests.factories_edi_posting import interchange
from tests.x12_checks import shared_sample

HEAD = ["BHT*0022*11*Q0001*20261122*1200", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME", "HL*2*1*21*1",
        "NM1*1P*2*NORTHSIDE*****XX*1234567893"]  # fmt: skip


def _subscriber(member: str = "MEMBER123", trace: str = "ELIG0001", hl: int = 3, children: int = 0) -> list[str]:
    return [f"HL*{hl}*2*22*{children}", f"TRN*2*{trace}*9NORTHSIDE", f"NM1*IL*1*DOE*JANE****MI*{member}",
            "DMG*D8*19800101*F", "DTP*346*D8*20260101"]  # fmt: skip


def eb(code: str, types: str = "", level: str = "", **fields: str) -> str:
    """An EB segment by element name: period (06), amount (07), percent (08), qualifier (09), quantity (10),
    auth (11), network (12)."""
    names = ["insurance", "plan", "period", "amount", "percent", "qualifier", "quantity", "auth", "network"]
    elements = [code, level, types, *(fields.get(n, "") for n in names)]
    return "*".join(["EB", *elements]).rstrip("*")


def x271(*body: str, head: list[str] | None = None) -> str:
    segments = [*(HEAD if head is None else head), *body]
    return interchange("GS*HB*PAYER*SUBMITTER*20261122*1200*9*X*005010X279A1", "271", segments, "005010X279A1")


def facts(*ebs: str) -> BenefitsFacts:
    (record,) = parse_271(x271(*_subscriber(), *ebs))
    return benefits_from_271(record)


# ---- the pure reading -------------------------------------------------------------------------------------------


def test_a_full_mental_health_answer() -> None:
    got = facts(
        "EB*1*IND*30^MH*PR*GOLD PPO", "EB*B*IND*MH^A6*PR**27*30****Y*Y", "EB*A*IND*MH*PR****.2***N*Y",
        "EB*C*IND*MH*PR**23*1500****N*Y", "EB*C*IND*MH*PR**29*350.50****N*Y", "EB*G*IND*30*PR**29*2000",
        "EB*F*IND*MH*PR**23***VS*20**Y", "MSG*PRIOR AUTHORIZATION REQUIRED AFTER VISIT 12",
    )  # fmt: skip
    assert got == BenefitsFacts(
        active=True, in_network=True, copay=Decimal("30.00"), coinsurance_percent=Decimal("20.00"),
        deductible_remaining=Decimal("350.50"), out_of_pocket_remaining=Decimal("2000.00"), visits_allowed=20,
        visits_remaining=None, auth_required=True, messages=("PRIOR AUTHORIZATION REQUIRED AFTER VISIT 12",),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("ebs", "active"),
    [(["EB*1**30"], True), (["EB*2**30"], True), (["EB*5**30"], True), (["EB*6**30"], False), (["EB*8**30"], False),
     (["EB*1**30", "EB*6**MH"], False),  # the plan is active but mental health is not
     (["EB*6**30", "EB*1**A6"], True), (["EB*B**MH***20"], None), (["EB*1**88"], None)],
)  # fmt: skip
def test_active_follows_the_most_specific_mental_health_answer(ebs: list[str], active: bool | None) -> None:
    assert facts(*ebs).active is active


def test_the_mental_health_copay_wins_over_the_plan_and_other_services() -> None:
    got = facts("EB*B**30***27*25", "EB*B**88***27*10", "EB*B**MH***27*40", "EB*B**A6***27*35")
    assert got.copay == Decimal("40.00")


def test_psychiatric_types_come_before_the_plan_level() -> None:
    assert facts("EB*B**30***27*25", "EB*B**A8***27*45").copay == Decimal("45.00")
    assert facts("EB*B**30***27*25").copay == Decimal("25.00")


def test_a_copay_for_an_unrelated_service_is_never_the_therapy_copay() -> None:
    assert facts("EB*1**30", "EB*B**88***27*10", "EB*B**AL***27*15").copay is None


def test_in_network_cost_share_is_preferred_and_network_comes_from_eb12() -> None:
    got = facts(
        eb("B", "MH", period="27", amount="80", network="N"), eb("B", "MH", period="27", amount="30", network="Y")
    )
    assert (got.copay, got.in_network) == (Decimal("30.00"), None)
    assert "confirm the clinician's network status" in got.messages[0]
    only_out = facts(
        eb("B", "MH", period="27", amount="80", network="N"), eb("B", "30", period="27", amount="30", network="Y")
    )
    assert (only_out.in_network, only_out.copay) == (False, Decimal("80.00"))
    assert facts(eb("1", "MH", network="Y")).in_network is True


@pytest.mark.parametrize(("percent", "expected"), [(".2", "20.00"), ("0.35", "35.00"), ("1", "100.00"),
                                                   ("20", "20.00"), ("0", "0.00")])  # fmt: skip
def test_coinsurance_is_stored_as_a_percent(percent: str, expected: str) -> None:
    assert facts(eb("A", "MH", percent=percent)).coinsurance_percent == Decimal(expected)


def test_a_deductible_without_a_remaining_amount_is_noted_not_stored() -> None:
    got = facts("EB*C*IND*MH*PR**23*1500")
    assert got.deductible_remaining is None
    assert got.messages == ("deductible 1500.00 (calendar year); remaining not stated",)


def test_the_individual_remaining_deductible_wins_over_the_family_one() -> None:
    got = facts("EB*C*FAM*30***29*900", "EB*C*IND*30***29*250")
    assert got.deductible_remaining == Decimal("250.00")


def test_out_of_pocket_remaining() -> None:
    assert facts("EB*G*IND*30***29*1234.5").out_of_pocket_remaining == Decimal("1234.50")
    assert facts("EB*G*IND*30***23*6000").messages == (
        "out-of-pocket maximum 6000.00 (calendar year); remaining not stated",
    )


@pytest.mark.parametrize(
    ("ebs", "allowed", "remaining"),
    [(["EB*F**MH***23***VS*20"], 20, None), (["EB*F**MH***29***VS*8"], None, 8),
     (["EB*F**MH***23***VS*20", "EB*F**MH***29***VS*8"], 20, 8),
     (["EB*F**MH***22***VS*30", "EB*F**MH***24***VS*12"], 30, 18),  # allowed minus used year to date
     (["EB*F**MH***23***VS*10", "EB*F**MH***24***VS*14"], 10, 0),
     (["EB*F**MH***23***DY*20"], None, None)],  # days are not visits
)  # fmt: skip
def test_visit_limits(ebs: list[str], allowed: int | None, remaining: int | None) -> None:
    got = facts(*ebs)
    assert (got.visits_allowed, got.visits_remaining) == (allowed, remaining)


@pytest.mark.parametrize(
    ("ebs", "auth"),
    [([eb("1", "MH", auth="Y")], True), ([eb("1", "MH", auth="N")], False), (["EB*1**MH"], None),
     ([eb("1", "30", auth="N"), eb("B", "MH", amount="20", auth="Y")], True),
     ([eb("1", "30", auth="Y"), eb("1", "MH", auth="N")], False),
     (["EB*1**MH", "MSG*PRECERTIFICATION REQUIRED FOR 90837"], True)],
)  # fmt: skip
def test_auth_required_follows_eb11_for_mental_health(ebs: list[str], auth: bool | None) -> None:
    assert facts(*ebs).auth_required is auth


def test_a_carve_out_names_the_behavioral_health_payer() -> None:
    got = facts("EB*1*IND*30*PR*GOLD PPO", "EB*U**MH^AI", "MSG*BEHAVIORAL HEALTH IS ADMINISTERED BY OPTUM", "LS*2120",
                "NM1*PR*2*OPTUM BEHAVIORAL HEALTH*****PI*87726", "N3*PO BOX 30757", "PER*IC**TE*8005551234",
                "LE*2120")  # fmt: skip
    assert (got.carve_out_payer_name, got.carve_out_payer_id) == ("OPTUM BEHAVIORAL HEALTH", "87726")
    assert got.messages == ("BEHAVIORAL HEALTH IS ADMINISTERED BY OPTUM",)


def test_a_pharmacy_carve_out_is_not_a_behavioral_health_carve_out() -> None:
    got = facts("EB*1**30", "EB*U**88", "LS*2120", "NM1*PR*2*EXPRESS SCRIPTS*****PI*PBM01", "LE*2120")
    assert (got.carve_out_payer_name, got.carve_out_payer_id) == (None, None)


def test_a_carve_out_without_an_entity_is_noted() -> None:
    got = facts("EB*U**MH")
    assert got.carve_out_payer_name is None and "does not name the entity" in got.messages[0]


def test_a_rejected_answer_carries_the_aaa_reason_and_no_benefits() -> None:
    got = facts("AAA*N**72*C")
    assert got == BenefitsFacts(messages=("AAA 72: Invalid/missing subscriber/insured ID (correct and resubmit)",))


# ---- recording ----------------------------------------------------------------------------------------------------


@pytest.fixture
def org(ctx):  # noqa: ANN001, ANN201
    organization = f.make_org()
    practice = f.make_practice(organization)
    payer = f.make_payer(organization, payer_id="ACME")
    patient = f.make_patient(practice, payer)
    coverage = patient.coverages[0]
    return organization, practice, payer, patient, coverage


def test_a_271_is_recorded_as_a_dated_check_on_the_matched_coverage(org) -> None:  # noqa: ANN001
    organization, practice, payer, patient, coverage = org
    text = x271(
        *_subscriber(coverage.member_id), "EB*1*IND*30", eb("B", "MH", "IND", period="27", amount="30", network="Y")
    )
    (check,) = record_271(organization_id=organization.id, text=text, now=NOW)
    assert (check.practice_id, check.patient_id, check.coverage_id, check.payer_id, check.source) == (
        practice.id, patient.id, coverage.id, payer.id, "271"
    )  # fmt: skip
    assert (check.checked_at, check.active, check.in_network, check.copay) == (NOW, True, True, Decimal("30.00"))


def test_the_check_is_logged_on_the_verify_benefits_item(org) -> None:  # noqa: ANN001
    organization, practice, _, patient, coverage = org
    session = f.make_session(practice, patient=patient)
    item = open_item(practice_id=practice.id, kind="verify_benefits", now=NOW, reason="before intake",
                     session_id=session.id)  # fmt: skip
    text = x271(*_subscriber(coverage.member_id), "EB*1*IND*30", eb("A", "MH", "IND", percent=".2"))
    (check,) = record_271(organization_id=organization.id, text=text, now=NOW, work_item_id=item.id)
    assert check.work_item_id == item.id and check.coinsurance_percent == Decimal("20.00")
    log = db.session.scalars(select(Interaction).where(Interaction.work_item_id == item.id).order_by(Interaction.id))
    body = list(log)[-1].body
    assert body == "Benefits (271, trace ELIG0001): active; network not stated; coinsurance 20.00%"
    assert coverage.member_id not in body


def test_a_dependent_is_matched_through_the_subscribers_member_id(org) -> None:  # noqa: ANN001
    organization, practice, payer, patient, coverage = org
    child = f.make_patient(practice)
    db.session.add(Coverage(patient_id=child.id, payer_id=payer.id, member_id=coverage.member_id, priority="primary",
                            relationship_to_subscriber="19", effective_from=coverage.effective_from))  # fmt: skip
    db.session.commit()
    text = x271(*_subscriber(coverage.member_id, children=1), "EB*1**30", "HL*4*3*23*0", "TRN*2*ELIG0002",
                "NM1*03*1*DOE*JIMMY", "EB*6**30")  # fmt: skip
    subscriber, dependent = record_271(organization_id=organization.id, text=text, now=NOW)
    assert (subscriber.patient_id, subscriber.active) == (patient.id, True)
    assert (dependent.patient_id, dependent.active) == (child.id, False)


def test_an_unmatched_member_refuses_the_whole_271_naming_the_trace_not_the_member(org) -> None:  # noqa: ANN001
    organization, *_, coverage = org
    text = x271(*_subscriber(coverage.member_id), "EB*1**30", *_subscriber("NOBODY42", trace="ELIG0099", hl=4),
                "EB*1**30")  # fmt: skip
    with pytest.raises(ValidationFailed, match="271 answer with trace ELIG0099: no coverage") as error:
        record_271(organization_id=organization.id, text=text, now=NOW)
    assert "NOBODY42" not in str(error.value)
    assert db.session.scalar(select(func.count(BenefitsCheck.id))) == 0


def test_the_payer_must_match_too(org) -> None:  # noqa: ANN001
    organization, *_, coverage = org
    head = [HEAD[0], HEAD[1], "NM1*PR*2*OTHER PLAN*****PI*OTHER", *HEAD[3:]]
    with pytest.raises(ValidationFailed, match="trace ELIG0001"):
        record_271(organization_id=organization.id, text=x271(*_subscriber(coverage.member_id), "EB*1**30", head=head),
                   now=NOW)  # fmt: skip


def test_another_organizations_member_is_never_matched(org) -> None:  # noqa: ANN001
    other = f.make_org()
    stranger = f.make_patient(f.make_practice(other), f.make_payer(other, payer_id="ACME")).coverages[0]
    with pytest.raises(ValidationFailed, match="trace ELIG0001"):
        record_271(organization_id=org[0].id, text=x271(*_subscriber(stranger.member_id), "EB*1**30"), now=NOW)


def test_a_rejected_answer_is_recorded_with_its_reason(org) -> None:  # noqa: ANN001
    organization, *_, coverage = org
    (check,) = record_271(organization_id=organization.id, text=x271(*_subscriber(coverage.member_id), "AAA*N**75*C"),
                          now=NOW)  # fmt: skip
    assert check.active is None and check.messages == ["AAA 75: Subscriber/insured not found (correct and resubmit)"]


def test_a_271_that_answers_about_no_one_is_refused_with_the_payers_reason(org) -> None:  # noqa: ANN001
    head = [*HEAD[:3], "AAA*N**42*R"]
    with pytest.raises(ValidationFailed, match="no subscriber or dependent answer .AAA 42: Unable to respond"):
        record_271(organization_id=org[0].id, text=x271(head=head), now=NOW)


def test_the_same_271_twice_adds_a_second_dated_check(org) -> None:  # noqa: ANN001
    organization, *_, coverage = org
    text = x271(*_subscriber(coverage.member_id), "EB*1**30")
    record_271(organization_id=organization.id, text=text, now=NOW)
    record_271(organization_id=organization.id, text=text, now=NOW + timedelta(days=1))
    checked = db.session.scalars(select(BenefitsCheck.checked_at).order_by(BenefitsCheck.id))
    assert list(checked) == [NOW, NOW + timedelta(days=1)]


def test_a_malformed_271_is_refused_naming_the_segment(org) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match=r"271: segment \d+ \(EB\): EB01"):
        record_271(organization_id=org[0].id, text=x271(*_subscriber(), "EB**IND*30"), now=NOW)


def test_a_dependent_answer_never_lands_on_the_subscribers_own_coverage(org) -> None:  # noqa: ANN001
    organization, *_, coverage = org
    text = x271(*_subscriber(coverage.member_id, children=1), "HL*4*3*23*0", "TRN*2*ELIG0002", "NM1*03*1*DOE*JIMMY",
                "EB*1**30")  # fmt: skip
    with pytest.raises(ValidationFailed, match="271 answer with trace ELIG0002: no coverage"):
        record_271(organization_id=organization.id, text=text, now=NOW)


@pytest.mark.parametrize("name", ["ims__x271.txt", "lfh__subscriber-health-benefit-check.271", "lfh__demo.271"])
def test_the_shared_subscriber_samples_record_one_check(ctx, name: str) -> None:  # noqa: ANN001
    text = shared_sample(f"271/{name}")
    organization = f.make_org()
    payer_id = parse_271(text)[0].payer_id
    patient = f.make_patient(f.make_practice(organization), f.make_payer(organization, payer_id=payer_id))
    patient.coverages[0].member_id = "123456789"
    db.session.commit()
    (check,) = record_271(organization_id=organization.id, text=text, now=NOW)
    assert check.coverage_id == patient.coverages[0].id and check.active is True


def test_the_shared_dependent_sample_records_the_dependent_only(ctx) -> None:  # noqa: ANN001
    text = shared_sample("271/lfh__dependent-health-benefit-check.271")
    organization = f.make_org()
    practice = f.make_practice(organization)
    payer = f.make_payer(organization, payer_id=parse_271(text)[0].payer_id)
    child = f.make_patient(practice)
    db.session.add(Coverage(patient_id=child.id, payer_id=payer.id, member_id="123456789", priority="primary",
                            relationship_to_subscriber="19", effective_from=date(2000, 1, 1)))  # fmt: skip
    db.session.commit()
    (check,) = record_271(organization_id=organization.id, text=text, now=NOW)
    assert check.patient_id == child.id


def test_the_shared_error_sample_is_refused_with_the_payers_reason(ctx) -> None:  # noqa: ANN001
    text = shared_sample("271/lfh__subscriber-health-benefit-check-error.271")
    with pytest.raises(ValidationFailed, match="AAA 50: Provider ineligible for inquiries"):
        record_271(organization_id=f.make_org().id, text=text, now=NOW)
