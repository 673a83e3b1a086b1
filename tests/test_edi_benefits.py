"""271 benefits: active coverage, cost share, visit limits, authorization and carve-outs for mental health."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.x12 import benefits
from backoffice.x12 import reader as x12
from tests.x12_checks import SAMPLES, shared_sample

ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*SUBMITTER      *261122*1200*^*00501*000000009*0*P*:~"
HEAD = [
    "BHT*0022*11*Q0001*20261122*1200", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345", "HL*2*1*21*1",
    "NM1*1P*2*NORTHSIDE*****XX*1234567893", "HL*3*2*22*0", "TRN*2*ELIG0001*9NORTHSIDE",
    "NM1*IL*1*DOE*JANE****MI*MEMBER123", "DMG*D8*19800101*F", "DTP*346*D8*20260101", "DTP*347*D8*20261231",
]  # fmt: skip
MENTAL_HEALTH = [
    "EB*1*IND*30^MH*PR*GOLD PPO", "EB*B*IND*MH^A6*PR**27*30****Y*Y", "EB*A*IND*MH*PR****.2***Y*Y",
    "EB*C*IND*MH*PR**23*1500****N*Y", "EB*C*IND*MH*PR**29*350.50****N*Y", "EB*G*IND*30*PR**29*2000",
    "EB*F*IND*MH*PR**23***VS*20**Y", "MSG*PRIOR AUTHORIZATION REQUIRED AFTER VISIT 12", "EB*R**30*MC",
    "DTP*292*RD8*20260101-20261231", "EB*CB*IND*30",
]  # fmt: skip
CARVE_OUT = [
    "EB*1*IND*30*PR*GOLD PPO", "EB*U**MH^AI", "MSG*BEHAVIORAL HEALTH IS ADMINISTERED BY OPTUM", "LS*2120",
    "NM1*PR*2*OPTUM BEHAVIORAL HEALTH*****PI*87726", "N3*PO BOX 30757", "N4*SALT LAKE CITY*UT*84130",
    "PER*IC**TE*8005551234*UR*WWW.EXAMPLE.COM", "LE*2120",
]  # fmt: skip


def _doc(body: list[str], element: str = "*", repetition: str = "^", component: str = ":") -> str:
    isa = ISA.replace("*", element).replace(f"{element}^{element}", f"{element}{repetition}{element}")
    isa = isa.replace(":~", f"{component}~")
    assert len(isa) == 106
    lines = ["GS*HB*PAYER*SUBMITTER*20261122*1200*9*X*005010X279A1", "ST*271*0001*005010X279A1", *body]
    lines += [f"SE*{len(body) + 2}*0001", "GE*1*9", "IEA*1*000000009"]
    text = "".join(line.replace("^", repetition).replace(":", component).replace("*", element) + "~" for line in lines)
    return isa + text


def _samples() -> list[Path]:
    folder = SAMPLES / "271"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def test_an_active_mental_health_benefit_with_its_cost_share_limits_and_auth() -> None:
    (record,) = benefits.parse_271(_doc(HEAD + MENTAL_HEALTH, element="|", repetition="!", component=">"))
    assert (record.level, record.trace, record.payer_name, record.payer_id) == (
        "22",
        "ELIG0001",
        "ACME HEALTH",
        "12345",
    )
    assert record.member_id == "MEMBER123" and not record.rejections and not record.rejected
    assert record.active is True and (record.plan_begin, record.plan_end) == (date(2026, 1, 1), date(2026, 12, 31))
    (copay,) = record.copays
    assert (copay.amount, copay.time_period, copay.service_types, copay.in_network) == (
        Decimal("30"),
        "27",
        ("MH", "A6"),
        "Y",
    )
    assert copay.auth_required is True and copay.behavioral_health
    (coinsurance,) = record.coinsurance
    assert coinsurance.percent == Decimal("0.2") and coinsurance.amount is None
    assert (coinsurance.authorization, coinsurance.in_network) == ("Y", "Y")
    calendar, remaining = record.deductibles
    assert (calendar.time_period, calendar.amount, calendar.remaining) == ("23", Decimal("1500"), False)
    assert (remaining.time_period, remaining.amount, remaining.remaining) == ("29", Decimal("350.50"), True)
    assert remaining.auth_required is False
    (oop,) = record.out_of_pocket
    assert (oop.amount, oop.remaining, oop.behavioral_health) == (Decimal("2000"), True, False)
    (visits,) = record.visit_limits
    assert (visits.quantity_qualifier, visits.quantity, visits.time_period, visits.in_network) == (
        "VS",
        Decimal("20"),
        "23",
        "Y",
    )
    assert visits.messages == ("PRIOR AUTHORIZATION REQUIRED AFTER VISIT 12",) and visits.auth_required is True
    assert record.auth_required is True and record.carve_out == ()
    other_payer, coverage_basis = record.benefits[-2:]
    assert (other_payer.code, other_payer.insurance_type, other_payer.dates) == (
        "R", "MC", (("292", date(2026, 1, 1), date(2026, 12, 31)),),
    )  # fmt: skip
    assert coverage_basis.code == "CB" and coverage_basis.elements == ("CB", "IND", "30")


def test_an_eb01_u_names_the_behavioral_health_carve_out_payer() -> None:
    (record,) = benefits.parse_271(_doc(HEAD + CARVE_OUT))
    (payer,) = record.carve_out
    assert (payer.entity_code, payer.name, payer.id_qualifier, payer.identifier) == (
        "PR", "OPTUM BEHAVIORAL HEALTH", "PI", "87726",
    )  # fmt: skip
    assert payer.contacts == ("TE:8005551234", "UR:WWW.EXAMPLE.COM")
    contact = record.benefits[1]
    assert contact.code == "U" and contact.service_types == ("MH", "AI") and contact.behavioral_health
    assert contact.messages == ("BEHAVIORAL HEALTH IS ADMINISTERED BY OPTUM",)
    assert record.benefits[0].entities == ()


def test_an_aaa_rejection_gives_a_clear_message_without_the_member_id() -> None:
    body = HEAD[:8] + ["AAA*N**72*C", "AAA*N**75*C"]
    (record,) = benefits.parse_271(_doc(body))
    assert record.rejected and record.active is None and record.benefits == ()
    assert [r.code for r in record.rejections] == ["72", "75"]
    assert record.rejection_messages == (
        "AAA 72: Invalid/missing subscriber/insured ID (correct and resubmit)",
        "AAA 75: Subscriber/insured not found (correct and resubmit)",
    )
    assert all("MEMBER123" not in m and "DOE" not in m for m in record.rejection_messages)


def test_an_inactive_coverage_is_not_active() -> None:
    (record,) = benefits.parse_271(_doc(HEAD + ["EB*6**30"]))
    assert record.active is False


def test_the_subscriber_sample_reads_plan_copays_and_network() -> None:
    (record,) = benefits.parse_271(shared_sample("271/lfh__subscriber-health-benefit-check.271"))
    assert (record.level, record.trace, record.payer_name, record.payer_id) == (
        "22",
        "93175-012547",
        "ABC COMPANY",
        "841610001",
    )
    assert record.active is True and record.plan_begin == date(2006, 1, 1) and record.plan_end is None
    plan, primary_care, *_ = record.benefits
    assert (plan.code, plan.service_types, plan.plan_description) == ("1", ("30",), "GOLD 123 PLAN")
    assert primary_care.code == "L" and primary_care.entities[0].entity_code == "P3"
    in_network, out_of_network = record.copays
    assert in_network.service_types == ("1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC")
    assert (in_network.amount, in_network.time_period, in_network.in_network) == (Decimal("10.00"), "27", "Y")
    assert (out_of_network.amount, out_of_network.in_network) == (Decimal("30.00"), "N")
    assert in_network.behavioral_health and record.auth_required is None and record.carve_out == ()


def test_the_dependent_sample_answers_at_the_dependent_level() -> None:
    subscriber, dependent = benefits.parse_271(shared_sample("271/lfh__dependent-health-benefit-check.271"))
    assert subscriber.level == "22" and subscriber.benefits == () and subscriber.active is None
    assert (dependent.level, dependent.trace, dependent.active) == ("23", "93175-012547", True)
    assert [c.amount for c in dependent.copays] == [Decimal("10.00"), Decimal("30.00")]


def test_the_error_sample_reports_the_receiver_level_rejection() -> None:
    (record,) = benefits.parse_271(shared_sample("271/lfh__subscriber-health-benefit-check-error.271"))
    assert record.level == "21" and record.rejected
    assert record.rejection_messages == ("AAA 50: Provider ineligible for inquiries (resubmission not allowed)",)


def test_a_4010_style_isa_without_a_repetition_separator_still_splits_nothing() -> None:
    (record,) = benefits.parse_271(shared_sample("271/ims__x271.txt"))
    (plan,) = record.benefits
    assert (plan.code, plan.service_types, plan.plan_description, record.active) == (
        "1",
        ("30",),
        "GOLD 123 PLAN",
        True,
    )
    assert plan.entities[0].identifier == "0202034"


@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_every_271_sample_parses(path: Path) -> None:
    assert benefits.parse_271(path.read_text())


@pytest.mark.parametrize(
    "replace, message",
    [
        (
            ("EB*B*IND*MH^A6*PR**27*30****Y*Y", "EB*B*IND*MH^A6*PR**27*3O****Y*Y"),
            r"segment 16 \(EB\): EB07 is not a number",
        ),
        (("EB*B*IND*MH^A6*PR**27*30****Y*Y", "EB**IND"), r"segment 16 \(EB\): EB01 .*required"),
        (("DTP*346*D8*20260101", "DTP*346*D8*2026-01-01"), r"segment 13 \(DTP\): DTP03 is not a CCYYMMDD date"),
        (("HL*3*2*22*0", "HL*3*2"), r"segment 9 \(HL\): HL03 is required"),
        (("DTP*292*RD8*20260101-20261231", "DTP*292*RD8*20260101-20261331"), r"\(DTP\): DTP03 is not a valid date"),
    ],
)
def test_a_malformed_271_raises_an_error_naming_the_segment_and_no_patient_data(
    replace: tuple[str, str], message: str
) -> None:
    body = [replace[1] if line == replace[0] else line for line in HEAD + MENTAL_HEALTH]
    with pytest.raises(x12.X12Error, match=message) as caught:
        benefits.parse_271(_doc(body))
    for private in ("DOE", "JANE", "MEMBER123", "19800101"):
        assert private not in str(caught.value)


def test_a_file_without_a_271_is_an_error() -> None:
    with pytest.raises(x12.X12Error, match="no 271 transaction set"):
        benefits.parse_271(_doc(HEAD).replace("ST*271*", "ST*270*"))
