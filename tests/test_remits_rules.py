"""Posting rules (pure): CAS dispositions, §6.6 denial routing with RARC refinements, priority, statuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from backoffice.remits import carc, rules
from backoffice.remits.rules import Disposition, Family, route_denial
from backoffice.work.rules import ESCALATION_PRIORITY_BUMP

D = Decimal


@pytest.mark.parametrize(
    ("group", "code", "amount", "expected"),
    [
        ("CO", "45", "32.50", Disposition.CONTRACTUAL),
        ("CO", "253", "2.00", Disposition.CONTRACTUAL),
        ("PR", "1", "30", Disposition.PATIENT),
        ("PR", "2", "5", Disposition.PATIENT),
        ("PR", "3", "20", Disposition.PATIENT),
        ("PR", "204", "150", Disposition.PATIENT),
        ("PR", "45", "10", Disposition.PATIENT),  # non-par: the patient owes the difference
        ("OA", "23", "40", Disposition.INFORMATIONAL),
        ("OA", "94", "1", Disposition.INFORMATIONAL),
        ("OA", "18", "150", Disposition.DENIAL),  # duplicate: coding queue checks the original
        ("CO", "50", "200", Disposition.DENIAL),
        ("PI", "45", "10", Disposition.DENIAL),  # payer-initiated: disputable, not an expected contractual
        ("CO", "16", "30", Disposition.DENIAL),
        ("CO", "45", "0", Disposition.INFORMATIONAL),
        ("co", " 45 ", "1", Disposition.CONTRACTUAL),
        ("CO", "45", "-32.50", Disposition.CONTRACTUAL),  # a reversal's negative contractual
    ],
)
def test_each_cas_triple_has_one_disposition(group: str, code: str, amount: str, expected: Disposition) -> None:
    assert rules.disposition(group, code, D(amount)) is expected


@pytest.mark.parametrize(
    ("code", "queue"),
    [
        *[(c, "eligibility") for c in ("22", "27", "31", "109", "140")],
        *[(c, "authorization") for c in ("197", "198", "243", "284", "296", "39", "15", "62")],
        *[(c, "coding") for c in ("4", "5", "11", "16", "18", "97", "146", "167", "181", "182", "234", "236", "107")],
        *[(c, "credentialing") for c in ("170", "171", "185", "B7", "206", "207", "208")],
        *[(c, "appeals") for c in ("50", "151", "242", "272", "273")],
        ("119", "patient-balances"),  # benefit maximum: bill the secondary or the patient, not an appeal
        ("252", "records"),
        ("29", "timely-filing"),
        ("96", "denials"),
        ("A1", "denials"),
        ("999", "denials"),
    ],
)
def test_every_carc_family_routes_to_its_queue(code: str, queue: str) -> None:
    assert route_denial("CO", code).queue == queue


@pytest.mark.parametrize(
    ("family", "days"),
    [("22", 2), ("197", 2), ("4", 2), ("185", 5), ("50", 5), ("252", 3), ("29", 2)],
)
def test_family_slas_are_those_of_section_6_6(family: str, days: int) -> None:
    assert route_denial("CO", family).sla_business_days == days


def test_medical_necessity_is_an_appeal_and_everything_else_a_denial_to_work() -> None:
    assert route_denial("CO", "50").kind == "appeal"
    assert route_denial("CO", "151").kind == "appeal"
    assert {route_denial("CO", c).kind for c in ("197", "4", "22", "185", "252", "29", "96")} == {"work_denial"}


@pytest.mark.parametrize(
    ("rarcs", "queue"),
    [
        (["M62"], "authorization"),
        (["N290"], "coding"),
        (["MA130"], "coding"),
        (["N30"], "eligibility"),
        (["MA04"], "eligibility"),
        (["N479"], "eligibility"),
        (["N54"], "authorization"),
        (["N95"], "credentialing"),
        (["N705"], "records"),
        (["N706"], "records"),
        (["M127"], "records"),
        ([], "coding"),
        (["N1"], "coding"),  # an alert changes nothing
    ],
)
def test_a_rarc_refines_co16(rarcs: list[str], queue: str) -> None:
    assert route_denial("CO", "16", rarcs).queue == queue


def test_n290_goes_to_credentialing_only_when_noted() -> None:
    assert route_denial("CO", "16", ["N290"], credentialing_noted=True).family is Family.CREDENTIALING
    assert route_denial("CO", "16", ["N290"]).family is Family.CODING


def test_ma130_is_a_new_claim_without_appeal_rights() -> None:
    route = route_denial("CO", "16", ["M62", "MA130"])
    assert route.queue == "coding" and route.appealable is False and "new claim" in route.action


def test_a_rarc_does_not_override_a_specific_carc() -> None:
    assert route_denial("CO", "50", ["N705"]).queue == "appeals"
    assert route_denial("CO", "197", ["N30"]).queue == "authorization"


def test_a_rarc_decides_for_generic_carcs() -> None:
    assert route_denial("CO", "A1", ["N95"]).queue == "credentialing"
    assert route_denial("CO", "96", ["N706"]).queue == "records"
    assert route_denial("CO", "999", ["M62"]).queue == "authorization"


def test_appeal_rights() -> None:
    assert route_denial("CO", "50").appealable is True
    assert route_denial("CO", "50", ["N211"]).appealable is False
    assert route_denial("CO", "50", ["N211"]).kind == "work_denial"  # no appeal: someone decides what else
    assert route_denial("CO", "29", payer_kind="medicare").appealable is False
    assert route_denial("CO", "29", payer_kind="commercial").appealable is True


def test_patient_and_contractual_groups_route_to_their_review_queues() -> None:
    assert route_denial("PR", "1").queue == "patient-balances"
    assert route_denial("PR", "204").queue == "patient-balances"
    assert route_denial("CO", "45").queue == "underpayments"
    assert route_denial("CO", "253").queue == "underpayments"


def test_priority_rises_with_urgency_dollars_and_recoverability() -> None:
    base = rules.denial_priority(family=Family.CODING, amount=D("200"), days_left=30)
    assert rules.denial_priority(family=Family.CODING, amount=D("200"), days_left=5) > base
    assert rules.denial_priority(family=Family.CODING, amount=D("400"), days_left=30) > base
    assert rules.denial_priority(family=Family.TIMELY_FILING, amount=D("200"), days_left=30) < base
    assert rules.denial_priority(family=Family.CODING, amount=D("10000"), days_left=0) == 44  # 49 × 1 × 1 × 0.9
    assert rules.denial_priority(family=Family.CODING, amount=D("0"), days_left=None) == 2  # 49 × 0.5 × 0.1 × 0.9
    assert rules.denial_priority(family=Family.CODING, amount=D("200"), days_left=-3) == 22  # past due: most urgent


def test_no_denial_outranks_an_escalation() -> None:
    top = max(rules.denial_priority(family=f, amount=D("99999"), days_left=-10) for f in Family)
    assert top < ESCALATION_PRIORITY_BUMP


def test_days_left() -> None:
    assert rules.days_left(date(2026, 12, 1), date(2026, 11, 18)) == 13
    assert rules.days_left(None, date(2026, 11, 18)) is None


@pytest.mark.parametrize(
    ("charge", "paid", "denied", "status"),
    [
        ("150", "97.5", "0", "paid"),
        ("150", "50", "30", "partially_paid"),
        ("150", "0", "150", "denied"),
        ("150", "0", "0", "paid"),  # all to the deductible: the payer is done with it
    ],
)
def test_claim_status_after_an_835(charge: str, paid: str, denied: str, status: str) -> None:
    assert rules.claim_status_after(charge=D(charge), paid=D(paid), denied=D(denied)) == status


def test_secondary_account_number_keeps_within_38_characters() -> None:
    assert rules.secondary_account_number("CALM-MIND-12") == "CALM-MIND-12S"
    long = "X" * 38
    assert rules.secondary_account_number(long) == "X" * 37 + "S"


def test_ledger_reasons_name_the_code_and_meaning() -> None:
    assert rules.ledger_reason("PR", "1") == "PR-1 deductible"
    assert rules.ledger_reason("PR", "2") == "PR-2 coinsurance"
    assert rules.ledger_reason("PR", "3") == "PR-3 copay"
    assert rules.ledger_reason("PR", "204").startswith("PR-204 service not covered")


def test_the_catalogue_holds_every_routed_code() -> None:
    for code in rules.CARC_FAMILY:
        assert code in carc.CARC, code
    for code in rules.RARC_FAMILY:
        assert code in carc.RARC, code
    assert carc.describe("CO", "45") == "CO-45 charge exceeds fee schedule / contracted amount"
    assert carc.describe("CO", "ZZ9") == "CO-ZZ9"


@dataclass
class _Line:
    id: int
    line_number: int
    cpt: str
    modifiers: list[str]
    date_of_service: date


@dataclass
class _Svc:
    code: str
    modifiers: tuple[str, ...] = ()
    date: date | None = None
    control_number: str = ""
    original_code: str = ""


LINES = [
    _Line(11, 1, "90834", ["95"], date(2026, 11, 2)),
    _Line(12, 2, "96127", [], date(2026, 11, 2)),
    _Line(13, 3, "90834", ["95"], date(2026, 11, 9)),
]


def test_service_lines_match_by_code_modifiers_and_date_in_any_order() -> None:
    services = [_Svc("96127", (), date(2026, 11, 2)), _Svc("90834", ("95",), date(2026, 11, 9)),
                _Svc("90834", ("95",), date(2026, 11, 2))]  # fmt: skip
    assert [line.id for line in rules.match_service_lines(LINES, services)] == [12, 13, 11]


def test_a_line_control_number_wins_over_the_code() -> None:
    services = [_Svc("90834", ("95",), date(2026, 11, 2), control_number="3")]
    assert rules.match_service_lines(LINES, services)[0].id == 13


def test_a_changed_code_or_missing_date_falls_back_to_code_then_order() -> None:
    services = [_Svc("90832", (), None, original_code="96127"), _Svc("90999"), _Svc("90834", ("95",)), _Svc("X")]
    assert [getattr(line, "id", None) for line in rules.match_service_lines(LINES, services)] == [12, 13, 11, None]


def test_a_one_line_claim_takes_its_one_service_line_whatever_the_payer_called_it() -> None:
    assert rules.match_service_lines(LINES[:1], [_Svc("90999", control_number="7")]) == [LINES[0]]
    assert rules.match_service_lines(LINES[:1], [_Svc("90834"), _Svc("90834")]) == [LINES[0], None]


def test_co_119_benefit_maximum_is_its_own_family_billed_onward_not_a_medical_necessity_appeal() -> None:
    route = route_denial("CO", "119")
    assert route.family == "benefit_maximum" and route.kind == "work_denial"
    assert "secondary" in route.action and "patient" in route.action
    assert rules.disposition("PR", "119", Decimal("80")) is rules.Disposition.PATIENT  # PR-119: the patient's share
