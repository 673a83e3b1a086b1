"""ICD-10-CM checks (billing-rules.md 3.1-3.5): pure functions, no app and no database.

The code set is read once per test session, on the first check (about a second), and cached by the module.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import pytest

from backoffice.coding import icd10

FIRST_DAY, LAST_DAY = icd10.CODE_SET_EFFECTIVE
IN_FORCE = date(2026, 3, 2)

# billing-rules.md 3.2 (every code in the table) and 3.3 (the Z codes it names that are codes, not headers).
BILLABLE_MENTAL_HEALTH = [
    *("F32.0", "F32.1", "F32.2", "F32.3", "F32.4", "F32.5", "F32.81", "F32.89", "F32.9", "F32.A"),
    *("F33.0", "F33.1", "F33.2", "F33.3", "F33.40", "F33.41", "F33.42", "F33.8", "F33.9"),
    *("F41.0", "F41.1", "F41.9", "F43.0", "F43.10", "F43.11", "F43.12"),
    *("F43.20", "F43.21", "F43.22", "F43.23", "F43.24", "F43.25", "F43.29", "F43.81"),
    *("F90.0", "F90.1", "F90.2", "F90.8", "F90.9", "F84.0", "F99"),
]
BILLABLE_Z = [
    *("Z63.0", "Z63.1", "Z63.4", "Z63.5", "Z63.6", "Z63.72", "Z63.8", "Z63.9"),
    *("Z65.0", "Z65.1", "Z65.2", "Z65.3", "Z65.4", "Z65.5", "Z65.8", "Z65.9", "Z69.010", "Z69.011"),
    *("Z71.0", "Z71.1", "Z71.41", "Z71.42", "Z71.51", "Z71.52", "Z71.89", "Z71.9"),
]
# "Non-billable category headers (must never reach a claim)", 3.2.
HEADERS = ["F32", "F33", "F41", "F43", "F43.1", "F43.2", "F90", "F84"]


# --- The code set and its loading ---


def test_the_code_set_is_fiscal_year_2026_from_october_1_to_september_30() -> None:
    assert "FY2026" in icd10.CODE_SET_VERSION
    assert icd10.CODE_SET_EFFECTIVE == (FIRST_DAY, LAST_DAY) == (date(2025, 10, 1), date(2026, 9, 30))


def test_importing_the_module_neither_imports_the_package_nor_opens_its_data() -> None:
    # Run the module file on its own: backoffice/__init__.py builds the Flask app, which is not this module's doing.
    probe = f"""
import importlib.util, os, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
spec = importlib.util.spec_from_file_location("icd10_alone", {icd10.__file__!r})
module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
package_folder = os.sep + "simple_icd_10_cm" + os.sep
print("simple_icd_10_cm" in sys.modules, any(package_folder in path for path in opened))
print(any(os.path.basename(path).startswith("icd10") for path in opened))  # the hook sees files: its source or .pyc
print(module._code_set.cache_info().currsize)
print(sorted(name for name in ("flask", "sqlalchemy", "redis", "rq") if name in sys.modules))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split("\n")[:4] == ["False False", "True", "0", "[]"]


# --- Format (3.5) ---


@pytest.mark.parametrize(
    "code",
    [
        *("F32.A", "F4323", "Z63.0", "S52.001A", "U07.1"),  # the examples 3.5 marks valid
        *("F99", "f43.10", " F43.10 ", "F43.23\n", "c4a.0", "QA0.0101", "QA00101"),
    ],
)
def test_well_formed_codes_have_no_format_problem(code: str) -> None:
    assert icd10.format_problem(code) is None


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("F43.", "nothing after its decimal point"),  # the invalid examples of 3.5
        ("F3", "too short"),
        ("1F32", "must start with a letter"),
        ("F43.231234", "too long"),
        ("S52001AA", "too long"),  # 8 characters without a dot
        ("F", "too short"),
        ("", "empty"),
        ("   ", "empty"),
        ("FF3.1", "digit as its 2nd character"),
        ("QB0.1", "digit as its 2nd character"),  # QA0 is the one category with a letter there
        ("F4.31", "decimal point after the 3rd character"),
        (".F43", "decimal point after the 3rd character"),
        ("F43..1", "more than one decimal point"),
        ("F43 10", "only letters, digits and one decimal point"),
        ("F43-10", "only letters, digits and one decimal point"),
        ("F\uff143", "only letters, digits and one decimal point"),  # a full-width digit
    ],
)
def test_malformed_codes_name_what_is_wrong(code: str, problem: str) -> None:
    message = icd10.format_problem(code)
    assert message is not None and problem in message


def test_seven_characters_is_the_longest_code_and_three_the_shortest() -> None:
    assert icd10.format_problem("S52.001A") is None
    assert icd10.format_problem("S52.001AB") is not None
    assert icd10.format_problem("F99") is None
    assert icd10.format_problem("F9") is not None


def test_a_malformed_code_is_never_known_even_when_its_letters_spell_a_real_one() -> None:
    assert icd10.is_billable("F43.10")
    assert not icd10.is_known("F4.310")
    assert not icd10.is_billable("F4.310")
    assert icd10.billable_problem("F4.310", IN_FORCE) == icd10.format_problem("F4.310")


def test_normalize_strips_upper_cases_and_drops_the_dot() -> None:
    assert icd10.normalize("f43.10 ") == "F4310"
    assert icd10.normalize("Z63.0") == "Z630"
    assert icd10.normalize("F4323") == "F4323"


def test_display_puts_the_dot_after_the_third_character_and_only_there() -> None:
    assert icd10.display("F4310") == "F43.10"
    assert icd10.display("s52001a") == "S52.001A"
    assert icd10.display("F43.10") == "F43.10"
    assert icd10.display("F99") == "F99"


@pytest.mark.parametrize(("dotted", "undotted"), [("F43.23", "F4323"), ("Z63.0", "Z630"), ("F32.A", "F32A")])
def test_dotted_undotted_and_lower_case_spellings_are_the_same_code(dotted: str, undotted: str) -> None:
    for spelling in (dotted, undotted, dotted.lower(), f" {undotted.lower()} "):
        assert icd10.is_billable(spelling)
        assert icd10.description(spelling) == icd10.description(dotted)


def test_u_codes_are_special_purpose_codes_that_exist() -> None:
    assert icd10.is_billable("U07.1")
    assert icd10.description("U07.1") == "COVID-19"
    assert icd10.billable_problem("u071", IN_FORCE) is None


def test_the_qa0_genetic_disorder_codes_added_in_fy2026_are_billable_despite_their_second_letter() -> None:
    assert icd10.is_billable("QA0.0101")
    assert icd10.description("QA00101") == "SCN2A-related neurodevelopmental disorder"


# --- Billable codes and category headers (3.2, 3.3; 3.4 "highest specificity") ---


@pytest.mark.parametrize("code", BILLABLE_MENTAL_HEALTH + BILLABLE_Z)
def test_the_common_behavioral_health_codes_are_billable(code: str) -> None:
    assert icd10.is_known(code)
    assert icd10.is_billable(code)
    assert icd10.billable_problem(code, IN_FORCE) is None


@pytest.mark.parametrize("code", HEADERS)
def test_category_headers_are_known_but_never_billable(code: str) -> None:
    assert icd10.is_known(code)
    assert not icd10.is_billable(code)
    assert icd10.billable_problem(code, IN_FORCE).startswith(f"{code} is a category: use ")


def test_a_header_names_its_billable_children() -> None:
    assert icd10.billable_problem("F43.1", IN_FORCE) == "F43.1 is a category: use F43.10, F43.11 or F43.12"
    assert icd10.billable_problem("f431", IN_FORCE) == "F43.1 is a category: use F43.10, F43.11 or F43.12"
    assert icd10.billable_problem("Z69.0", IN_FORCE) == "Z69.0 is a category: use Z69.010, Z69.011, Z69.020 or Z69.021"


def test_a_header_with_many_children_names_how_many_and_the_first_few() -> None:
    message = icd10.billable_problem("F43", IN_FORCE)
    assert message == "F43 is a category: use one of its 14 billable codes (F43.0, F43.10, F43.11, F43.12, F43.20, ...)"


@pytest.mark.parametrize(("code", "children"), [("Z63.3", "Z63.31 or Z63.32"), ("Z63.7", "Z63.71, Z63.72 or Z63.79")])
def test_z_categories_that_billing_rules_lists_as_examples_are_headers_too(code: str, children: str) -> None:
    assert icd10.billable_problem(code, IN_FORCE) == f"{code} is a category: use {children}"


def test_a_three_character_code_without_subcategories_is_billable() -> None:
    assert icd10.is_billable("F99")
    assert not icd10.is_billable("F41")


def test_a_code_that_needs_a_seventh_character_is_a_header_without_it() -> None:
    assert not icd10.is_billable("S52.001")
    assert icd10.is_billable("S52.001A")
    assert "S52.001A" in icd10.billable_children("S52.001")


@pytest.mark.parametrize("code", ["F43.3", "F32.7", "F41.2", "F90.3", "F00", "Z63.99"])
def test_codes_that_do_not_exist_are_unknown(code: str) -> None:
    assert not icd10.is_known(code)
    assert not icd10.is_billable(code)
    assert icd10.billable_problem(code, IN_FORCE).startswith(f"{code} is not an ICD-10-CM code")


def test_a_seventh_character_code_missing_its_placeholder_x_suggests_the_real_code() -> None:
    assert "did you mean S02.0XXA" in icd10.billable_problem("S02.0A", IN_FORCE)
    assert "did you mean T36.0X1A" in icd10.billable_problem("T36.01A", IN_FORCE)
    assert icd10.is_billable("S02.0XXA")


def test_billable_children_are_the_leaves_below_a_header_in_code_order() -> None:
    assert icd10.billable_children("F43.1") == ("F43.10", "F43.11", "F43.12")
    f32 = icd10.billable_children("F32")
    assert f32[0] == "F32.0" and f32[-1] == "F32.A"
    assert "F32.81" in f32 and "F32.8" not in f32  # F32.8 is itself a header
    assert len(f32) == 10


@pytest.mark.parametrize("code", ["F41.1", "F43.3", "F4.31"])
def test_billable_children_of_a_leaf_an_unknown_or_a_malformed_code_are_none(code: str) -> None:
    assert icd10.billable_children(code) == ()


# --- Dated code sets (3.4 "codes are valid by fiscal year") ---


def test_the_first_and_last_day_of_the_fiscal_year_are_covered() -> None:
    assert icd10.covers(FIRST_DAY) and icd10.covers(LAST_DAY)
    assert icd10.billable_problem("F41.1", FIRST_DAY) is None
    assert icd10.billable_problem("F41.1", LAST_DAY) is None


@pytest.mark.parametrize("outside", [FIRST_DAY - timedelta(days=1), LAST_DAY + timedelta(days=1)])
def test_a_date_of_service_outside_the_fiscal_year_is_never_passed_silently(outside: date) -> None:
    assert not icd10.covers(outside)
    message = icd10.billable_problem("F41.1", outside)
    assert message == (
        f"F41.1 was not checked for the date of service {outside.isoformat()}: the code set used "
        f"({icd10.CODE_SET_VERSION}) covers 2025-10-01 to 2026-09-30 only"
    )


def test_outside_the_fiscal_year_a_header_is_still_named_with_the_caveat() -> None:
    message = icd10.billable_problem("F43.1", LAST_DAY + timedelta(days=1))
    assert message.startswith("F43.1 is a category: use F43.10, F43.11 or F43.12 (per ")
    assert "does not cover the date of service 2026-10-01" in message


def test_a_malformed_code_is_reported_as_malformed_whatever_the_date() -> None:
    assert icd10.billable_problem("F43.", LAST_DAY + timedelta(days=1)) == icd10.format_problem("F43.")


# --- Unspecified codes (3.4) ---


@pytest.mark.parametrize("code", ["F32.9", "F41.9", "F43.10", "F43.20", "F90.9", "F99"])
def test_the_unspecified_codes_billing_rules_names_are_unspecified(code: str) -> None:
    assert icd10.is_unspecified(code)


@pytest.mark.parametrize("code", ["F32.A", "F33.9", "F33.40", "F43.9", "Z63.9", "Z71.9"])
def test_every_code_titled_unspecified_is_unspecified(code: str) -> None:
    assert "unspecified" in icd10.description(code)
    assert icd10.is_unspecified(code)


@pytest.mark.parametrize("code", ["F32.89", "F41.8", "F43.29", "F43.89", "F90.8", "Z71.89"])
def test_other_specified_codes_are_not_unspecified_even_when_they_end_in_8_or_9(code: str) -> None:
    assert not icd10.is_unspecified(code)


@pytest.mark.parametrize("code", ["F41.1", "F43.23", "F33.1", "F90.0", "F84.0", "Z63.0", "F43.3", "F4.31"])
def test_specific_unknown_and_malformed_codes_are_not_unspecified(code: str) -> None:
    assert not icd10.is_unspecified(code)


# --- Excludes1 (3.4) ---


@pytest.mark.parametrize(
    ("code_a", "code_b"),
    [("F32.1", "F33.1"), ("F33.1", "F32.1"), ("F32.A", "F33.0"), ("F32.9", "F31.9"), ("F33.2", "F31.81")],
)
def test_excludes1_pairs_cannot_be_reported_together_in_either_order(code_a: str, code_b: str) -> None:
    message = icd10.excludes1_problem(code_a, code_b)
    assert message is not None
    assert message.startswith(f"{code_a} and {code_b} cannot be reported together: Excludes1 at ")


def test_an_excludes1_message_names_the_note_and_where_it_sits() -> None:
    assert icd10.excludes1_problem("F32.1", "F33.1") == (
        "F32.1 and F33.1 cannot be reported together: Excludes1 at F32: recurrent depressive disorder (F33.-)"
    )


def test_a_block_level_excludes1_note_applies_to_every_code_in_the_block() -> None:
    message = icd10.excludes1_problem("F70", "R41.83")
    assert message is not None and "Excludes1 at F70-F79" in message


@pytest.mark.parametrize(
    ("code_a", "code_b"),
    [
        ("F32.1", "F43.23"),  # F32 has adjustment disorder as Excludes2: both may be reported
        ("F41.1", "F43.23"),
        ("F33.1", "F41.1"),
        ("F41.1", "Z63.0"),
        ("F41.1", "F41.1"),  # a repeated code is another edit
        ("F32.1", "F43."),
    ],
)
def test_codes_without_an_excludes1_note_between_them_may_be_reported_together(code_a: str, code_b: str) -> None:
    assert icd10.excludes1_problem(code_a, code_b) is None


# --- Primary (first-pointer) diagnosis: the single-code part of 3.4 "claim pointer order" ---


@pytest.mark.parametrize("code", ["F02.80", "F02.A0", "Z91.83"])
def test_manifestation_codes_cannot_be_the_primary_diagnosis(code: str) -> None:
    assert icd10.is_manifestation(code)
    assert icd10.primary_problem(code).startswith(f"{code} is a manifestation code (")


@pytest.mark.parametrize("code", ["F41.1", "F43.23", "F01.50", "Z63.0"])
def test_other_codes_may_be_primary_here_z_codes_are_the_scrubbers_warning(code: str) -> None:
    assert not icd10.is_manifestation(code)
    assert icd10.primary_problem(code) is None


# --- Chapters: Z codes (3.3) and mental health F01-F99 (3.1) ---


@pytest.mark.parametrize(("code", "expected"), [("Z63.0", True), ("z71.89", True), ("F43.23", False), ("Z", False)])
def test_z_codes_are_chapter_21(code: str, expected: bool) -> None:
    assert icd10.is_z_code(code) is expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("F01.50", True), ("F43.23", True), ("F99", True), ("f90.0", True)]
    + [("F00", False), ("R45.851", False), ("G30.9", False), ("Z63.0", False), ("F4.31", False)],
)
def test_mental_health_codes_are_chapter_5_f01_to_f99_and_not_symptom_codes(code: str, expected: bool) -> None:
    assert icd10.is_mental_health(code) is expected


# --- Descriptions ---


def test_descriptions_are_the_code_set_titles() -> None:
    assert icd10.description("F41.1") == "Generalized anxiety disorder"
    assert icd10.description("F43.1") == "Post-traumatic stress disorder (PTSD)"


def test_seventh_character_codes_are_titled_as_in_the_cdc_code_file() -> None:
    expected = "Unspecified fracture of upper end of right ulna, initial encounter for closed fracture"
    assert icd10.description("S52.001A") == expected
    assert icd10.description("S02.0XXA") == "Fracture of vault of skull, initial encounter for closed fracture"
    # type I or II's sevenChrDef carries a second note; the CDC title stops before it
    assert icd10.description("S52.323B").endswith("initial encounter for open fracture type I or II")


@pytest.mark.parametrize("code", ["F43.3", "F4.31", ""])
def test_unknown_and_malformed_codes_have_no_description(code: str) -> None:
    assert icd10.description(code) is None
