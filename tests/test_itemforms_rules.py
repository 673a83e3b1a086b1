"""Pure item-form rules: benefits and prior-auth entry checks, claim-line parsing, edits against the coding, and
what each denial code means (billing-rules §1.1, §4.1, §6, §8). No app, no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.itemforms.rules import (
    CPT_CATALOGUE,
    BenefitsEntry,
    LineEdit,
    check_authorization,
    check_benefits,
    check_lines,
    differences_from_coding,
    explain_denial,
    explain_remarks,
    has_errors,
    parse_cpts,
    parse_line,
    split_code,
)


def test_a_complete_benefits_entry_has_no_problem() -> None:
    entry = BenefitsEntry(active=True, in_network=False, copay=Decimal("0.00"), coinsurance_percent=Decimal("100"),
                          deductible_remaining=Decimal("0"), visits_allowed=30, visits_remaining=30)  # fmt: skip
    assert check_benefits(entry) == []


def test_benefits_boundaries() -> None:
    assert check_benefits(BenefitsEntry(active=True, coinsurance_percent=Decimal("100.01"))) == [
        "coinsurance %: between 0 and 100"
    ]
    assert check_benefits(BenefitsEntry(active=True, visits_allowed=0, visits_remaining=0)) == []
    assert (
        check_benefits(BenefitsEntry(active=True, visits_remaining=5)) == []
    )  # allowed not stated: nothing to compare
    assert check_benefits(BenefitsEntry(active=True, copay=Decimal("999999.99"))) == []
    assert check_benefits(BenefitsEntry(active=True, copay=Decimal("1000000"))) == [
        "copay: an amount from 0.00 to 999,999.99"
    ]


def test_every_benefits_problem_is_reported_at_once() -> None:
    entry = BenefitsEntry(copay=Decimal("-1"), coinsurance_percent=Decimal("101"), visits_allowed=3, visits_remaining=4)
    assert check_benefits(entry) == [
        "copay: an amount from 0.00 to 999,999.99",
        "coinsurance %: between 0 and 100",
        "visits remaining: cannot be more than the visits allowed",
        "active: say whether the coverage is active on the date of service",
    ]


def test_cpt_lists_are_split_deduplicated_and_checked_against_the_catalogue() -> None:
    assert parse_cpts("90834, 90837;90834 \n 90785") == (["90834", "90837", "90785"], [])
    assert parse_cpts("90834 0000T") == (["90834", "0000T"], ["CPT codes: 0000T is not in the catalogue"])
    assert parse_cpts("") == ([], ["CPT codes: at least one"])


def test_the_catalogue_is_the_behavioral_health_codes_of_the_reference() -> None:
    assert {"90791", "90837", "90839", "90840", "90785", "96127", "96130", "99214"} <= CPT_CATALOGUE
    assert "99201" not in CPT_CATALOGUE  # deleted in 2021


def test_an_authorization_must_end_on_or_after_its_start() -> None:
    ok = {"number": "A1", "cpts": ["90834"], "authorized": 10}
    assert check_authorization(**ok, start=date(2026, 3, 1), end=date(2026, 3, 1)) == []
    assert check_authorization(**ok, start=date(2026, 3, 2), end=date(2026, 3, 1)) == [
        "end date: must be on or after the start date"
    ]
    assert check_authorization(number="x" * 51, cpts=[], authorized=1001, start=None, end=None) == [
        "authorization number: at most 50 characters",
        "CPT codes: at least one",
        "units or visits authorized: between 1 and 1000",
        "start date: required",
        "end date: required",
    ]


def test_a_line_is_parsed_from_form_strings() -> None:
    raw = {"cpt": " 90837 ", "modifiers": "95, xe", "units": "1", "pos": "10", "pointers": "1 2"}
    assert parse_line(raw, 1) == (LineEdit("90837", ("95", "XE"), 1, "10", (1, 2)), [])


def test_a_line_reports_every_problem_with_its_number() -> None:
    raw = {"cpt": "", "modifiers": "95 59 XE 25 GT", "units": "x", "pos": "100", "pointers": "1 2 3 4 a 5"}
    line, errors = parse_line(raw, 3)
    assert line is None and errors == [
        "line 3, CPT: (empty) is not in the catalogue",
        "line 3, modifiers: at most 4",
        "line 3, units: a whole number from 1 to 99",
        "line 3, POS: a two-digit place-of-service code",
        "line 3, diagnosis pointers: a is not a number",
        "line 3, diagnosis pointers: at most 4",
    ]


def test_lines_point_only_at_the_sessions_diagnoses_and_each_pointer_once() -> None:
    line = LineEdit("90834", (), 1, "11", (1, 3))
    assert check_lines([line], 2) == ["line 1, diagnosis pointers: 3 beyond the 2 diagnosis code(s) of the session"]
    assert check_lines([LineEdit("90834", (), 1, "11", (1, 1))], 2) == ["line 1, diagnosis pointers: each at most once"]
    assert check_lines([], 1) == ["lines: at least one"]
    assert check_lines([LineEdit("90834", (), 1, "11", (1,))] * 7, 1) == ["lines: at most 6"]


def test_edits_that_leave_the_coding_are_warnings_the_record_must_support() -> None:
    coded = [LineEdit("90834", (), 1, "11", (1,))]
    assert differences_from_coding(coded, coded) == []
    assert differences_from_coding([LineEdit("90834", ("25",), 2, "02", (1,))], coded) == []  # same codes
    found = differences_from_coding([LineEdit("90837", (), 1, "11", (1,))], coded)
    assert [(f["rule"], f["severity"]) for f in found] == [
        ("EDIT-NOT-CODED", "warning"),
        ("EDIT-CODE-DROPPED", "warning"),
    ]
    assert not has_errors(found) and has_errors([{"severity": "error"}])


@pytest.mark.parametrize(
    ("code", "remarks", "family", "action_starts", "appealable"),
    [
        ("CO-50", [], "medical_necessity", "Draft the appeal", True),
        ("CO-197", [], "authorization", "Find or request the authorization", True),
        ("CO-16", ["MA130"], "coding", "Correct and submit a new claim: unprocessable (MA130)", False),
        ("CO-16", ["M62"], "authorization", "Find or request the authorization", True),
        ("CO-109", [], "eligibility", "Re-verify eligibility", True),
        ("CO-29", [], "timely_filing", "Find proof of timely filing", True),
        ("PR-1", [], "patient_responsibility", "Bill the secondary payer or the patient", True),
    ],
)
def test_each_denial_code_gets_its_meaning_family_and_action(code, remarks, family, action_starts, appealable) -> None:  # noqa: ANN001
    (explained,) = explain_denial([code], remarks)
    assert explained.family == family and explained.action.startswith(action_starts)
    assert explained.appealable is appealable and explained.code == code


def test_a_denial_code_is_explained_in_words() -> None:
    (co50,) = explain_denial(["CO-50"], [])
    assert (co50.group, co50.group_meaning, co50.carc, co50.meaning) == (
        "CO", "contractual obligation", "50", "not deemed a medical necessity",
    )  # fmt: skip
    (unknown,) = explain_denial(["OA-999"], [])
    assert unknown.meaning == "no description on file" and unknown.family == "review"


def test_medicare_timely_filing_denials_have_no_appeal_rights() -> None:
    (medicare,) = explain_denial(["CO-29"], [], payer_kind="medicare")
    assert medicare.appealable is False


def test_codes_and_remarks_split_and_explain() -> None:
    assert split_code("co-45") == ("CO", "45") and split_code("50") == ("", "50")
    n54 = "claim information inconsistent with pre-certified/authorized services"
    assert explain_remarks(["N54", "ZZ1"]) == [("N54", n54), ("ZZ1", "no description on file")]
