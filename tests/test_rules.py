"""Pure rules, no app and no database: NPI check digits, SLA due dates and badges, claim lifecycle, filters."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backoffice.calendars import is_business_day, us_federal_holidays
from backoffice.claims.rules import TRANSITIONS, ClaimStatus, can_move
from backoffice.filters import label, local_datetime, money
from backoffice.orgs.rules import complete_npi, is_prescriber, npi_check_digit, npi_is_valid, npi_problem
from backoffice.work import rules
from backoffice.work.rules import SlaPolicy, WorkKind

NY = ZoneInfo("America/New_York")
LA = ZoneInfo("America/Los_Angeles")


# --- NPI (billing-rules.md 4.3) ---


def test_cms_worked_example_npi_is_valid_and_its_neighbour_is_not() -> None:
    assert npi_check_digit("123456789") == 3
    assert npi_is_valid("1234567893")
    assert not npi_is_valid("1234567890")


def test_public_example_npi_1558598797_is_valid() -> None:
    assert npi_is_valid("1558598797")


def test_npi_matches_luhn_over_the_80840_prefixed_string() -> None:
    def luhn_ok(digits: str) -> bool:
        total = 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        return total % 10 == 0

    rng = random.Random(4)
    for _ in range(2000):
        base = str(rng.choice("12")) + "".join(rng.choice("0123456789") for _ in range(8))
        npi = complete_npi(base)
        assert luhn_ok("80840" + npi)
        assert npi_is_valid(npi)


def test_any_single_digit_change_breaks_the_npi() -> None:
    npi = "1234567893"
    for position in range(1, 10):
        for digit in "0123456789":
            if digit != npi[position]:
                assert not npi_is_valid(npi[:position] + digit + npi[position + 1 :])


@pytest.mark.parametrize(
    "npi, problem",
    [
        ("123456789", "exactly 10 digits"),
        ("12345678931", "exactly 10 digits"),
        ("12345A7893", "exactly 10 digits"),
        ("3234567893", "start with 1"),
        ("1234567890", "check digit is wrong (expected 3)"),
        ("1234567893", None),
    ],
)
def test_npi_problem_names_the_rule(npi: str, problem: str | None) -> None:
    result = npi_problem(npi)
    assert result is None if problem is None else problem in result


@pytest.mark.parametrize(
    "credential, expected",
    [
        ("MD", True),
        ("DO", True),
        ("NP", True),
        ("PA", True),
        ("PhD", False),
        ("PsyD", False),
        ("LCSW", False),
        ("LPC", False),
        ("LMFT", False),
    ],
)
def test_only_prescribers_may_bill_medical_services(credential: str, expected: bool) -> None:
    assert is_prescriber(credential) is expected


# --- business days and SLA ---


def test_us_federal_holidays_include_observed_days() -> None:
    holidays_2026 = us_federal_holidays(2026)
    assert date(2026, 11, 26) in holidays_2026  # Thanksgiving
    assert date(2026, 7, 3) in holidays_2026  # July 4th falls on Saturday: observed Friday
    assert not is_business_day(date(2026, 11, 28))  # Saturday
    assert is_business_day(date(2026, 11, 27))  # the day after Thanksgiving is not a federal holiday


@pytest.mark.parametrize(
    "start, days, expected",
    [
        (date(2026, 11, 20), 1, date(2026, 11, 23)),  # Friday + 1 → Monday
        (date(2026, 11, 25), 1, date(2026, 11, 27)),  # Wednesday + 1 skips Thanksgiving
        (date(2026, 12, 24), 1, date(2026, 12, 28)),  # Christmas Friday, then the weekend
        (date(2026, 11, 28), 0, date(2026, 11, 30)),  # zero days from a Saturday: the next business day
        (date(2026, 11, 18), 5, date(2026, 11, 25)),
    ],
)
def test_add_business_days(start: date, days: int, expected: date) -> None:
    assert rules.add_business_days(start, days, is_business_day) == expected


def test_due_at_is_close_of_business_in_the_practices_time_zone() -> None:
    ready = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    policy = SlaPolicy("default:enter_charge:1bd", 1)
    assert rules.sla_due_at(ready, policy, NY, is_business_day) == datetime(2026, 11, 19, 22, 0, tzinfo=UTC)
    assert rules.sla_due_at(ready, policy, LA, is_business_day) == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_an_item_ready_late_in_the_evening_counts_from_the_local_date() -> None:
    # 02:00 UTC Thursday is still Wednesday 21:00 in New York.
    ready = datetime(2026, 11, 19, 2, 0, tzinfo=UTC)
    due = rules.sla_due_at(ready, SlaPolicy("x", 1), NY, is_business_day)
    assert due.astimezone(NY) == datetime(2026, 11, 19, 17, 0, tzinfo=NY)


def test_sla_policy_defaults_follow_the_domain_reference_and_practices_override() -> None:
    assert rules.sla_policy_for("enter_charge", None) == SlaPolicy("default:enter_charge:1bd", 1)
    assert rules.sla_policy_for("appeal", {}) == SlaPolicy("default:appeal:5bd", 5)
    assert rules.sla_policy_for("verify_benefits", {"verify_benefits": 3}) == SlaPolicy(
        "practice:verify_benefits:3bd", 3
    )
    with pytest.raises(ValueError, match="zero or more"):
        rules.sla_policy_for("audit", {"audit": -1})


@pytest.mark.parametrize(
    "offset, state, expected",
    [
        (timedelta(hours=5), "ready", "ok"),
        (timedelta(hours=4), "ready", "due_soon"),
        (timedelta(minutes=1), "in_progress", "due_soon"),
        (timedelta(0), "ready", "breached"),
        (timedelta(hours=-3), "snoozed", "breached"),
        (timedelta(hours=-3), "done", "none"),
        (timedelta(hours=-3), "cancelled", "none"),
    ],
)
def test_sla_status(offset: timedelta, state: str, expected: str) -> None:
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    assert rules.sla_status(now + offset, now, state=state) == expected
    assert rules.sla_status(None, now, state=state) == "none"


@pytest.mark.parametrize(
    "offset, text",
    [
        (timedelta(days=2, hours=3, minutes=5), "2d 3h left"),
        (timedelta(hours=1, minutes=30), "1h 30m left"),
        (timedelta(minutes=45), "45m left"),
        (timedelta(hours=-26), "overdue 1d 2h"),
        (timedelta(minutes=-5), "overdue 5m"),
    ],
)
def test_countdown(offset: timedelta, text: str) -> None:
    now = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
    assert rules.countdown(now + offset, now) == text
    assert rules.countdown(None, now) == "no deadline"


def test_escalation_bumps_priority_up_to_a_cap() -> None:
    assert rules.escalated_priority(0) == 50
    assert rules.escalated_priority(990) == 1000


def test_every_kind_has_a_queue_an_sla_and_a_label() -> None:
    for kind in WorkKind:
        assert kind in rules.DEFAULT_QUEUES and kind in rules.DEFAULT_SLA_BUSINESS_DAYS and kind in rules.KIND_LABELS


# --- claim lifecycle ---


def test_claim_lifecycle_follows_the_happy_path() -> None:
    path = ["draft", "scrubbed", "submitted", "accepted", "denied", "appealed", "paid", "closed"]
    for current, new in zip(path, path[1:], strict=False):
        assert can_move(ClaimStatus(current), ClaimStatus(new)), (current, new)


@pytest.mark.parametrize(
    "current, new",
    [
        ("draft", "submitted"),
        ("submitted", "paid"),
        ("rejected", "submitted"),
        ("closed", "draft"),
        ("rejected", "appealed"),
    ],
)
def test_claim_lifecycle_refuses_shortcuts(current: str, new: str) -> None:
    assert not can_move(ClaimStatus(current), ClaimStatus(new))


@pytest.mark.parametrize(
    "current, new",
    [
        ("accepted", "rejected"),  # the clearinghouse accepted (A1), the payer's front end rejected (A3/A6-A8)
        ("denied", "paid"),  # the payer reprocessed a denial on its own
        ("denied", "partially_paid"),
        ("paid", "partially_paid"),  # a re-adjudication paid less
        ("paid", "denied"),  # a reversal took the payment back
    ],
)
def test_claim_lifecycle_follows_what_payers_do_after_the_first_answer(current: str, new: str) -> None:
    assert can_move(ClaimStatus(current), ClaimStatus(new))


def test_a_rejection_goes_back_to_draft_because_it_was_never_filed() -> None:
    assert TRANSITIONS[ClaimStatus.REJECTED] == {ClaimStatus.DRAFT, ClaimStatus.CLOSED}


# --- template filters ---


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("1234.5"), "$1,234.50"),
        (0, "$0.00"),
        (Decimal("-12"), "-$12.00"),
        (None, "—"),
        (Decimal("0.005"), "$0.01"),
    ],
)
def test_money(value: Decimal | None, text: str) -> None:
    assert money(value) == text


def test_local_datetime_and_label() -> None:
    at = datetime(2026, 11, 18, 22, 0, tzinfo=UTC)
    assert local_datetime(at, "America/New_York") == "Nov 18 17:00"
    assert local_datetime(None, "America/New_York") == "—"
    assert label("in_progress") == "In progress"
    assert label("verify_benefits") == "Verify benefits"


# --- identifiers on the models (validated on assignment, before anything reaches the database) ---


def test_models_refuse_bad_identifiers_naming_the_field() -> None:
    from backoffice.errors import ValidationFailed
    from backoffice.models import Payer, Practice, Provider  # all tables, so relationships resolve

    with pytest.raises(ValidationFailed, match="provider npi: NPI check digit is wrong"):
        Provider(npi="1234567890")
    with pytest.raises(ValidationFailed, match="provider taxonomy"):
        Provider(taxonomy="101YP2500")
    with pytest.raises(ValidationFailed, match="practice group_npi: NPI must start with 1"):
        Practice(group_npi="3234567893")
    with pytest.raises(ValidationFailed, match="practice tax_id: a tax ID is 9 digits"):
        Practice(tax_id="12-3456789")
    with pytest.raises(ValidationFailed, match="practice slug"):
        Practice(slug="Calm Mind")
    with pytest.raises(ValidationFailed, match="practice zip_code"):
        Practice(zip_code="62701-0001")
    with pytest.raises(ValidationFailed, match="payer filing_limit_days"):
        Payer(filing_limit_days=0)
    assert Provider(npi="1234567893", taxonomy="1041C0700X").npi == "1234567893"
    assert Practice(group_npi="1558598797", tax_id="123456789", slug="calm-mind", zip_code="627010001").slug


# --- payer rule tables as data (billing-rules 2.3, 13.1) ---


@pytest.mark.parametrize(
    "policy, problem",
    [
        ({"video_modifier": "95", "audio_only_modifier": "93", "home_pos": "10", "other_pos": "02"}, None),
        ({"video_modifier": None, "audio_only_modifier": "93", "audio_only_allowed": False}, None),
        ({}, None),
        ({"video_modifer": "95"}, "unknown key"),
        ({"video_modifier": "095"}, "video_modifier: a two-character modifier"),
        ({"audio_only_modifier": 93}, "audio_only_modifier"),
        ({"home_pos": "2"}, "home_pos: a two-digit place of service"),
        ({"audio_only_allowed": "yes"}, "audio_only_allowed: true or false"),
    ],
)
def test_telehealth_policy_is_checked_as_data(policy: dict, problem: str | None) -> None:
    from backoffice.orgs.rules import telehealth_policy_problem

    result = telehealth_policy_problem(policy)
    assert result is None if problem is None else problem in result


def test_payer_rule_fields_refuse_bad_values() -> None:
    from backoffice.errors import ValidationFailed
    from backoffice.models import Payer

    with pytest.raises(ValidationFailed, match="payer telehealth_policy: unknown key"):
        Payer(telehealth_policy={"pos": "02"})
    with pytest.raises(ValidationFailed, match="59 or XE"):
        Payer(separate_session_modifier="25")
    with pytest.raises(ValidationFailed, match="max_96127_units"):
        Payer(max_96127_units=0)
    assert Payer(separate_session_modifier="XE", max_96127_units=3).max_96127_units == 3


@pytest.mark.parametrize(
    "fees, problem",
    [
        ({"90834": "150.00", "96127": "18"}, None),
        ({"9083": "150.00"}, "not a CPT/HCPCS code"),
        ({"90834": 150}, "a positive amount as a string"),
        ({"90834": "-5.00"}, "a positive amount"),
        ({"90834": "0"}, "a positive amount"),
        ({"90834": "150.005"}, "a positive amount"),
    ],
)
def test_fee_schedules_are_cpt_to_positive_charges(fees: dict, problem: str | None) -> None:
    from backoffice.orgs.rules import fee_schedule_problem

    result = fee_schedule_problem(fees)
    assert result is None if problem is None else problem in result
