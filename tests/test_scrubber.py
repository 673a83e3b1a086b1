"""The scrubber: every same-day edit of billing-rules 1.6, diagnoses (3.4-3.5), NPIs (4.3), patient data,
prior authorization (8.3), timely filing (5.1) and duplicates. Pure: no app, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pytest

from backoffice.coding.rules import PAYER_DEFAULTS, CodingResult, LineDraft, SessionFacts, code_session
from backoffice.scrubber.rules import AuthorizationFacts, PayerFacts, ScrubInput, ScrubResult, scrub

TODAY = date(2026, 3, 20)  # inside the ICD-10-CM release the checks use (FY2026)
DOS = date(2026, 3, 16)
COMMERCIAL = PayerFacts("AETNA", "Aetna", "commercial", 120, frozenset(), PAYER_DEFAULTS["commercial"])
MEDICARE = PayerFacts("MEDICARE", "Medicare Part B", "medicare", None, frozenset(), PAYER_DEFAULTS["medicare"])
SELF_PAY = PayerFacts("SELFPAY", "Self-pay", "self_pay", None, frozenset(), PAYER_DEFAULTS["self_pay"])


def session(ref: str, service: str = "psychotherapy", minutes: int = 53, **kw: object) -> ScrubInput:
    """A coded session of patient P1 with clinician 1234567893 on DOS unless told otherwise."""
    facts_kw = {k: kw.pop(k) for k in list(kw) if k in SessionFacts.__dataclass_fields__}
    facts = SessionFacts(
        service=service, minutes=minutes, em_code=facts_kw.pop("em_code", None),
        modality=facts_kw.pop("modality", "in_person"), patient_location=facts_kw.pop("patient_location", "office"),
        interactive_complexity=facts_kw.pop("interactive_complexity", False),
        screenings=facts_kw.pop("screenings", 0), diagnoses=facts_kw.pop("diagnoses", ("F33.1",)),
        credential=facts_kw.pop("credential", "MD"), date_of_service=facts_kw.pop("date_of_service", DOS),
    )  # fmt: skip
    payer = kw.pop("payer", COMMERCIAL)
    coding = kw.pop("coding", None) or code_session(facts, payer.rules)
    values = {"patient_key": "calm-mind:P1", "billing_npi": "1558598797", "rendering_npi": "1234567893",
              "member_id": "W123", "patient_dob": date(1980, 1, 1), "patient_sex": "F", **kw}  # fmt: skip
    return ScrubInput(ref=ref, facts=facts, coding=coding, payer=payer, **values)


def rules_of(result: ScrubResult) -> list[str]:
    return [f.rule for f in result.findings]


def scrub_day(*inputs: ScrubInput) -> list[ScrubResult]:
    return scrub(list(inputs), today=TODAY)


# --- same-day combination edits (billing-rules 1.6) ---


@pytest.mark.parametrize(
    "first, second, rule",
    [
        (("intake", 60), ("em", 20, "99213"), "SAME-DAY-E1"),
        (("intake_medical", 60), ("em", 20, "99214"), "SAME-DAY-E1"),
        (("intake", 60), ("psychotherapy", 45), "SAME-DAY-E2"),
        (("intake_medical", 60), ("psychotherapy", 30), "SAME-DAY-E2"),
        (("intake", 60), ("crisis", 60), "SAME-DAY-E3"),
        (("intake", 60), ("intake_medical", 60), "SAME-DAY-E4"),
        (("psychotherapy", 30), ("psychotherapy", 45), "SAME-DAY-E5"),
        (("psychotherapy", 45), ("em", 20, "99213"), "SAME-DAY-E6"),
        (("crisis", 60), ("psychotherapy", 45), "SAME-DAY-E10"),
    ],
)
def test_same_day_conflicts_flag_the_later_session(first: tuple, second: tuple, rule: str) -> None:
    a = session("A", first[0], first[1], em_code=first[2] if len(first) > 2 else None, start_time=time(9))
    b = session("B", second[0], second[1], em_code=second[2] if len(second) > 2 else None, start_time=time(14))
    result_a, result_b = scrub_day(a, b)
    assert rule in rules_of(result_b)
    assert not result_b.billable
    assert rule not in rules_of(result_a)


def test_conflicts_need_the_same_patient_day_and_clinician() -> None:
    base = session("A", "intake", 60)
    for other in (
        session("B", "em", 20, em_code="99213", patient_key="calm-mind:P2"),
        session("B", "em", 20, em_code="99213", date_of_service=date(2026, 3, 17)),
        session("B", "em", 20, em_code="99213", rendering_npi="1558598797"),
    ):
        assert all(not r.startswith("SAME-DAY") for result in scrub_day(base, other) for r in rules_of(result))


def test_e7_an_add_on_without_an_e_and_m_that_day_is_refused() -> None:
    addon_only = CodingResult((LineDraft("90833", (), 1, "11", (1,)),), ())
    (result,) = scrub_day(session("A", coding=addon_only))
    assert "SAME-DAY-E7" in rules_of(result) and not result.billable


def test_e7_the_add_on_is_fine_with_its_e_and_m() -> None:
    (result,) = scrub_day(session("A", "em_psychotherapy", 30, em_code="99214"))
    assert [line.cpt for line in result.lines] == ["99214", "90833"]
    assert not [r for r in rules_of(result) if r.startswith("SAME-DAY")]


def test_e8_90840_without_90839_is_refused() -> None:
    (result,) = scrub_day(session("A", coding=CodingResult((LineDraft("90840", (), 1, "11", (1,)),), ())))
    assert "SAME-DAY-E8" in rules_of(result)


def test_e9_interactive_complexity_with_family_therapy_the_same_day_is_refused() -> None:
    family = session("A", "family_with_patient", 50, start_time=time(9))
    with_ic = CodingResult((LineDraft("90785", (), 1, "11", (1,)),), ())
    _, result = scrub_day(family, session("B", coding=with_ic, start_time=time(11)))
    assert "SAME-DAY-E9" in rules_of(result)


def test_e10_crisis_with_interactive_complexity_in_another_session_is_refused() -> None:
    crisis = session("A", "crisis", 60, start_time=time(9))
    therapy = session("B", "psychotherapy", 45, interactive_complexity=True, start_time=time(13))
    _, result = scrub_day(crisis, therapy)
    assert "SAME-DAY-E10" in rules_of(result)


@pytest.mark.parametrize("payer, modifier", [(COMMERCIAL, "59"), (MEDICARE, "XE")])
def test_e11_separate_psychotherapy_and_family_sessions_carry_the_payers_modifier(payer, modifier) -> None:  # noqa: ANN001
    therapy = session("A", "psychotherapy", 45, start_time=time(9), payer=payer)
    family = session("B", "family_with_patient", 50, start_time=time(15), payer=payer)
    result_a, result_b = scrub_day(therapy, family)
    assert [f.rule for f in result_b.findings if f.rule.startswith("SAME-DAY")] == ["SAME-DAY-E11-SEPARATE"]
    assert result_b.lines[0].cpt == "90847" and modifier in result_b.lines[0].modifiers
    assert modifier not in result_a.lines[0].modifiers
    assert result_b.billable


def test_e11_without_start_times_the_sessions_cannot_be_shown_separate() -> None:
    _, result = scrub_day(session("A", "psychotherapy", 45), session("B", "family_without_patient", 40))
    assert "SAME-DAY-E11" in rules_of(result) and not result.billable


def test_e12_96127_with_an_e_and_m_gets_modifier_25_on_the_e_and_m() -> None:
    (result,) = scrub_day(session("A", "em", 25, em_code="99214", screenings=2))
    assert "CODE-MODIFIER-25" in rules_of(result) and result.billable
    assert result.lines[0].modifiers == ("25",) and result.lines[1].modifiers == ()


def test_e12_stays_a_warning_for_a_payer_that_wants_no_modifier_25() -> None:
    rules = replace(COMMERCIAL.rules, coding=replace(COMMERCIAL.rules.coding, em_modifier_25=False))
    (result,) = scrub_day(session("A", "em", 25, em_code="99214", screenings=2, payer=replace(COMMERCIAL, rules=rules)))
    assert "SAME-DAY-E12" in rules_of(result) and result.billable and "25" not in result.lines[0].modifiers


def test_e13_to_e16_come_from_the_coding_engine() -> None:
    short, family, crisis, scope = scrub_day(
        session("A", "psychotherapy", 15),
        session("B", "family_with_patient", 25, patient_key="x:1"),
        session("C", "crisis", 29, patient_key="x:2"),
        session("D", "em", 20, em_code="99213", credential="LCSW", patient_key="x:3"),
    )
    assert not short.billable and not family.billable and not scope.billable
    assert [line.cpt for line in crisis.lines] == ["90832"]  # E15: recoded as psychotherapy


def test_the_same_session_twice_is_a_duplicate() -> None:
    a, b = scrub_day(session("A", start_time=time(9)), session("A-copy", start_time=time(9)))
    assert "DUPLICATE-SESSION" in rules_of(b) and "SAME-DAY-E5" not in rules_of(b)
    assert "DUPLICATE-SESSION" not in rules_of(a)


# --- diagnoses (billing-rules 3.3-3.5) ---


def test_a_category_header_is_not_billable_and_the_message_names_the_children() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F43.1",)))
    messages = [f.message for f in result.findings if f.rule == "DX-NOT-BILLABLE"]
    assert messages == ["F43.1 is a category: use F43.10, F43.11 or F43.12"] and not result.billable


def test_a_malformed_code_is_a_format_error() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F3",)))
    assert "DX-FORMAT" in rules_of(result) and not result.billable


def test_depressive_episode_and_recurrent_depression_together_break_excludes1() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F32.A", "F33.1")))
    assert "DX-EXCLUDES1" in rules_of(result)


def test_a_z_code_first_on_psychotherapy_is_a_warning() -> None:
    (result,) = scrub_day(session("A", diagnoses=("Z63.0", "F41.1")))
    assert "DX-Z-FIRST" in rules_of(result) and result.billable


def test_unspecified_codes_are_warnings() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F41.9",)))
    assert "DX-UNSPECIFIED" in rules_of(result) and result.billable


def test_a_date_outside_the_code_set_release_is_a_warning() -> None:
    (result,) = scrub([session("A", date_of_service=date(2026, 11, 16))], today=date(2026, 11, 20))
    assert "DX-CODE-SET-DATE" in rules_of(result) and result.billable


# --- identifiers, patient data, authorization, filing ---


def test_bad_npis_are_errors() -> None:
    (result,) = scrub_day(session("A", billing_npi="1234567890", rendering_npi="123"))
    assert {"NPI-BILLING", "NPI-RENDERING"} <= set(rules_of(result)) and not result.billable


def test_member_id_birth_date_and_sex_must_be_present() -> None:
    (result,) = scrub_day(session("A", member_id="", patient_dob=None, patient_sex=None))
    assert {"PATIENT-MEMBER-ID", "PATIENT-DOB", "PATIENT-SEX"} <= set(rules_of(result))


def test_self_pay_has_no_claim_and_no_filing_deadline() -> None:
    (result,) = scrub_day(session("A", payer=SELF_PAY, member_id=""))
    assert "SELF-PAY" in rules_of(result) and "PATIENT-MEMBER-ID" not in rules_of(result)
    assert result.filing_deadline is None


AUTH_PAYER = replace(COMMERCIAL, prior_auth_cpts=frozenset({"90837"}))
AUTH = AuthorizationFacts("PA123", frozenset({"90837"}), 3, date(2026, 1, 1), date(2026, 6, 30))


@pytest.mark.parametrize(
    "authorizations, expected",
    [
        ((), "AUTH-REQUIRED"),
        ((AUTH,), None),
        ((replace(AUTH, remaining=0),), "AUTH-EXHAUSTED"),
        ((replace(AUTH, remaining=1),), None),  # the last visit
        ((replace(AUTH, end=date(2026, 3, 15)),), "AUTH-DATES"),  # expired the day before
        ((replace(AUTH, start=date(2026, 3, 17)),), "AUTH-DATES"),  # starts the day after
        ((replace(AUTH, start=date(2026, 3, 16)),), None),  # starts on the date of service
        ((replace(AUTH, cpts=frozenset({"90834"})),), "AUTH-REQUIRED"),  # for another code
        # An exhausted one and a fresh one in force: the fresh one takes the line.
        ((replace(AUTH, remaining=0), replace(AUTH, number="PA124", key=9)), None),
        # Units, not visits: 90837 is one unit, so one unit left is enough and none is not.
        ((replace(AUTH, counts_visits=False, remaining=1),), None),
        ((replace(AUTH, counts_visits=False, remaining=0),), "AUTH-EXHAUSTED"),
    ],
)
def test_prior_auth_required_by_the_payer_needs_an_authorization_in_force_with_enough_left(
    authorizations,
    expected,  # noqa: ANN001
) -> None:
    (result,) = scrub_day(session("A", payer=AUTH_PAYER, authorizations=authorizations))
    found = [r for r in rules_of(result) if r.startswith("AUTH-")]
    assert found == ([expected] if expected else [])


def test_a_code_the_payer_does_not_list_needs_no_authorization() -> None:
    (result,) = scrub_day(session("A", "psychotherapy", 45, payer=AUTH_PAYER))
    assert "AUTH-REQUIRED" not in rules_of(result)


def test_timely_filing_passed_is_an_error_and_near_is_a_warning() -> None:
    # Aetna 120 days: DOS 2025-11-20 → 2026-03-20 (a Friday).
    (passed,) = scrub([session("A", date_of_service=date(2025, 11, 19))], today=date(2026, 3, 20))
    (near,) = scrub([session("A", date_of_service=date(2025, 11, 20))], today=date(2026, 3, 10))
    (fine,) = scrub([session("A", date_of_service=date(2025, 11, 20))], today=date(2026, 3, 5))
    assert passed.filing_deadline == date(2026, 3, 19) and "FILING-PASSED" in rules_of(passed)
    assert "FILING-SOON" in rules_of(near) and near.billable
    assert not {"FILING-SOON", "FILING-PASSED"} & set(rules_of(fine))


def test_findings_never_contain_patient_data() -> None:
    (result,) = scrub_day(session("A", member_id="", patient_dob=None, diagnoses=("F43.1", "Z63.0")))
    text = " ".join(f.message for f in result.findings)
    assert "W123" not in text and "1980" not in text and "calm-mind:P1" not in text


def test_docs_rules_md_is_generated_from_the_catalogues() -> None:
    from pathlib import Path

    from backoffice.coding.catalogue import RULES as CODING_RULES
    from backoffice.itemforms.rules import EDIT_RULES
    from backoffice.scrubber.catalogue import RULES, rules_markdown

    on_disk = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    assert on_disk == rules_markdown(), "docs/rules.md is stale: run `backoffice rules-doc`"
    ids = [rule.id for rule in CODING_RULES + RULES + EDIT_RULES]
    assert len(ids) == len(set(ids)), "rule ids must be unique across both catalogues"
    assert all(f"| {rule_id} |" in on_disk for rule_id in ids)


def test_every_same_day_edit_of_billing_rules_1_6_is_catalogued() -> None:
    from backoffice.coding.catalogue import RULES as CODING_RULES
    from backoffice.scrubber.catalogue import RULES

    sources = " ".join(rule.source for rule in RULES)
    for number in range(1, 13):
        assert f"1.6 E{number}" in sources
    coding_sections = {rule.source for rule in CODING_RULES}
    assert {"billing-rules 1.2", "billing-rules 1.3", "billing-rules 1.7"} <= {s.split(",")[0] for s in coding_sections}


def test_a_manifestation_code_cannot_be_the_primary_diagnosis() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F02.80", "G30.9")))
    assert "DX-PRIMARY" in rules_of(result) and not result.billable


def test_excludes1_pairs_come_from_the_code_set_notes() -> None:
    (result,) = scrub_day(session("A", diagnoses=("F32.A", "F31.81")))
    assert [f.message for f in result.findings if f.rule == "DX-EXCLUDES1"] == [
        "F32.A and F31.81 cannot be reported together (Excludes1)."
    ]


def test_an_exhausted_or_out_of_date_authorization_is_an_error_that_blocks_the_claim() -> None:
    for auth in (replace(AUTH, remaining=0), replace(AUTH, end=date(2026, 3, 1))):
        (result,) = scrub_day(session("A", payer=AUTH_PAYER, authorizations=(auth,)))
        assert not result.billable
        assert [f.severity for f in result.findings if f.rule.startswith("AUTH-")] == ["error"]
