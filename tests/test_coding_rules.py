"""Pure coding engine (billing-rules.md 1.1-1.7, 2.2-2.3, 3.4, 4.1): no app, no database."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.coding.rules import (
    PAYER_DEFAULTS,
    RULES,
    CodingResult,
    Finding,
    LineDraft,
    PayerRules,
    SessionFacts,
    TelehealthPolicy,
    code_session,
    crisis_lines,
    psychotherapy_addon_code,
    psychotherapy_code,
)

COMMERCIAL = PAYER_DEFAULTS["commercial"]
MEDICARE = PAYER_DEFAULTS["medicare"]
DOS = date(2026, 3, 2)
PRESCRIBERS = ("MD", "DO", "NP", "PA")
NON_PRESCRIBERS = ("PhD", "PsyD", "LCSW", "LPC", "LMFT", "LMHC")
RULE_IDS = {r.id for r in RULES}


def facts(**overrides: object) -> SessionFacts:
    values: dict[str, object] = {
        "service": "psychotherapy",
        "minutes": 53,
        "em_code": None,
        "modality": "in_person",
        "patient_location": "office",
        "interactive_complexity": False,
        "screenings": 0,
        "diagnoses": ("F41.1",),
        "credential": "LCSW",
        "date_of_service": DOS,
    }
    values.update(overrides)
    return SessionFacts(**values)  # type: ignore[arg-type]


def code(payer: PayerRules = COMMERCIAL, **overrides: object) -> CodingResult:
    return code_session(facts(**overrides), payer)


def cpts(result: CodingResult) -> list[str]:
    return [line.cpt for line in result.lines]


def rules_of(result: CodingResult) -> list[str]:
    return [f.rule for f in result.findings]


def finding(result: CodingResult, rule: str) -> Finding:
    (match,) = [f for f in result.findings if f.rule == rule]
    return match


def band(code_: str | None) -> int:
    return {None: 0, "90832": 1, "90833": 1, "90834": 2, "90836": 2, "90837": 3, "90838": 3}[code_]


# --- psychotherapy time bands (1.2) ---


@pytest.mark.parametrize(
    "minutes, expected",
    [(0, None), (15, None), (16, "90832"), (37, "90832"), (38, "90834"), (52, "90834"), (53, "90837"), (89, "90837")]
    + [(90, "90837"), (600, "90837")],
)
def test_psychotherapy_minutes_pick_the_band(minutes: int, expected: str | None) -> None:
    assert psychotherapy_code(minutes) == expected
    result = code(minutes=minutes)
    assert cpts(result) == ([] if expected is None else [expected])


def test_53_minutes_is_90837() -> None:
    result = code(minutes=53)
    assert result.lines == (LineDraft("90837", (), 1, "11", (1,)),)
    assert result.findings == () and result.billable


def test_15_minutes_of_psychotherapy_is_not_billable() -> None:
    result = code(minutes=15)
    assert result.lines == () and not result.billable
    assert finding(result, "CODE-TIME-UNDER-16").severity == "error"


def test_16_minutes_is_the_first_billable_minute() -> None:
    result = code(minutes=16)
    assert cpts(result) == ["90832"] and result.billable


def test_89_minutes_is_one_90837_without_review() -> None:
    result = code(minutes=89)
    assert cpts(result) == ["90837"] and result.findings == ()


def test_90_minutes_is_still_one_90837_flagged_for_extended_session_review() -> None:
    result = code(minutes=90)
    assert result.lines == (LineDraft("90837", (), 1, "11", (1,)),)
    assert finding(result, "CODE-TIME-EXTENDED").severity == "warning"
    assert result.billable


def test_a_three_hour_session_never_stacks_codes_or_units() -> None:
    result = code(minutes=180)
    assert [(line.cpt, line.units) for line in result.lines] == [("90837", 1)]


@pytest.mark.parametrize(
    "minutes, expected",
    [(15, None), (16, "90833"), (37, "90833"), (38, "90836"), (52, "90836"), (53, "90838"), (89, "90838")]
    + [(90, "90838")],
)
def test_psychotherapy_add_on_uses_the_same_bands(minutes: int, expected: str | None) -> None:
    assert psychotherapy_addon_code(minutes) == expected


@given(st.integers(min_value=0, max_value=600))
def test_time_bands_hold_for_every_minute_up_to_600(minutes: int) -> None:
    primary = psychotherapy_code(minutes)
    assert (primary is None) == (minutes < 16)
    assert band(psychotherapy_addon_code(minutes)) == band(primary)
    assert band(psychotherapy_code(minutes + 1)) >= band(primary)
    result = code(minutes=minutes)
    timed = [c for c in cpts(result) if c in {"90832", "90834", "90837"}]
    assert len(timed) == (0 if minutes < 16 else 1)
    assert all(line.units == 1 for line in result.lines)


def test_time_bands_are_monotone_over_every_minute_from_0_to_600() -> None:
    bands = [band(psychotherapy_code(m)) for m in range(601)]
    assert bands == sorted(bands)
    assert bands == [band(psychotherapy_addon_code(m)) for m in range(601)]
    assert [bands.index(b) for b in (1, 2, 3)] == [16, 38, 53]


# --- E/M and E/M + psychotherapy (1.5) ---

EM_CODES = ("99202", "99203", "99204", "99205", "99211", "99212", "99213", "99214", "99215")


@pytest.mark.parametrize("em_code", EM_CODES)
def test_every_office_em_code_is_billed_alone_for_an_em_service(em_code: str) -> None:
    result = code(service="em", em_code=em_code, credential="MD", minutes=40)
    assert cpts(result) == [em_code] and result.billable


@pytest.mark.parametrize("em_code", ["99201", "99206", "99210", "99216", "99221", "90834", "9921", "99213 "])
def test_an_em_code_outside_the_office_set_is_an_error(em_code: str) -> None:
    for service in ("em", "em_psychotherapy"):
        result = code(service=service, em_code=em_code, credential="MD", minutes=40)
        assert result.lines == () and rules_of(result) == ["CODE-EM-INVALID"]


@pytest.mark.parametrize("em_code", [None, ""])
def test_an_em_service_without_an_em_code_is_an_error(em_code: str | None) -> None:
    result = code(service="em_psychotherapy", em_code=em_code, credential="MD")
    assert result.lines == () and rules_of(result) == ["CODE-EM-MISSING"]


@pytest.mark.parametrize(
    "minutes, addon", [(16, "90833"), (37, "90833"), (38, "90836"), (52, "90836"), (53, "90838"), (89, "90838")]
)
def test_em_with_psychotherapy_adds_the_add_on_chosen_by_psychotherapy_minutes(minutes: int, addon: str) -> None:
    for em_code in ("99212", "99215", "99203"):
        result = code(service="em_psychotherapy", em_code=em_code, minutes=minutes, credential="NP")
        assert cpts(result) == [em_code, addon]
        assert result.findings == () and result.billable


def test_em_with_15_psychotherapy_minutes_bills_the_em_alone_with_a_warning() -> None:
    result = code(service="em_psychotherapy", em_code="99214", minutes=15, credential="MD")
    assert cpts(result) == ["99214"]
    assert finding(result, "CODE-ADDON-UNDER-16").severity == "warning"
    assert result.billable


def test_em_with_90_psychotherapy_minutes_is_one_90838_flagged_for_review() -> None:
    result = code(service="em_psychotherapy", em_code="99213", minutes=90, credential="MD")
    assert cpts(result) == ["99213", "90838"] and rules_of(result) == ["CODE-TIME-EXTENDED"]


def test_em_alone_ignores_minutes() -> None:
    assert cpts(code(service="em", em_code="99213", minutes=60, credential="MD")) == ["99213"]


def test_99211_with_a_psychotherapy_add_on_is_an_error_by_default() -> None:
    result = code(service="em_psychotherapy", em_code="99211", minutes=30, credential="MD")
    assert cpts(result) == ["99211", "90833"]  # listed so the biller sees them
    assert finding(result, "CODE-EM-99211-ADDON").severity == "error" and not result.billable


def test_99211_with_an_add_on_is_fine_for_a_payer_that_allows_it() -> None:
    payer = dataclasses.replace(COMMERCIAL, allows_99211_with_addon=True)
    result = code(payer, service="em_psychotherapy", em_code="99211", minutes=30, credential="MD")
    assert cpts(result) == ["99211", "90833"] and result.billable


def test_99211_without_an_add_on_is_fine() -> None:
    assert code(service="em", em_code="99211", credential="MD").billable
    result = code(service="em_psychotherapy", em_code="99211", minutes=10, credential="MD")
    assert rules_of(result) == ["CODE-ADDON-UNDER-16"] and result.billable


@pytest.mark.parametrize("service", ["psychotherapy", "intake", "crisis", "family_with_patient", "group"])
def test_an_em_code_on_a_service_without_em_is_not_billed_and_warns(service: str) -> None:
    result = code(service=service, em_code="99213", minutes=60)
    assert "99213" not in cpts(result)
    assert finding(result, "CODE-EM-IGNORED").severity == "warning" and result.billable


# --- crisis (1.3) ---


@pytest.mark.parametrize(
    "minutes, expected",
    [(29, ()), (30, (("90839", 1),)), (74, (("90839", 1),)), (75, (("90839", 1), ("90840", 1)))]
    + [(104, (("90839", 1), ("90840", 1))), (105, (("90839", 1), ("90840", 2))), (134, (("90839", 1), ("90840", 2)))]
    + [(135, (("90839", 1), ("90840", 3))), (164, (("90839", 1), ("90840", 3))), (165, (("90839", 1), ("90840", 4)))],
)
def test_crisis_minutes_follow_the_documented_table(minutes: int, expected: tuple[tuple[str, int], ...]) -> None:
    assert crisis_lines(minutes) == expected
    if expected:
        result = code(service="crisis", minutes=minutes)
        assert [(line.cpt, line.units) for line in result.lines] == list(expected)
        assert result.findings == ()


@given(st.integers(min_value=75, max_value=600))
def test_90840_units_are_the_ceiling_of_blocks_past_74_minutes(minutes: int) -> None:
    (first, addon) = crisis_lines(minutes)
    assert first == ("90839", 1) and addon[0] == "90840"
    assert 74 + 30 * (addon[1] - 1) < minutes <= 74 + 30 * addon[1]


@pytest.mark.parametrize("minutes, expected", [(16, "90832"), (29, "90832")])
def test_crisis_under_30_minutes_is_coded_as_regular_psychotherapy_with_a_warning(minutes: int, expected: str) -> None:
    result = code(service="crisis", minutes=minutes)
    assert cpts(result) == [expected]
    assert finding(result, "CODE-CRISIS-UNDER-30").severity == "warning" and result.billable


def test_crisis_under_16_minutes_is_not_billable_at_all() -> None:
    result = code(service="crisis", minutes=15)
    assert result.lines == () and not result.billable
    assert rules_of(result) == ["CODE-CRISIS-UNDER-30", "CODE-TIME-UNDER-16"]


# --- family, group, intake (1.1, 1.2) ---


@pytest.mark.parametrize("service, cpt", [("family_without_patient", "90846"), ("family_with_patient", "90847")])
def test_family_psychotherapy_needs_26_minutes(service: str, cpt: str) -> None:
    short = code(service=service, minutes=25)
    assert short.lines == () and finding(short, "CODE-FAMILY-UNDER-26").severity == "error" and not short.billable
    for minutes in (26, 50, 120):
        assert cpts(code(service=service, minutes=minutes)) == [cpt]


@pytest.mark.parametrize(
    "service, credential, cpt",
    [("group", "LPC", "90853"), ("intake", "LMFT", "90791"), ("intake_medical", "DO", "90792")],
)
def test_untimed_services_have_one_code_whatever_the_minutes(service: str, credential: str, cpt: str) -> None:
    for minutes in (0, 10, 60, 200):
        result = code(service=service, minutes=minutes, credential=credential)
        assert [(line.cpt, line.units) for line in result.lines] == [(cpt, 1)] and result.billable


def test_an_unknown_service_is_an_error() -> None:
    result = code(service="psychoanalysis")
    assert result.lines == () and rules_of(result) == ["CODE-SERVICE-UNKNOWN"]


def test_negative_minutes_are_an_error() -> None:
    assert "CODE-MINUTES-NEGATIVE" in rules_of(code(minutes=-1))
    assert not code(service="intake", minutes=-5).billable


# --- interactive complexity (1.4) ---


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"service": "intake"}, ["90791", "90785"]),
        ({"service": "intake_medical", "credential": "MD"}, ["90792", "90785"]),
        ({"service": "psychotherapy", "minutes": 16}, ["90832", "90785"]),
        ({"service": "psychotherapy", "minutes": 38}, ["90834", "90785"]),
        ({"service": "psychotherapy", "minutes": 53}, ["90837", "90785"]),
        (
            {"service": "em_psychotherapy", "em_code": "99213", "minutes": 16, "credential": "MD"},
            ["99213", "90833", "90785"],
        ),
        (
            {"service": "em_psychotherapy", "em_code": "99214", "minutes": 38, "credential": "MD"},
            ["99214", "90836", "90785"],
        ),
        (
            {"service": "em_psychotherapy", "em_code": "99215", "minutes": 53, "credential": "MD"},
            ["99215", "90838", "90785"],
        ),
        ({"service": "group"}, ["90853", "90785"]),
    ],
)
def test_interactive_complexity_follows_every_allowed_primary(
    overrides: dict[str, object], expected: list[str]
) -> None:
    result = code(interactive_complexity=True, **overrides)
    assert cpts(result) == expected and result.findings == ()
    assert result.lines[-1].units == 1


@pytest.mark.parametrize(
    "overrides, expected, rule",
    [
        ({"service": "crisis", "minutes": 30}, ["90839"], "CODE-90785-WITH-CRISIS"),
        ({"service": "crisis", "minutes": 80}, ["90839", "90840"], "CODE-90785-WITH-CRISIS"),
        ({"service": "family_with_patient", "minutes": 50}, ["90847"], "CODE-90785-WITH-FAMILY"),
        ({"service": "family_without_patient", "minutes": 50}, ["90846"], "CODE-90785-WITH-FAMILY"),
        ({"service": "em", "em_code": "99214", "credential": "MD"}, ["99214"], "CODE-90785-EM-WITHOUT-ADDON"),
        (
            {"service": "em_psychotherapy", "em_code": "99214", "minutes": 10, "credential": "MD"},
            ["99214"],
            "CODE-90785-EM-WITHOUT-ADDON",
        ),
        ({"service": "psychotherapy", "minutes": 10}, [], "CODE-90785-NO-PRIMARY"),
        ({"service": "family_with_patient", "minutes": 20}, [], "CODE-90785-NO-PRIMARY"),
        ({"service": "em", "em_code": "99299", "credential": "MD"}, [], "CODE-90785-NO-PRIMARY"),
        ({"service": "psychotherapy", "minutes": 10, "screenings": 2}, ["96127"], "CODE-90785-NO-PRIMARY"),
    ],
)
def test_interactive_complexity_is_left_off_every_forbidden_primary_with_a_warning(
    overrides: dict[str, object], expected: list[str], rule: str
) -> None:
    result = code(interactive_complexity=True, **overrides)
    assert cpts(result) == expected
    assert finding(result, rule).severity == "warning"


def test_interactive_complexity_may_join_a_short_crisis_recoded_as_90832() -> None:
    result = code(service="crisis", minutes=25, interactive_complexity=True)
    assert cpts(result) == ["90832", "90785"] and rules_of(result) == ["CODE-CRISIS-UNDER-30"]


def test_interactive_complexity_not_requested_adds_nothing() -> None:
    assert cpts(code(service="intake", interactive_complexity=False)) == ["90791"]


# --- 96127 screenings (1.1) ---


@pytest.mark.parametrize("screenings, units", [(1, 1), (3, 3), (4, 4)])
def test_96127_units_are_the_number_of_instruments(screenings: int, units: int) -> None:
    result = code(screenings=screenings)
    assert [(line.cpt, line.units) for line in result.lines] == [("90837", 1), ("96127", units)]
    assert result.findings == ()


def test_no_screenings_means_no_96127_line() -> None:
    assert cpts(code(screenings=0)) == ["90837"]


def test_96127_units_above_the_payer_cap_are_capped_with_a_warning() -> None:
    result = code(screenings=5)
    assert result.lines[-1] == LineDraft("96127", (), 4, "11", (1,))
    warning = finding(result, "CODE-96127-CAPPED")
    assert warning.severity == "warning" and "at most 4" in warning.message and result.billable


def test_96127_cap_comes_from_the_payer() -> None:
    payer = dataclasses.replace(COMMERCIAL, max_96127_units=3)
    assert code(payer, screenings=3).lines[-1].units == 3 and code(payer, screenings=3).findings == ()
    assert code(payer, screenings=4).lines[-1].units == 3


def test_a_payer_that_caps_96127_at_zero_gets_no_96127_line() -> None:
    result = code(dataclasses.replace(COMMERCIAL, max_96127_units=0), screenings=2)
    assert cpts(result) == ["90837"] and rules_of(result) == ["CODE-96127-CAPPED"]


def test_96127_can_be_billed_without_a_psychotherapy_primary_by_anyone() -> None:
    result = code(service="em", em_code="99213", credential="PA", screenings=2)
    assert cpts(result) == ["99213", "96127"] and result.billable


def test_negative_screenings_are_an_error() -> None:
    result = code(screenings=-1)
    assert cpts(result) == ["90837"] and rules_of(result) == ["CODE-SCREENINGS-NEGATIVE"]


# --- credentials (1.7) ---

PRESCRIBER_SERVICES = [
    ({"service": "em", "em_code": "99213"}, ["99213"]),
    ({"service": "em_psychotherapy", "em_code": "99213", "minutes": 30}, ["99213", "90833"]),
    ({"service": "intake_medical"}, ["90792"]),
]


@pytest.mark.parametrize("credential", PRESCRIBERS)
@pytest.mark.parametrize("overrides, expected", PRESCRIBER_SERVICES)
def test_prescribers_bill_em_90792_and_add_ons(credential: str, overrides: dict[str, object], expected: list) -> None:
    result = code(credential=credential, **overrides)
    assert cpts(result) == expected and result.billable


@pytest.mark.parametrize("credential", NON_PRESCRIBERS)
@pytest.mark.parametrize("overrides, expected", PRESCRIBER_SERVICES)
def test_non_prescribers_never_bill_em_90792_or_add_ons(
    credential: str, overrides: dict[str, object], expected: list
) -> None:
    result = code(credential=credential, **overrides)
    assert cpts(result) == expected  # still listed so the biller sees what was refused
    assert finding(result, "CODE-CRED-PRESCRIBER-ONLY").severity == "error" and not result.billable


@pytest.mark.parametrize("credential", PRESCRIBERS + NON_PRESCRIBERS)
@pytest.mark.parametrize(
    "service, minutes",
    [("intake", 60), ("psychotherapy", 45), ("crisis", 60), ("family_with_patient", 50), ("family_without_patient", 50)]
    + [("group", 60)],
)
def test_every_credential_bills_intake_psychotherapy_crisis_family_and_group(
    credential: str, service: str, minutes: int
) -> None:
    assert code(credential=credential, service=service, minutes=minutes, screenings=1).billable


def test_an_unknown_credential_is_an_error() -> None:
    result = code(credential="RN")
    assert rules_of(result) == ["CODE-CRED-UNKNOWN"] and not result.billable


# --- place of service and telehealth modifiers (2.2, 2.3) ---


def expected_place(kind: str, modality: str, location: str) -> tuple[str, tuple[str, ...]]:
    """The documented defaults, written out independently of PAYER_DEFAULTS."""
    if modality == "in_person":
        return {"office": "11", "home": "12", "other": "11"}[location], ()
    pos = "10" if location == "home" else "02"
    if modality == "audio_only":
        return pos, ("93",)
    return pos, (() if kind == "medicare" else ("95",))


@pytest.mark.parametrize("kind", sorted(PAYER_DEFAULTS))
@pytest.mark.parametrize("modality", ["in_person", "video", "audio_only"])
@pytest.mark.parametrize("location", ["office", "home", "other"])
def test_pos_and_modifiers_per_modality_location_and_payer_kind(kind: str, modality: str, location: str) -> None:
    result = code(PAYER_DEFAULTS[kind], modality=modality, patient_location=location)
    pos, modifiers = expected_place(kind, modality, location)
    assert [(line.pos, line.modifiers) for line in result.lines] == [(pos, modifiers)]


def test_medicare_video_has_no_95_and_everyone_else_sends_95() -> None:
    assert MEDICARE.telehealth.video_modifier is None
    assert MEDICARE.telehealth.audio_only_modifier == "93"
    for kind in ("medicaid", "commercial", "behavioral_health_carve_out", "self_pay"):
        assert PAYER_DEFAULTS[kind].telehealth.video_modifier == "95"
        assert PAYER_DEFAULTS[kind].telehealth.audio_only_modifier == "93"
        assert PAYER_DEFAULTS[kind].kind == kind


def test_telehealth_modifiers_go_on_every_line_including_add_ons_and_96127() -> None:
    result = code(
        service="em_psychotherapy",
        em_code="99214",
        minutes=40,
        credential="MD",
        interactive_complexity=True,
        screenings=2,
        modality="video",
        patient_location="home",
    )
    assert cpts(result) == ["99214", "90836", "90785", "96127"]
    # 25 on the E/M (96127 is separately identifiable), before the telehealth modifier (issue 21)
    assert [(line.pos, line.modifiers) for line in result.lines] == [("10", ("25", "95"))] + [("10", ("95",))] * 3


def test_crisis_add_on_carries_the_audio_only_modifier_too() -> None:
    result = code(service="crisis", minutes=100, modality="audio_only", patient_location="home")
    assert [line.modifiers for line in result.lines] == [("93",), ("93",)]


def test_audio_only_for_a_payer_that_does_not_cover_it_is_an_error() -> None:
    payer = PayerRules("commercial", TelehealthPolicy(audio_only_allowed=False))
    result = code(payer, modality="audio_only", patient_location="home")
    assert finding(result, "CODE-TELE-AUDIO-NOT-COVERED").severity == "error" and not result.billable
    assert code(payer, modality="video", patient_location="home").billable


@pytest.mark.parametrize("location, billable", [("home", True), ("office", False), ("other", False)])
def test_medicare_audio_only_needs_the_patient_at_home(location: str, billable: bool) -> None:
    result = code(MEDICARE, modality="audio_only", patient_location=location)
    assert result.billable is billable
    assert ("CODE-TELE-AUDIO-NOT-HOME" in rules_of(result)) is not billable
    assert code(COMMERCIAL, modality="audio_only", patient_location=location).billable


def test_an_audio_only_session_never_goes_out_with_95() -> None:
    payer = PayerRules("commercial", TelehealthPolicy(audio_only_modifier="95"))
    result = code(payer, modality="audio_only", patient_location="home")
    assert finding(result, "CODE-TELE-AUDIO-95").severity == "error" and not result.billable


def test_pos_and_modifiers_come_from_the_payer_table() -> None:
    # e.g. NGS reads a car or workplace as home (POS 10); some commercial payers want the in-person POS + GT.
    payer = PayerRules("medicaid", TelehealthPolicy(video_modifier="GT", home_pos="11", other_pos="10"))
    assert code(payer, modality="video", patient_location="other").lines[0] == LineDraft(
        "90837", ("GT",), 1, "10", (1,)
    )
    assert code(payer, modality="video", patient_location="home").lines[0].pos == "11"
    no_modifiers = PayerRules("commercial", TelehealthPolicy(video_modifier=None, audio_only_modifier=None))
    assert code(no_modifiers, modality="audio_only", patient_location="home").lines[0].modifiers == ()


def test_in_person_outside_office_and_home_assumes_pos_11_with_a_warning() -> None:
    result = code(modality="in_person", patient_location="other")
    assert result.lines[0].pos == "11" and rules_of(result) == ["CODE-POS-IN-PERSON-OTHER"] and result.billable


@pytest.mark.parametrize(
    "day, warned", [(date(2027, 12, 31), False), (date(2028, 1, 1), True), (date(2030, 6, 1), True)]
)
def test_medicare_tele_mental_health_needs_an_in_person_visit_from_2028(day: date, warned: bool) -> None:
    for modality in ("video", "audio_only"):
        result = code(MEDICARE, modality=modality, patient_location="home", date_of_service=day)
        assert ("CODE-TELE-IN-PERSON-VISIT" in rules_of(result)) is warned and result.billable
    assert code(MEDICARE, modality="in_person", date_of_service=day).findings == ()
    assert code(COMMERCIAL, modality="video", patient_location="home", date_of_service=day).findings == ()


def test_unknown_modality_and_location_are_errors() -> None:
    assert rules_of(code(modality="phone")) == ["CODE-MODALITY-UNKNOWN"]
    assert rules_of(code(patient_location="car")) == ["CODE-LOCATION-UNKNOWN"]


# --- diagnosis pointers (3.4, 4.1) ---


@pytest.mark.parametrize(
    "count, pointers",
    [(1, (1,)), (2, (1, 2)), (3, (1, 2, 3)), (4, (1, 2, 3, 4)), (5, (1, 2, 3, 4)), (12, (1, 2, 3, 4))],
)
def test_every_line_points_at_the_first_four_diagnoses_in_order(count: int, pointers: tuple[int, ...]) -> None:
    diagnoses = tuple(f"F4{i % 10}.{i}" for i in range(count))
    result = code(diagnoses=diagnoses, interactive_complexity=True, screenings=1)
    assert [line.diagnosis_pointers for line in result.lines] == [pointers] * 3
    assert result.billable


def test_no_diagnosis_is_an_error() -> None:
    result = code(diagnoses=())
    assert rules_of(result) == ["CODE-DX-NONE"] and not result.billable


def test_more_than_12_diagnoses_is_an_error() -> None:
    result = code(diagnoses=tuple(f"F4{i % 10}.{i}" for i in range(13)))
    assert rules_of(result) == ["CODE-DX-OVER-12"] and not result.billable


# --- result shape, catalogue and invariants ---


def test_lines_come_primary_then_add_ons_then_interactive_complexity_then_96127() -> None:
    em = code(service="em_psychotherapy", em_code="99212", minutes=20, credential="MD", interactive_complexity=True)
    assert cpts(em) == ["99212", "90833", "90785"]
    assert cpts(code(service="crisis", minutes=120, screenings=1)) == ["90839", "90840", "96127"]
    assert cpts(code(service="intake", interactive_complexity=True, screenings=3)) == ["90791", "90785", "96127"]


def test_billable_needs_a_line_and_no_error() -> None:
    assert CodingResult((), ()).billable is False
    line = LineDraft("90837", (), 1, "11", (1,))
    warning = Finding("X", "warning", "m", "minutes", "f")
    assert CodingResult((line,), (warning,)).billable is True
    assert CodingResult((line,), (dataclasses.replace(warning, severity="error"),)).billable is False


def test_the_catalogue_has_unique_ids_and_cites_the_billing_rules() -> None:
    assert len(RULE_IDS) == len(RULES)
    for rule in RULES:
        assert rule.severity in {"error", "warning"}
        # billing-rules, or (issue 21) the CMS/CPT/APA publication or the payer-policy key the rule enforces
        assert rule.source.startswith(("billing-rules ", "CMS ", "APA ", "payer coding policy"))
        assert rule.message_template.startswith(rule.field)  # the message names the field
        assert rule.fix


def test_payer_defaults_cover_every_payer_kind() -> None:
    assert set(PAYER_DEFAULTS) == {"medicare", "medicaid", "commercial", "behavioral_health_carve_out", "self_pay",
                                   "medicare_advantage", "medicaid_managed_care"}  # fmt: skip
    assert all(not payer.allows_99211_with_addon for payer in PAYER_DEFAULTS.values())
    assert MEDICARE.separate_session_modifier == "XE" and COMMERCIAL.separate_session_modifier == "59"


SERVICES = st.sampled_from(
    ["psychotherapy", "intake", "intake_medical", "crisis", "family_with_patient", "family_without_patient"]
    + ["group", "em", "em_psychotherapy", "unknown"]
)
SESSION_FACTS = st.builds(
    SessionFacts,
    service=SERVICES,
    minutes=st.integers(min_value=-5, max_value=600),
    em_code=st.sampled_from([None, "", "99211", "99213", "99205", "99201"]),
    modality=st.sampled_from(["in_person", "video", "audio_only", "fax"]),
    patient_location=st.sampled_from(["office", "home", "other", "car"]),
    interactive_complexity=st.booleans(),
    screenings=st.integers(min_value=-1, max_value=9),
    diagnoses=st.lists(st.sampled_from(["F41.1", "F4323", "Z63.0", "F90.2"]), max_size=14).map(tuple),
    credential=st.sampled_from(PRESCRIBERS + NON_PRESCRIBERS + ("RN",)),
    date_of_service=st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 12, 31)),
)


@settings(max_examples=100, deadline=None)
@given(SESSION_FACTS, st.sampled_from(sorted(PAYER_DEFAULTS)))
def test_any_session_codes_to_a_well_formed_result(session: SessionFacts, kind: str) -> None:
    result = code_session(session, PAYER_DEFAULTS[kind])
    codes = cpts(result)
    assert len(set(codes)) == len(codes)  # no code twice
    assert sum(c in {"90832", "90834", "90837", "90833", "90836", "90838", "90839"} for c in codes) <= 1
    assert codes.count("90785") == 0 or codes.index("90785") == len(codes) - 1 - codes.count("96127")
    for line in result.lines:
        assert line.units >= 1 and len(line.modifiers) <= 4 and len(line.diagnosis_pointers) <= 4
        assert line.diagnosis_pointers == tuple(range(1, len(line.diagnosis_pointers) + 1))
    for f in result.findings:
        assert f.rule in RULE_IDS and f.message.startswith(f.field)
        assert not any(dx in f.message for dx in session.diagnoses)  # never patient data
    assert result.billable == (bool(codes) and all(f.severity == "warning" for f in result.findings))
    assert code_session(session, PAYER_DEFAULTS[kind]) == result  # pure
