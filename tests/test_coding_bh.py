"""Behavioural-health coding in depth (issue 21), pure: unit rules, HCPCS Level II, payer crosswalks and code sets,
modifiers chosen by payer × credential × service, testing/BHI/CoCM/90863, modifier 25, NCCI PTP and MUE edits,
associates billed under supervision. No app, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.coding import hcpcs, ncci, units
from backoffice.coding.policy import CodingPolicy, parse_policy, policy_problem
from backoffice.coding.rules import PAYER_DEFAULTS, CodingResult, LineDraft, PayerRules, SessionFacts, code_session
from backoffice.demo.data import MEDICAID_MCO_CODING
from backoffice.orgs.rules import fee_schedule_problem
from backoffice.scrubber.rules import PayerFacts, ScrubInput, ScrubResult, scrub

DOS = date(2026, 3, 16)
TODAY = date(2026, 3, 20)
MCO_RULES = replace(
    PAYER_DEFAULTS["medicaid_managed_care"],
    coding=parse_policy(MEDICAID_MCO_CODING, PAYER_DEFAULTS["medicaid_managed_care"].coding),
)
MCO = PayerFacts("KEYSTONEMCO", "Keystone", "medicaid_managed_care", 180, frozenset(), MCO_RULES)
MEDICAID = PayerFacts("MEDICAID", "Medicaid", "medicaid", 180, frozenset(), PAYER_DEFAULTS["medicaid"])
MEDICARE = PayerFacts("MEDICARE", "Medicare", "medicare", None, frozenset(), PAYER_DEFAULTS["medicare"])
COMMERCIAL = PayerFacts("AETNA", "Aetna", "commercial", 120, frozenset(), PAYER_DEFAULTS["commercial"])


def facts(**kw: object) -> SessionFacts:
    values: dict[str, object] = {
        "service": "psychotherapy", "minutes": 53, "em_code": None, "modality": "in_person",
        "patient_location": "office", "interactive_complexity": False, "screenings": 0, "diagnoses": ("F33.1",),
        "credential": "LCSW", "date_of_service": DOS,
    }  # fmt: skip
    values.update(kw)
    return SessionFacts(**values)  # type: ignore[arg-type]


def rules_with(base: PayerRules = PAYER_DEFAULTS["commercial"], **policy: object) -> PayerRules:
    return replace(base, coding=parse_policy(policy, base.coding))


def lines(result: CodingResult | ScrubResult) -> list[tuple[str, tuple[str, ...], int]]:
    return [(line.cpt, line.modifiers, line.units) for line in result.lines]


def rules_of(result: CodingResult | ScrubResult) -> list[str]:
    return [f.rule for f in result.findings]


def scrub_input(ref: str, payer: PayerFacts = MEDICAID, start: time | None = None, supervisor: str | None = None,
                coding: CodingResult | None = None, **kw: object) -> ScrubInput:  # fmt: skip
    session = facts(**kw)
    return ScrubInput(
        ref=ref, facts=session, coding=coding or code_session(session, payer.rules), payer=payer,
        patient_key="p:1", billing_npi="1558598797", rendering_npi="1234567893", member_id="M1",
        patient_dob=date(1980, 1, 1), patient_sex="F", start_time=start, supervisor_npi=supervisor,
    )  # fmt: skip


def scrub_all(*inputs: ScrubInput) -> list[ScrubResult]:
    return scrub(list(inputs), today=TODAY)


# --- unit rules ---


@pytest.mark.parametrize(
    "minutes, block, expected",
    [(30, 60, 0), (31, 60, 1), (90, 60, 1), (91, 60, 2), (151, 60, 3), (15, 30, 0), (16, 30, 1), (45, 30, 1),
     (46, 30, 2), (7, 15, 0), (8, 15, 1), (22, 15, 1), (23, 15, 2)],
)  # fmt: skip
def test_a_unit_is_attained_when_its_midpoint_is_passed(minutes: int, block: int, expected: int) -> None:
    assert units.midpoint_units(minutes, block) == expected


@pytest.mark.parametrize(
    "minutes, rule, expected",
    [(7, "cms_8_minute", 0), (8, "cms_8_minute", 1), (22, "cms_8_minute", 1), (23, "cms_8_minute", 2),
     (37, "cms_8_minute", 2), (38, "cms_8_minute", 3), (8, "midpoint", 1), (23, "midpoint", 2),
     (14, "full_units", 0), (15, "full_units", 1), (29, "full_units", 1), (30, "full_units", 2)],
)  # fmt: skip
def test_fifteen_minute_unit_boundaries(minutes: int, rule: str, expected: int) -> None:
    assert units.fifteen_minute_units(minutes, rule) == expected


@given(st.integers(min_value=0, max_value=600), st.sampled_from(units.FIFTEEN_MINUTE_RULES))
def test_fifteen_minute_rules_over_0_to_600_minutes(minutes: int, rule: str) -> None:
    count = units.fifteen_minute_units(minutes, rule)
    assert count >= 0 and count <= units.fifteen_minute_units(minutes + 1, rule)  # never fewer for more time
    if rule == units.FULL_UNITS:
        assert count * 15 <= minutes < (count + 1) * 15
    else:  # each unit billed stands for 15 minutes, within 7 either way; none under 8
        assert abs(count * 15 - minutes) <= 7 or (count == 0 and minutes < 8)
        assert (count == 0) == (minutes < 8)


@given(st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=5))
def test_the_eight_minute_rule_bills_the_day_total_and_never_takes_a_full_unit_away(minutes: list[int]) -> None:
    day = {f"H{2010 + n}": m for n, m in enumerate(minutes)}
    given_units = units.eight_minute_day(day)
    assert sum(given_units.values()) == units.midpoint_units(sum(minutes), 15)
    for code, m in day.items():
        assert m // 15 <= given_units[code] <= m // 15 + 1


def test_the_eight_minute_rule_and_the_midpoint_rule_differ_on_a_day_of_short_services() -> None:
    assert units.eight_minute_day({"H2019": 33, "H2017": 7}) == {"H2019": 2, "H2017": 1}  # CMS: 40 minutes, 3 units
    assert units.eight_minute_day({"H2019": 7, "H2017": 7}) == {"H2019": 1, "H2017": 0}
    assert units.fifteen_minute_units(7, units.MIDPOINT) == 0  # per code: nothing for either


# --- HCPCS Level II ---


def test_the_behavioural_health_hcpcs_codes_are_known_with_their_unit_kinds() -> None:
    for code in ("H0031", "H0004", "H2019", "H2017", "H2011", "H0036", "T1017", "S9480", "H0032", "H2014", "H0001",
                 "H0038"):  # fmt: skip
        assert code in hcpcs.CODES and hcpcs.CODES[code].description
    assert hcpcs.CODES["H2019"].unit_kind == hcpcs.FIFTEEN_MINUTES
    assert hcpcs.CODES["S9480"].unit_kind == hcpcs.PER_DIEM
    assert hcpcs.CODES["H0031"].unit_kind == hcpcs.ENCOUNTER


@pytest.mark.parametrize(
    "procedure, minutes, rule, expected",
    [("H2019", 37, "cms_8_minute", 2), ("H2019", 38, "midpoint", 3), ("H2019", 29, "full_units", 1),
     ("T1017", 8, "cms_8_minute", 1), ("S9480", 0, "cms_8_minute", 1), ("S9480", 240, "full_units", 1),
     ("H0031", 0, "midpoint", 1), ("S9484", 31, "midpoint", 1), ("S9484", 91, "midpoint", 2)],
)  # fmt: skip
def test_hcpcs_units_follow_the_code_and_the_payers_rule(
    procedure: str, minutes: int, rule: str, expected: int
) -> None:
    result = code_session(facts(service="hcpcs", procedure=procedure, minutes=minutes),
                          rules_with(fifteen_minute_rule=rule))  # fmt: skip
    assert lines(result) == [(procedure, (), expected)] and result.billable


def test_a_timed_hcpcs_code_under_eight_minutes_earns_no_unit() -> None:
    result = code_session(facts(service="hcpcs", procedure="H2019", minutes=7), rules_with())
    assert rules_of(result) == ["CODE-UNITS-ZERO"] and not result.billable


def test_hcpcs_unknown_missing_and_ignored_procedure() -> None:
    assert rules_of(code_session(facts(service="hcpcs", procedure="H9999"), rules_with())) == ["CODE-HCPCS-UNKNOWN"]
    assert rules_of(code_session(facts(service="hcpcs"), rules_with())) == ["CODE-HCPCS-MISSING"]
    assert "CODE-PROCEDURE-IGNORED" in rules_of(code_session(facts(procedure="H2019"), rules_with()))


def test_the_fee_schedule_accepts_hcpcs_level_ii() -> None:
    assert fee_schedule_problem({"H0031": "180.00", "T1017": "24.00", "90837": "200.00"}) is None
    assert fee_schedule_problem({"H003": "1.00"}) is not None and fee_schedule_problem({"W0031": "1.00"}) is not None


# --- crosswalk and code set ---


def test_a_medicaid_plan_crosswalks_psychotherapy_to_h0004_in_15_minute_units() -> None:
    result = code_session(facts(minutes=53, modality="video", patient_location="home"), MCO_RULES)
    assert lines(result) == [("H0004", ("HO", "AJ", "HE", "95"), 4)] and result.billable
    assert lines(code_session(facts(service="intake", minutes=0), MCO_RULES))[0][:1] == ("H0031",)


def test_codes_mapping_to_one_hcpcs_become_one_line() -> None:
    rules = rules_with(crosswalk={"90839": "H2011", "90840": "H2011"})
    assert lines(code_session(facts(service="crisis", minutes=110), rules)) == [("H2011", (), 7)]


def test_a_code_outside_the_payers_code_set_is_an_error_naming_it() -> None:
    result = code_session(facts(service="environmental_intervention", minutes=0), MCO_RULES)
    assert rules_of(result) == ["CODE-PAYER-CODE"] and "90882" in result.findings[0].message


# --- modifiers as payer data ---


@pytest.mark.parametrize(
    "kw, expected",
    [({"credential": "LCSW"}, ("HO", "AJ", "HE")), ({"credential": "LPC"}, ("HO", "HE")),
     ({"credential": "PhD"}, ("HP", "HE")), ({"credential": "MD"}, ("HE",)),
     ({"credential": "LCSW", "associate": True}, ("HO", "HE")),  # an associate matches "associate" rules only
     ({"credential": "LPC", "patient_age": 20}, ("HO", "HE", "HA")),
     ({"credential": "LPC", "patient_age": 21}, ("HO", "HE"))],
)  # fmt: skip
def test_the_plans_modifiers_by_credential_and_age(kw: dict, expected: tuple[str, ...]) -> None:
    (line,) = code_session(facts(**kw), MCO_RULES).lines
    assert line.modifiers == expected


@pytest.mark.parametrize(
    "service, minutes, expected",
    [("group", 60, ("HO", "AJ", "HE", "HQ")), ("family_with_patient", 50, ("HO", "AJ", "HE", "HR")),
     ("family_without_patient", 50, ("HO", "AJ", "HE", "HS"))],
)  # fmt: skip
def test_setting_and_participant_modifiers_by_service(service: str, minutes: int, expected: tuple[str, ...]) -> None:
    assert code_session(facts(service=service, minutes=minutes), MCO_RULES).lines[0].modifiers == expected


def test_modifier_order_is_the_payers_and_more_than_four_are_cut_with_a_warning() -> None:
    video = {"modality": "video", "patient_location": "home"}
    telehealth_first = rules_with(modifiers=[{"add": ["HE"]}, {"add": ["U4"]}],
                                  modifier_order=["telehealth", "pricing", "informational"])  # fmt: skip
    assert code_session(facts(**video), telehealth_first).lines[0].modifiers == ("95", "U4", "HE")
    priced_by_age = rules_with(modifiers=[{"add": ["HE"]}, {"add": ["HA"], "max_age": 17}], pricing_modifiers=["HA"])
    assert code_session(facts(patient_age=12), priced_by_age).lines[0].modifiers == ("HA", "HE")
    crowded = rules_with(modifiers=[{"add": ["HE", "HA", "HQ", "U1"]}])
    result = code_session(facts(**video), crowded)
    assert result.lines[0].modifiers == ("U1", "HE", "HA", "HQ") and "CODE-MODIFIERS-OVER-4" in rules_of(result)


def test_a_modifier_rule_may_name_codes() -> None:
    rules = rules_with(modifiers=[{"add": ["U6"], "codes": ["96127"]}])
    result = code_session(facts(screenings=2), rules)
    assert lines(result) == [("90837", (), 1), ("96127", ("U6",), 2)]


@pytest.mark.parametrize(
    "policy, problem",
    [({"colour": 1}, "unknown key"), ({"fifteen_minute_rule": "nearest"}, "fifteen_minute_rule"),
     ({"crosswalk": {"90837": "H9999"}}, "crosswalk"), ({"modifiers": [{"add": ["H"]}]}, "modifiers rule 1"),
     ({"modifiers": [{"add": ["HO"], "max_age": "young"}]}, "max_age"), ({"modifier_order": ["pricing"]}, "order"),
     ({"associate_billing": "maybe"}, "associate_billing"), ({"max_units": {"H2019": 0}}, "max_units"),
     ({"accepted_codes": ["ABC"]}, "accepted_codes")],
)  # fmt: skip
def test_a_malformed_coding_policy_is_refused_naming_the_key(policy: dict, problem: str) -> None:
    assert problem in (policy_problem(policy) or "")


def test_the_demo_plans_policy_is_valid() -> None:
    assert policy_problem(MEDICAID_MCO_CODING) is None


# --- testing and other codes ---


@pytest.mark.parametrize(
    "service, minutes, expected",
    [("testing_evaluation", 31, [("96130", 1)]), ("testing_evaluation", 90, [("96130", 1)]),
     ("testing_evaluation", 91, [("96130", 1), ("96131", 1)]),
     ("neuropsych_evaluation", 151, [("96132", 1), ("96133", 2)]),
     ("test_administration", 16, [("96136", 1)]), ("test_administration", 45, [("96136", 1)]),
     ("test_administration", 46, [("96136", 1), ("96137", 1)]),
     ("test_administration_technician", 106, [("96138", 1), ("96139", 3)])],
)  # fmt: skip
def test_testing_units_by_the_cpt_time_rule(service: str, minutes: int, expected: list) -> None:
    result = code_session(facts(service=service, minutes=minutes, credential="PhD"), rules_with())
    assert [(c, u) for c, _, u in lines(result)] == expected and result.billable


@pytest.mark.parametrize(
    "service, minutes, threshold", [("testing_evaluation", 30, 31), ("test_administration", 15, 16)]
)
def test_testing_under_the_first_threshold_is_not_billable(service: str, minutes: int, threshold: int) -> None:
    result = code_session(facts(service=service, minutes=minutes, credential="PsyD"), rules_with())
    assert rules_of(result) == ["CODE-TESTING-UNDER"] and f"under {threshold}" in result.findings[0].message


def test_a_counselor_may_not_bill_testing_evaluation_but_a_technician_line_is_not_checked() -> None:
    assert "CODE-CRED-TESTING" in rules_of(code_session(facts(service="testing_evaluation", minutes=60), rules_with()))
    assert code_session(facts(service="test_administration_technician", minutes=60), rules_with()).billable


@pytest.mark.parametrize(
    "service, code", [("multi_family_group", "90849"), ("environmental_intervention", "90882"),
                      ("results_interpretation", "90887")]
)  # fmt: skip
def test_untimed_psychiatric_services(service: str, code: str) -> None:
    assert lines(code_session(facts(service=service, minutes=0), rules_with())) == [(code, (), 1)]


def test_90863_only_for_a_prescribing_psychologist_in_a_state_that_allows_it() -> None:
    ok = code_session(facts(credential="PhD", state="NM", minutes=45, pharmacologic_management=True), rules_with())
    assert [c for c, _, _ in lines(ok)] == ["90834", "90863"] and ok.billable
    elsewhere = code_session(facts(credential="PhD", state="PA", pharmacologic_management=True), rules_with())
    assert rules_of(elsewhere) == ["CODE-90863-STATE"] and "(PA)" in elsewhere.findings[0].message
    assert rules_of(code_session(facts(credential="MD", state="NM", pharmacologic_management=True), rules_with())) == [
        "CODE-90863-CREDENTIAL"
    ]
    intake = code_session(facts(service="intake", credential="PsyD", state="IL", pharmacologic_management=True),
                          rules_with())  # fmt: skip
    assert rules_of(intake) == ["CODE-90863-NO-PRIMARY"] and [c for c, _, _ in lines(intake)] == ["90791"]


@pytest.mark.parametrize(
    "service, minutes, expected",
    [("bhi", 19, []), ("bhi", 20, [("99484", 1)]), ("cocm_initial", 35, []), ("cocm_initial", 36, [("99492", 1)]),
     ("cocm_initial", 85, [("99492", 1)]), ("cocm_initial", 86, [("99492", 1), ("99494", 1)]),
     ("cocm_initial", 116, [("99492", 1), ("99494", 2)]), ("cocm_subsequent", 30, []),
     ("cocm_subsequent", 31, [("99493", 1)]), ("cocm_subsequent", 75, [("99493", 1)]),
     ("cocm_subsequent", 76, [("99493", 1), ("99494", 1)])],
)  # fmt: skip
def test_integration_codes_by_their_monthly_time_rules(service: str, minutes: int, expected: list) -> None:
    result = code_session(facts(service=service, minutes=minutes, credential="MD"), rules_with())
    assert [(c, u) for c, _, u in lines(result)] == expected
    assert result.billable == bool(expected)


def test_collaborative_care_is_billed_by_the_treating_practitioner() -> None:
    assert "CODE-COCM-CREDENTIAL" in rules_of(code_session(facts(service="cocm_initial", minutes=60), rules_with()))


def test_screening_only_service() -> None:
    assert lines(code_session(facts(service="screening", minutes=0, screenings=2), rules_with())) == [("96127", (), 2)]
    assert rules_of(code_session(facts(service="screening", minutes=0), rules_with())) == ["CODE-SCREENING-NONE"]


# --- modifier 25 ---


def test_an_e_and_m_with_screening_or_testing_the_same_session_gets_25() -> None:
    result = code_session(facts(service="em_psychotherapy", em_code="99214", minutes=30, credential="MD",
                                screenings=1), rules_with())  # fmt: skip
    assert lines(result) == [("99214", ("25",), 1), ("90833", (), 1), ("96127", (), 1)]
    assert "CODE-MODIFIER-25" in rules_of(result)
    alone = code_session(facts(service="em", em_code="99214", minutes=0, credential="MD"), rules_with())
    assert lines(alone) == [("99214", (), 1)]


def test_an_e_and_m_gets_25_when_testing_is_another_session_that_day() -> None:
    em = scrub_input("A", COMMERCIAL, time(9), service="em", em_code="99214", minutes=0, credential="MD")
    testing = scrub_input("B", COMMERCIAL, time(10), service="test_administration", minutes=60, credential="MD")
    first, second = scrub_all(em, testing)
    assert first.lines[0].modifiers == ("25",) and "SAME-DAY-25" in rules_of(first) and first.billable
    assert second.billable


# --- NCCI PTP and MUE ---


def test_the_ncci_tables_record_quarter_version_and_sources() -> None:
    assert ncci.QUARTER and ncci.VERSION and all(e.source for e in ncci.PTP) and all(m.source for m in ncci.MUE)
    assert ncci.PTP_BY_PAIR[("90839", "90853")].modifier_indicator == 0


def test_a_ptp_pair_with_indicator_0_is_an_error_even_as_separate_sessions() -> None:
    crisis = scrub_input("A", MEDICAID, time(9), service="crisis", minutes=60)
    group = scrub_input("B", MEDICAID, time(14), service="group", minutes=60)
    _, result = scrub_all(crisis, group)
    (ptp,) = [f for f in result.findings if f.rule == "NCCI-PTP"]
    assert "90839 and 90853" in ptp.message and "indicator 0" in ptp.message and not result.billable


def test_ptp_edits_apply_only_to_payers_that_use_ncci() -> None:
    crisis = scrub_input("A", COMMERCIAL, time(9), service="crisis", minutes=60)
    group = scrub_input("B", COMMERCIAL, time(14), service="group", minutes=60)
    assert not any("NCCI-PTP" in rules_of(r) for r in scrub_all(crisis, group))


def test_a_ptp_pair_with_indicator_1_needs_a_distinct_service_modifier() -> None:
    def day(start_a: time | None, start_b: time | None) -> list[ScrubResult]:
        return scrub_all(
            scrub_input("A", MEDICAID, start_a, service="test_administration", minutes=60, credential="PhD"),
            scrub_input("B", MEDICAID, start_b, service="test_administration_technician", minutes=60, credential="PhD"),
        )

    _, together = day(None, None)
    assert "NCCI-PTP" in rules_of(together) and not together.billable
    _, separate = day(time(9), time(13))
    assert "NCCI-PTP-MODIFIER" in rules_of(separate) and separate.billable
    assert [(line.cpt, line.modifiers) for line in separate.lines] == [("96138", ("XE",)), ("96139", ())]
    # a 59/X{EPSU} already on the column-2 line (e.g. set in charge review) passes silently
    coded = code_session(facts(service="test_administration_technician", minutes=30, credential="PhD"), MEDICAID.rules)
    marked = CodingResult(tuple(replace(line, modifiers=("XS",)) for line in coded.lines), ())
    _, passed = scrub_all(
        scrub_input("A", MEDICAID, None, service="test_administration", minutes=30, credential="PhD"),
        scrub_input("B", MEDICAID, None, coding=marked, service="test_administration_technician", minutes=30),
    )
    assert not {"NCCI-PTP", "NCCI-PTP-MODIFIER"} & set(rules_of(passed))


@pytest.mark.parametrize("minutes, blocks, error", [(164, 3, False), (165, 4, True)])
def test_units_above_the_mue_are_an_error_naming_the_limit(minutes: int, blocks: int, error: bool) -> None:
    (result,) = scrub_all(scrub_input("A", MEDICARE, service="crisis", minutes=minutes))
    assert ("90840", blocks) in [(line.cpt, line.units) for line in result.lines]
    mue = [f for f in result.findings if f.rule == "NCCI-MUE"]
    assert bool(mue) == error
    if error:
        assert "limit of 3" in mue[0].message and "90840: 4 units" in mue[0].message


def test_the_96127_mue_counts_every_session_of_the_day() -> None:
    one = scrub_input("A", MEDICARE, time(9), service="screening", minutes=0, screenings=2)
    two = scrub_input("B", MEDICARE, time(11), service="screening", minutes=0, screenings=2)
    assert any("96127: 4 units" in f.message for f in scrub_all(one, two)[1].findings)
    assert not any(f.rule == "NCCI-MUE" for r in scrub_all(one) for f in r.findings)


def test_the_payers_own_daily_unit_limit() -> None:
    morning = scrub_input("A", MCO, time(9), service="hcpcs", procedure="H2019", minutes=120)  # 8 units
    afternoon = scrub_input("B", MCO, time(14), service="hcpcs", procedure="H2019", minutes=128)  # 9 units
    _, result = scrub_all(morning, afternoon)
    assert any(f.rule == "PAYER-MAX-UNITS" and "limit of 16" in f.message for f in result.findings)
    assert not any(f.rule == "PAYER-MAX-UNITS" for f in scrub_all(morning)[0].findings)


# --- associates and supervision ---


def test_an_associate_renders_with_the_supervisor_in_2310d_for_a_medicaid_plan() -> None:
    (result,) = scrub_all(scrub_input("A", MCO, supervisor="1245319599", credential="LPC", associate=True))
    assert (result.rendering_npi, result.supervising_npi) == ("1234567893", "1245319599")
    assert "SUPERVISION-2310D" in rules_of(result) and result.billable
    assert result.lines[0].modifiers == ("HO", "HE")


def test_medicare_does_not_pay_for_an_associate() -> None:
    (result,) = scrub_all(scrub_input("A", MEDICARE, supervisor="1245319599", associate=True))
    assert "SUPERVISION-NOT-BILLABLE" in rules_of(result) and not result.billable


def test_a_payer_may_bill_an_associates_session_under_the_supervisor() -> None:
    payer = replace(COMMERCIAL, rules=rules_with(associate_billing="under_supervisor"))
    (result,) = scrub_all(scrub_input("A", payer, supervisor="1245319599", associate=True))
    assert (result.rendering_npi, result.supervising_npi) == ("1245319599", None)
    assert "SUPERVISION-UNDER-SUPERVISOR" in rules_of(result) and result.billable


def test_an_associate_without_a_supervisor_is_not_billable() -> None:
    (result,) = scrub_all(scrub_input("A", MCO, associate=True))
    assert "SUPERVISION-MISSING" in rules_of(result) and not result.billable


def test_a_licensed_clinician_renders_as_before() -> None:
    (result,) = scrub_all(scrub_input("A", MCO))
    assert (result.rendering_npi, result.supervising_npi) == ("1234567893", None)
    assert not any(r.startswith("SUPERVISION") for r in rules_of(result))


def test_default_policy_is_stable() -> None:
    assert CodingPolicy().associate_billing == "not_billable" and not CodingPolicy().ncci_edits
    assert PAYER_DEFAULTS["medicaid"].coding.associate_billing == "supervisor_2310d"
    assert LineDraft("H0004", (), 1, "11", (1,)).cpt == "H0004"


# --- testing split across dates ---


def _testing(ref: str, service: str, minutes: int, day: date) -> ScrubInput:
    return scrub_input(ref, COMMERCIAL, service=service, minutes=minutes, credential="PhD", date_of_service=day)


def test_evaluation_time_over_several_dates_is_reported_on_the_completion_date() -> None:
    days = [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    results = scrub_all(*(_testing(f"E{n}", "testing_evaluation", m, d) for n, (d, m) in
                          enumerate(zip(days, [20, 25, 50], strict=True))))  # fmt: skip
    assert [lines(r) for r in results] == [[], [], [("96130", (), 1), ("96131", (), 1)]]  # 95 minutes in all
    assert all("TESTING-ACROSS-DATES" in rules_of(r) for r in results)
    assert not any("CODE-TESTING-UNDER" in rules_of(r) for r in results)  # 20 minutes alone would be under 31


def test_administration_over_several_dates_takes_the_first_unit_once() -> None:
    days = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    results = scrub_all(*(_testing(f"A{n}", "test_administration", m, d) for n, (d, m) in
                          enumerate(zip(days, [10, 40, 40], strict=True))))  # fmt: skip
    assert [[(c, u) for c, _, u in lines(r)] for r in results] == [[], [("96136", 1), ("96137", 1)], [("96137", 1)]]


def test_testing_dates_more_than_30_days_apart_are_separate_episodes() -> None:
    first = scrub_input("A", COMMERCIAL, service="testing_evaluation", minutes=60, credential="PhD",
                        date_of_service=date(2026, 1, 2))  # fmt: skip
    later = scrub_input("B", COMMERCIAL, service="testing_evaluation", minutes=60, credential="PhD")
    assert [lines(r) for r in scrub_all(first, later)] == [[("96130", (), 1)], [("96130", (), 1)]]


def test_the_eight_minute_rule_bills_a_days_short_services_together_and_the_midpoint_rule_does_not() -> None:
    cms = replace(COMMERCIAL, rules=rules_with(fifteen_minute_rule="cms_8_minute"))
    morning = scrub_input("A", cms, time(9), service="hcpcs", procedure="H2019", minutes=33)
    noon = scrub_input("B", cms, time(12), service="hcpcs", procedure="H2017", minutes=8)
    first, second = scrub_all(morning, noon)
    assert lines(first) == [("H2019", (), 2)] and lines(second) == [("H2017", (), 1)]  # 41 minutes: 3 units
    twenty_each = [replace(x, facts=replace(x.facts, minutes=20)) for x in (morning, noon)]
    assert [lines(r) for r in scrub_all(*twenty_each)] == [[("H2019", (), 2)], [("H2017", (), 1)]]  # 40 min: 3 units
    midpoint = replace(COMMERCIAL, rules=rules_with(fifteen_minute_rule="midpoint"))
    a = scrub_input("A", midpoint, time(9), service="hcpcs", procedure="H2019", minutes=20)
    b = scrub_input("B", midpoint, time(12), service="hcpcs", procedure="H2017", minutes=20)
    assert [lines(r) for r in scrub_all(a, b)] == [[("H2019", (), 1)], [("H2017", (), 1)]]  # each code alone: 1 + 1
    same_code = scrub_all(scrub_input("A", cms, time(9), service="hcpcs", procedure="H2019", minutes=10),
                          scrub_input("B", cms, time(12), service="hcpcs", procedure="H2019", minutes=10))  # fmt: skip
    assert [lines(r) for r in same_code] == [[("H2019", (), 1)], []]  # 20 minutes of one code: 1 unit, billed once
    assert "EIGHT-MINUTE-DAY" in rules_of(same_code[1])
