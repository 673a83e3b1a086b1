"""Pure deadline rules, no app and no database: timely filing, corrections, appeals, GFE and follow-up timers.

Dates worth knowing: 2028 is a leap year; 2026-07-03 (Fri) is July 4th observed; 2026-11-26 is Thanksgiving;
2026-12-25 is a Friday; 2027-12-31 (Fri) is New Year's Day 2028 observed; 2027-07-05 (Mon) is July 4th observed.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.calendars import is_business_day
from backoffice.deadlines import appeals, follow_up, gfe, rules
from backoffice.deadlines.appeals import AppealLevel, MedicareRemedy
from backoffice.orgs.rules import PayerKind
from backoffice.work.rules import add_business_days

DATES = st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31))
KINDS = st.sampled_from(list(PayerKind))
# Few examples keep the suite fast; no per-example deadline, since the first call loads the holiday tables.
PROPERTY = settings(max_examples=50, deadline=None)


def filing(dos: date, kind: str = "medicare", limit: int | None = None, **kwargs: bool) -> rules.Deadline:
    return rules.timely_filing_deadline(dos, payer_kind=kind, filing_limit_days=limit, **kwargs)


def appeal(kind: str, level: str, notice: date, window: int | None = None, **kwargs: bool) -> rules.Deadline:
    return appeals.appeal_deadline(
        payer_kind=kind, level=level, notice_date=notice, appeal_window_days=window, **kwargs
    )


# --- timely filing (billing-rules §5.1) ---


def test_medicare_gives_twelve_calendar_months_from_the_date_of_service_and_cites_424_44() -> None:
    deadline = filing(date(2026, 3, 10))
    assert deadline.due == deadline.nominal == date(2027, 3, 10)
    assert deadline.starts == date(2026, 3, 10)
    assert "12 months" in deadline.basis and "42 CFR 424.44" in deadline.basis and "§5.1" in deadline.basis


def test_a_medicare_service_on_feb_29_2028_is_due_feb_28_2029() -> None:
    deadline = filing(date(2028, 2, 29))
    assert deadline.due == date(2029, 2, 28)
    assert not deadline.extended
    assert "Feb 29" in deadline.basis and "Feb 28" in deadline.basis


def test_medicare_counts_months_not_365_days_across_a_leap_day() -> None:
    assert filing(date(2027, 3, 15)).due == date(2028, 3, 15)  # +365 days would be 2028-03-14


def test_a_medicare_service_on_feb_28_before_a_leap_year_is_due_feb_28_not_feb_29() -> None:
    assert filing(date(2027, 2, 28)).due == date(2028, 2, 28)


def test_medicare_ignores_the_payers_day_count_because_the_regulation_fixes_the_limit() -> None:
    assert filing(date(2027, 3, 15), limit=365).due == date(2028, 3, 15)
    assert filing(date(2027, 3, 15), limit=90).due == date(2028, 3, 15)


@pytest.mark.parametrize(
    "dos, nominal, due",
    [
        (date(2026, 3, 6), date(2027, 3, 6), date(2027, 3, 8)),  # Saturday → Monday
        (date(2026, 2, 28), date(2027, 2, 28), date(2027, 3, 1)),  # Sunday → Monday
        (date(2025, 11, 26), date(2026, 11, 26), date(2026, 11, 27)),  # Thanksgiving → Friday
        (date(2025, 12, 25), date(2026, 12, 25), date(2026, 12, 28)),  # Christmas Friday → Monday
        (date(2025, 7, 3), date(2026, 7, 3), date(2026, 7, 6)),  # July 4th observed Friday → Monday
        (date(2026, 7, 3), date(2027, 7, 3), date(2027, 7, 6)),  # Saturday, Sunday, observed Monday → Tuesday
        (date(2026, 12, 31), date(2027, 12, 31), date(2028, 1, 3)),  # New Year's observed on Dec 31 → next year
    ],
)
def test_a_medicare_deadline_on_a_weekend_or_federal_holiday_moves_to_the_next_business_day(
    dos: date, nominal: date, due: date
) -> None:
    deadline = filing(dos)
    assert (deadline.nominal, deadline.due) == (nominal, due)
    assert deadline.extended
    assert nominal.isoformat() in deadline.basis and due.isoformat() in deadline.basis


def test_the_basis_names_whether_a_weekend_day_or_a_holiday_moved_the_deadline() -> None:
    assert "a Saturday" in filing(date(2026, 3, 6)).basis
    assert "a Sunday" in filing(date(2026, 2, 28)).basis
    assert "federal holiday" in filing(date(2025, 11, 26)).basis


def test_commercial_without_a_configured_limit_uses_the_shortest_limit_in_the_reference_90_days() -> None:
    deadline = filing(date(2026, 1, 5), "commercial")
    assert deadline.due == date(2026, 4, 5) + timedelta(days=1)  # Jan 5 + 90 = Apr 5 (Sunday) → Apr 6
    assert deadline.nominal == date(2026, 4, 5)
    assert "default 90 days" in deadline.basis


def test_commercial_uses_the_payers_limit_in_calendar_days() -> None:
    deadline = filing(date(2026, 1, 5), "commercial", 120)
    assert deadline.due == date(2026, 5, 5)
    assert "120 days" in deadline.basis


def test_a_commercial_deadline_on_new_years_day_moves_into_the_next_business_day_of_the_new_year() -> None:
    deadline = filing(date(2026, 10, 3), "commercial", 90)
    assert (deadline.nominal, deadline.due) == (date(2027, 1, 1), date(2027, 1, 4))


def test_a_commercial_deadline_on_new_years_day_observed_in_december_crosses_the_year() -> None:
    deadline = filing(date(2027, 10, 2), "commercial", 90)
    assert (deadline.nominal, deadline.due) == (date(2027, 12, 31), date(2028, 1, 3))


def test_a_payer_that_does_not_extend_over_weekends_keeps_the_nominal_day() -> None:
    deadline = filing(date(2026, 1, 5), "commercial", weekend_rollover=False)
    assert deadline.due == deadline.nominal == date(2026, 4, 5)


def test_medicare_always_extends_to_the_next_workday_as_the_reference_requires() -> None:
    assert filing(date(2026, 3, 6), weekend_rollover=False).due == date(2027, 3, 8)


def test_medicaid_without_a_state_limit_uses_the_twelve_month_federal_floor() -> None:
    deadline = filing(date(2027, 3, 15), "medicaid")
    assert deadline.due == date(2028, 3, 15)
    assert "447.45(d)" in deadline.basis


def test_medicaid_uses_the_states_limit_in_calendar_days() -> None:
    assert filing(date(2026, 1, 10), "medicaid", 180).due == date(2026, 7, 9)


def test_a_carve_out_without_a_configured_limit_falls_back_to_the_commercial_default() -> None:
    assert filing(date(2026, 1, 5), PayerKind.BH_CARVE_OUT).nominal == date(2026, 4, 5)


@pytest.mark.parametrize("limit", [0, -5, True])
def test_a_filing_limit_that_is_not_a_positive_day_count_is_refused(limit: int) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        filing(date(2026, 1, 5), "commercial", limit)


def test_an_unknown_payer_kind_is_refused_rather_than_defaulted() -> None:
    with pytest.raises(ValueError, match="unknown payer kind 'champva'"):
        filing(date(2026, 1, 5), "champva")


def test_new_payer_kinds_have_their_own_filing_rule() -> None:
    # TRICARE: one year after the date of service (32 CFR 199.7(d)); 2027-01-05 is a Tuesday.
    assert filing(date(2026, 1, 5), "tricare").due == date(2027, 1, 5)
    # Medicare Advantage without a contract limit: Medicare's 12 months; with one, the contract's days.
    assert filing(date(2026, 1, 5), "medicare_advantage").due == date(2027, 1, 5)
    assert filing(date(2026, 1, 5), "medicare_advantage", 180).nominal == date(2026, 7, 4)
    # Medicaid managed care follows Medicaid: the plan's limit, else the 12-month federal floor.
    assert filing(date(2026, 1, 5), "medicaid_managed_care").due == date(2027, 1, 5)
    assert filing(date(2026, 1, 5), "medicaid_managed_care", 95).nominal == date(2026, 4, 10)
    # An EAP is a group-plan benefit: the 90-day default when no limit is stored.
    assert filing(date(2026, 1, 5), "eap").nominal == date(2026, 4, 5)


def test_a_secondary_claim_is_due_90_days_after_the_primarys_remittance_by_default() -> None:
    deadline = rules.secondary_filing_deadline(date(2026, 3, 2))
    assert (deadline.nominal, deadline.due) == (date(2026, 5, 31), date(2026, 6, 1))
    assert rules.secondary_filing_deadline(date(2026, 3, 2), filing_limit_days=120).due == date(2026, 6, 30)


@PROPERTY
@given(dos=DATES, kind=KINDS, limit=st.none() | st.integers(min_value=1, max_value=730))
def test_a_filing_deadline_is_the_first_business_day_on_or_after_the_nominal_day(
    dos: date, kind: PayerKind, limit: int | None
) -> None:
    deadline = filing(dos, kind, limit)
    assert deadline.nominal <= deadline.due <= deadline.nominal + timedelta(days=4)
    assert is_business_day(deadline.due)
    gap = (deadline.due - deadline.nominal).days
    assert not any(is_business_day(deadline.nominal + timedelta(days=i)) for i in range(gap))
    assert deadline.nominal > dos


@PROPERTY
@given(dos=DATES)
def test_medicare_lands_on_the_same_day_next_year_or_feb_28_for_a_leap_day(dos: date) -> None:
    nominal = filing(dos).nominal
    expected_day = 28 if (dos.month, dos.day) == (2, 29) else dos.day
    assert (nominal.year, nominal.month, nominal.day) == (dos.year + 1, dos.month, expected_day)


@PROPERTY
@given(dos=DATES, limit=st.integers(min_value=1, max_value=730))
def test_without_rollover_a_commercial_deadline_is_exactly_the_limit_in_days(dos: date, limit: int) -> None:
    deadline = filing(dos, "commercial", limit, weekend_rollover=False)
    assert deadline.due == deadline.nominal == dos + timedelta(days=limit)


# --- corrected claims and reopenings (billing-rules §5.2) ---


def test_a_medicare_reopening_is_open_one_year_from_the_initial_determination() -> None:
    deadline = rules.reopening_deadline(date(2026, 3, 10))
    assert deadline.due == date(2027, 3, 10)
    assert "405.980" in deadline.basis


def test_a_medicare_reopening_with_good_cause_is_open_four_years_and_is_not_moved_off_a_sunday() -> None:
    deadline = rules.reopening_deadline(date(2026, 3, 10), good_cause=True)
    assert deadline.due == deadline.nominal == date(2030, 3, 10)  # a Sunday: §5.2 gives no extension


def test_a_reopening_from_a_leap_day_determination_ends_on_feb_28() -> None:
    assert rules.reopening_deadline(date(2028, 2, 29)).due == date(2029, 2, 28)


def test_a_medicare_correction_is_a_reopening_not_a_replacement_claim() -> None:
    deadline = rules.corrected_claim_deadline(
        date_of_service=date(2026, 1, 5),
        determination_date=date(2026, 3, 10),
        payer_kind="medicare",
        filing_limit_days=None,
    )
    assert deadline == rules.reopening_deadline(date(2026, 3, 10))


def test_a_commercial_replacement_claim_without_a_payer_window_must_arrive_within_timely_filing() -> None:
    deadline = rules.corrected_claim_deadline(
        date_of_service=date(2026, 1, 5),
        determination_date=date(2026, 2, 20),
        payer_kind="commercial",
        filing_limit_days=120,
    )
    assert deadline.due == filing(date(2026, 1, 5), "commercial", 120).due
    assert "§5.2" in deadline.basis and "§5.1" in deadline.basis


def test_a_replacement_claim_uses_the_payers_window_in_days_after_the_determination() -> None:
    deadline = rules.corrected_claim_deadline(
        date_of_service=date(2026, 1, 5),
        determination_date=date(2026, 3, 2),
        payer_kind="commercial",
        filing_limit_days=90,
        correction_window_days=120,
    )
    assert deadline.due == date(2026, 6, 30)


def test_a_medi_cal_style_six_month_window_from_aug_31_ends_feb_28_then_moves_off_the_sunday() -> None:
    deadline = rules.corrected_claim_deadline(
        date_of_service=date(2026, 6, 1),
        determination_date=date(2026, 8, 31),
        payer_kind="medicaid",
        filing_limit_days=None,
        correction_window_months=6,
    )
    assert (deadline.nominal, deadline.due) == (date(2027, 2, 28), date(2027, 3, 1))


def test_a_correction_window_in_both_days_and_months_is_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        rules.corrected_claim_deadline(
            date_of_service=date(2026, 1, 5),
            determination_date=date(2026, 3, 2),
            payer_kind="commercial",
            filing_limit_days=90,
            correction_window_days=60,
            correction_window_months=6,
        )


# --- filing status, days left and alert thresholds ---


@pytest.mark.parametrize(
    "days_before, left, status",
    [(15, 15, "ok"), (14, 14, "due_soon"), (1, 1, "due_soon"), (0, 0, "due_soon"), (-1, -1, "passed")],
)
def test_filing_status_is_due_soon_from_14_days_left_through_the_last_day(
    days_before: int, left: int, status: str
) -> None:
    deadline = date(2026, 6, 30)
    today = deadline - timedelta(days=days_before)
    assert rules.days_left(deadline, today) == left
    assert rules.filing_status(deadline, today) == status


@PROPERTY
@given(deadline=DATES, today=DATES)
def test_filing_status_partitions_days_left(deadline: date, today: date) -> None:
    left = rules.days_left(deadline, today)
    expected = "passed" if left < 0 else "due_soon" if left <= 14 else "ok"
    assert rules.filing_status(deadline, today) == expected


@pytest.mark.parametrize(
    "left, threshold", [(61, None), (60, 60), (31, 60), (30, 30), (8, 14), (7, 7), (0, 7), (-3, 7)]
)
def test_filing_alerts_fire_at_60_30_14_and_7_days_left(left: int, threshold: int | None) -> None:
    deadline = date(2026, 6, 30)
    assert rules.alert_threshold(deadline, deadline - timedelta(days=left)) == threshold


def test_appeal_alerts_start_at_30_days_left() -> None:
    deadline = date(2026, 6, 30)
    assert rules.alert_threshold(deadline, deadline - timedelta(days=45), rules.APPEAL_ALERT_DAYS) is None
    assert rules.alert_threshold(deadline, deadline - timedelta(days=30), rules.APPEAL_ALERT_DAYS) == 30


# --- appeals (billing-rules §5.3, §7.1) ---


@pytest.mark.parametrize(
    "notice, due",
    [(date(2020, 5, 15), date(2020, 9, 17)), (date(2020, 8, 14), date(2020, 12, 17))],  # Palmetto GBA's examples
)
def test_medicare_redetermination_is_120_days_from_receipt_presumed_5_days_after_the_notice(
    notice: date, due: date
) -> None:
    deadline = appeal("medicare", AppealLevel.REDETERMINATION, notice)
    assert deadline.starts == notice + timedelta(days=5)
    assert deadline.due == due == notice + timedelta(days=125)
    assert "405.942" in deadline.basis and "5 days" in deadline.basis


def test_a_redetermination_deadline_on_thanksgiving_is_not_extended_because_the_reference_gives_no_extension() -> None:
    deadline = appeal("medicare", AppealLevel.REDETERMINATION, date(2026, 7, 24))
    assert deadline.due == deadline.nominal == date(2026, 11, 26)
    assert not deadline.extended


def test_a_redetermination_deadline_on_a_sunday_stays_on_the_sunday() -> None:
    assert appeal("medicare", AppealLevel.REDETERMINATION, date(2017, 5, 15)).due == date(2017, 9, 17)


def test_an_appeal_deadline_moves_off_a_holiday_only_when_the_payers_data_says_so() -> None:
    deadline = appeal("medicare", AppealLevel.REDETERMINATION, date(2026, 7, 24), weekend_rollover=True)
    assert (deadline.nominal, deadline.due) == (date(2026, 11, 26), date(2026, 11, 27))


@pytest.mark.parametrize(
    "level, days, cite",
    [
        (AppealLevel.RECONSIDERATION, 180, "405.962"),
        (AppealLevel.ALJ_HEARING, 60, "405.1014"),
        (AppealLevel.APPEALS_COUNCIL, 60, "405.1102"),
        (AppealLevel.FEDERAL_COURT, 60, "405.1136"),
    ],
)
def test_later_medicare_levels_run_from_presumed_receipt_too(level: AppealLevel, days: int, cite: str) -> None:
    notice = date(2026, 1, 2)
    deadline = appeal("medicare", level, notice)
    assert deadline.due == notice + timedelta(days=5 + days)
    assert cite in deadline.basis


def test_medicare_appeal_windows_ignore_the_payers_configured_window() -> None:
    notice = date(2026, 1, 2)
    assert appeal("medicare", "redetermination", notice, 90).due == notice + timedelta(days=125)


def test_medicare_levels_are_listed_in_order() -> None:
    assert appeals.levels_for("medicare") == appeals.MEDICARE_LEVELS
    assert appeals.MEDICARE_LEVELS[0] is AppealLevel.REDETERMINATION
    assert appeals.MEDICARE_LEVELS[-1] is AppealLevel.FEDERAL_COURT


@PROPERTY
@given(notice=DATES, level=st.sampled_from(appeals.MEDICARE_LEVELS))
def test_a_medicare_appeal_deadline_is_window_plus_five_days_and_never_extended(notice: date, level: str) -> None:
    windows = {"redetermination": 120, "reconsideration": 180}
    deadline = appeal("medicare", level, notice)
    assert deadline.due == deadline.nominal == notice + timedelta(days=5 + windows.get(level, 60))


def test_a_group_plan_internal_appeal_gets_180_days_counted_from_the_notice_without_weekend_extension() -> None:
    deadline = appeal("commercial", AppealLevel.INTERNAL_APPEAL, date(2026, 3, 2))
    assert deadline.due == date(2026, 8, 29)  # a Saturday, kept
    assert deadline.starts == date(2026, 3, 2)
    assert "180 days" in deadline.basis


def test_a_group_plan_internal_appeal_uses_the_payers_window_when_configured() -> None:
    deadline = appeal("commercial", AppealLevel.INTERNAL_APPEAL, date(2026, 3, 2), 365)
    assert deadline.due == date(2027, 3, 2)
    assert "payer's window of 365 days" in deadline.basis


def test_a_second_level_internal_appeal_needs_the_payers_window() -> None:
    with pytest.raises(ValueError, match="pass appeal_window_days"):
        appeal("commercial", AppealLevel.SECOND_INTERNAL_APPEAL, date(2026, 3, 2))
    assert appeal("commercial", AppealLevel.SECOND_INTERNAL_APPEAL, date(2026, 3, 2), 60).due == date(2026, 5, 1)


@pytest.mark.parametrize(
    "notice, due",
    [
        (date(2026, 6, 15), date(2026, 10, 15)),
        (date(2026, 10, 31), date(2027, 2, 28)),
        (date(2027, 10, 31), date(2028, 2, 29)),
    ],
)
def test_external_review_is_four_calendar_months_ending_on_the_last_day_of_a_short_month(
    notice: date, due: date
) -> None:
    assert appeal("commercial", AppealLevel.EXTERNAL_REVIEW, notice).due == due


def test_external_review_ignores_the_payers_internal_appeal_window() -> None:
    assert appeal("commercial", AppealLevel.EXTERNAL_REVIEW, date(2026, 6, 15), 60).due == date(2026, 10, 15)


def test_a_provider_reconsideration_defaults_to_60_days_the_short_end_of_common_contracts() -> None:
    assert appeal("commercial", AppealLevel.PROVIDER_RECONSIDERATION, date(2026, 3, 2)).due == date(2026, 5, 1)


def test_a_carve_out_appeals_like_a_commercial_plan() -> None:
    notice = date(2026, 3, 2)
    assert appeals.levels_for("behavioral_health_carve_out") == appeals.levels_for("commercial")
    assert appeal(PayerKind.BH_CARVE_OUT, "internal_appeal", notice) == appeal("commercial", "internal_appeal", notice)


def test_medicaid_plan_appeals_default_to_60_days_and_fair_hearings_to_30() -> None:
    notice = date(2026, 3, 2)
    assert appeal("medicaid", AppealLevel.PLAN_APPEAL, notice).due == date(2026, 5, 1)
    assert appeal("medicaid", AppealLevel.STATE_FAIR_HEARING, notice).due == date(2026, 4, 1)
    assert appeal("medicaid", AppealLevel.PLAN_APPEAL, notice, 90).due == date(2026, 5, 31)


@pytest.mark.parametrize(
    "kind, level",
    [
        ("medicare", "internal_appeal"),
        ("commercial", "redetermination"),
        ("medicaid", "alj_hearing"),
        ("medicare", "x"),
    ],
)
def test_a_level_the_payer_kind_does_not_have_is_refused(kind: str, level: str) -> None:
    with pytest.raises(ValueError, match="no appeal level"):
        appeal(kind, level, date(2026, 3, 2))


@pytest.mark.parametrize(
    "level, year, amount, meets",
    [
        (AppealLevel.ALJ_HEARING, 2026, Decimal("199.99"), False),
        (AppealLevel.ALJ_HEARING, 2026, Decimal("200"), True),
        (AppealLevel.ALJ_HEARING, 2025, Decimal("190"), True),
        (AppealLevel.ALJ_HEARING, 2024, Decimal("179.99"), False),
        (AppealLevel.FEDERAL_COURT, 2026, Decimal("1959.99"), False),
        (AppealLevel.FEDERAL_COURT, 2026, Decimal("1960"), True),
        (AppealLevel.FEDERAL_COURT, 2025, Decimal("1900"), True),
        (AppealLevel.FEDERAL_COURT, 2024, Decimal("1839"), False),
        (AppealLevel.REDETERMINATION, 2026, Decimal("0.01"), True),
        (AppealLevel.APPEALS_COUNCIL, 2031, Decimal("1"), True),
    ],
)
def test_medicare_amount_in_controversy_is_at_least_the_years_threshold(
    level: str, year: int, amount: Decimal, meets: bool
) -> None:
    assert appeals.meets_amount_in_controversy(level, amount, year) is meets


def test_a_year_without_a_published_threshold_is_an_error_not_a_stale_figure() -> None:
    with pytest.raises(ValueError, match="2027"):
        appeals.amount_in_controversy_threshold(AppealLevel.ALJ_HEARING, 2027)
    with pytest.raises(ValueError, match="not a Medicare appeal level"):
        appeals.amount_in_controversy_threshold(AppealLevel.INTERNAL_APPEAL, 2026)


@pytest.mark.parametrize(
    "kind, level, two_levels, days",
    [
        ("medicare", "redetermination", False, 60),
        ("medicare", "reconsideration", False, 60),
        ("medicare", "alj_hearing", False, 90),
        ("medicare", "appeals_council", False, 90),
        ("medicare", "federal_court", False, None),
        ("commercial", "internal_appeal", False, 60),
        ("commercial", "internal_appeal", True, 30),
        ("commercial", "second_internal_appeal", True, 30),
        ("commercial", "external_review", False, 45),
        ("medicaid", "plan_appeal", False, None),
    ],
)
def test_decision_times_follow_the_reference(kind: str, level: str, two_levels: bool, days: int | None) -> None:
    received = date(2026, 3, 2)
    decision = appeals.appeal_decision_due(
        payer_kind=kind, level=level, request_received_on=received, two_level_plan=two_levels
    )
    assert (decision.due if decision else None) == (None if days is None else received + timedelta(days=days))


@pytest.mark.parametrize(
    "group, carc, rarcs, clerical, route",
    [
        ("CO", "29", (), False, MedicareRemedy.NONE),
        (" co", "29 ", (), True, MedicareRemedy.NONE),
        ("CO", "16", ("MA130",), False, MedicareRemedy.NEW_CLAIM),
        ("CO", "16", ("ma130", "N290"), True, MedicareRemedy.NEW_CLAIM),
        ("CO", "16", ("M51",), True, MedicareRemedy.REOPENING),
        ("CO", "18", (), True, MedicareRemedy.REOPENING),
        ("CO", "50", (), False, MedicareRemedy.REDETERMINATION),
        ("PR", "29", (), False, MedicareRemedy.REDETERMINATION),
    ],
)
def test_medicare_remedy_no_appeal_for_timely_filing_new_claim_for_ma130_reopening_for_clerical_errors(
    group: str, carc: str, rarcs: tuple[str, ...], clerical: bool, route: MedicareRemedy
) -> None:
    remedy = appeals.medicare_remedy(group_code=group, carc=carc, rarcs=rarcs, clerical_error=clerical)
    assert remedy.route is route
    assert "billing-rules" in remedy.basis


# --- Good Faith Estimates (billing-rules §10.1); Thanksgiving 2026 is Thursday Nov 26 ---


def test_two_business_days_ahead_across_thanksgiving_needs_no_gfe() -> None:
    scheduled, service = date(2026, 11, 25), date(2026, 11, 30)  # Wed, (Thu holiday), Fri → Mon
    assert gfe.business_days_ahead(scheduled, service) == 2
    assert gfe.gfe_due_date(scheduled_on=scheduled, service_date=service) is None


def test_three_business_days_ahead_across_thanksgiving_is_due_one_business_day_after_scheduling() -> None:
    scheduled, service = date(2026, 11, 24), date(2026, 11, 30)
    assert gfe.business_days_ahead(scheduled, service) == 3
    assert gfe.gfe_due_date(scheduled_on=scheduled, service_date=service) == date(2026, 11, 25)


def test_nine_business_days_ahead_is_still_due_one_business_day_after_scheduling() -> None:
    scheduled, service = date(2026, 11, 24), date(2026, 12, 8)
    assert gfe.business_days_ahead(scheduled, service) == 9
    assert gfe.gfe_due_date(scheduled_on=scheduled, service_date=service) == date(2026, 11, 25)


def test_ten_business_days_ahead_is_due_three_business_days_after_scheduling_skipping_thanksgiving() -> None:
    scheduled, service = date(2026, 11, 24), date(2026, 12, 9)
    assert gfe.business_days_ahead(scheduled, service) == 10
    deadline = gfe.gfe_due(scheduled_on=scheduled, service_date=service)
    assert deadline is not None and deadline.due == date(2026, 11, 30)  # Wed 25, Fri 27, Mon 30
    assert "3 business days" in deadline.basis and "§10.1" in deadline.basis


def test_a_long_lead_gfe_scheduled_the_day_before_thanksgiving_is_due_the_next_tuesday() -> None:
    assert gfe.gfe_due_date(scheduled_on=date(2026, 11, 25), service_date=date(2027, 1, 5)) == date(2026, 12, 1)


def test_a_booking_across_christmas_counts_christmas_as_no_business_day() -> None:
    scheduled, service = date(2026, 12, 23), date(2026, 12, 29)  # Wed, Thu, (Fri holiday), Mon → Tue
    assert gfe.business_days_ahead(scheduled, service) == 3
    assert gfe.gfe_due_date(scheduled_on=scheduled, service_date=service) == date(2026, 12, 24)


def test_a_saturday_booking_counts_business_days_from_monday() -> None:
    assert gfe.gfe_due_date(scheduled_on=date(2026, 11, 21), service_date=date(2026, 11, 25)) is None
    assert gfe.gfe_due_date(scheduled_on=date(2026, 11, 21), service_date=date(2026, 11, 27)) == date(2026, 11, 23)


@pytest.mark.parametrize("service", [date(2026, 11, 24), date(2026, 11, 20)])
def test_a_same_day_or_past_service_needs_no_gfe(service: date) -> None:
    assert gfe.gfe_due_date(scheduled_on=date(2026, 11, 24), service_date=service) is None


def test_a_request_without_scheduling_is_due_three_business_days_later() -> None:
    deadline = gfe.gfe_due(scheduled_on=date(2026, 11, 25), service_date=None, requested_on=date(2026, 11, 25))
    assert deadline is not None and deadline.due == date(2026, 12, 1)
    assert "request" in deadline.basis


def test_nothing_scheduled_and_nothing_requested_needs_no_gfe() -> None:
    assert gfe.gfe_due_date(scheduled_on=date(2026, 11, 25), service_date=None) is None


def test_once_a_service_is_scheduled_the_scheduling_rule_governs_even_with_a_request_on_file() -> None:
    kwargs = {"scheduled_on": date(2026, 11, 24), "requested_on": date(2026, 11, 20)}
    assert gfe.gfe_due_date(service_date=date(2026, 11, 30), **kwargs) == date(2026, 11, 25)
    assert gfe.gfe_due_date(service_date=date(2026, 11, 25), **kwargs) is None


@PROPERTY
@given(scheduled=DATES, lead=st.integers(min_value=0, max_value=40))
def test_a_gfe_is_owed_exactly_when_the_service_is_three_or_more_business_days_ahead(
    scheduled: date, lead: int
) -> None:
    service = scheduled + timedelta(days=lead)
    ahead = gfe.business_days_ahead(scheduled, service)
    due = gfe.gfe_due_date(scheduled_on=scheduled, service_date=service)
    assert (due is None) is (ahead < 3)
    if due is not None:
        business_days = 3 if ahead >= 10 else 1
        assert due == add_business_days(scheduled, business_days, is_business_day)
        assert is_business_day(due) and scheduled < due


@pytest.mark.parametrize(
    "service, latest",
    [
        (date(2026, 11, 30), date(2026, 11, 27)),  # Monday → Friday
        (date(2026, 11, 27), date(2026, 11, 25)),  # Friday after Thanksgiving → Wednesday
        (date(2026, 12, 28), date(2026, 12, 24)),  # Monday after Christmas Friday → Thursday
    ],
)
def test_an_updated_gfe_is_due_one_business_day_before_the_service(service: date, latest: date) -> None:
    assert gfe.updated_gfe_due(service).due == latest


def test_one_gfe_covers_twelve_months_of_recurring_sessions() -> None:
    assert gfe.gfe_new_estimate_needed_from(date(2026, 1, 15)) == date(2027, 1, 15)


def test_a_gfe_is_kept_six_years() -> None:
    assert gfe.gfe_retain_until(date(2026, 5, 1)) == date(2032, 5, 1)


@pytest.mark.parametrize("billed, eligible", [(Decimal("1400.00"), True), (Decimal("1399.99"), False)])
def test_a_patient_may_dispute_a_bill_at_least_400_dollars_above_the_estimate(billed: Decimal, eligible: bool) -> None:
    assert gfe.gfe_dispute_eligible(billed=billed, estimated=Decimal("1000.00")) is eligible


def test_a_gfe_dispute_must_start_within_120_days_of_receiving_the_bill() -> None:
    assert gfe.gfe_dispute_deadline(date(2026, 3, 2)).due == date(2026, 6, 30)


# --- follow-up timers (billing-rules §9.2) ---


@pytest.mark.parametrize("attempts, expected", [(0, date(2026, 4, 1)), (1, date(2026, 4, 15)), (2, date(2026, 4, 29))])
def test_medicare_is_checked_at_day_30_then_every_14_days(attempts: int, expected: date) -> None:
    submitted = date(2026, 3, 2)
    assert follow_up.next_follow_up(submitted, payer_kind="medicare", electronic=True, attempts=attempts) == expected


@pytest.mark.parametrize(
    "kind, electronic, expected",
    [
        ("medicare", False, date(2026, 4, 1)),
        ("commercial", True, date(2026, 4, 1)),
        ("commercial", False, date(2026, 4, 16)),
        ("medicaid", False, date(2026, 4, 16)),
    ],
)
def test_the_first_check_is_day_30_electronic_and_day_45_paper(kind: str, electronic: bool, expected: date) -> None:
    assert follow_up.next_follow_up(date(2026, 3, 2), payer_kind=kind, electronic=electronic, attempts=0) == expected


def test_a_check_on_thanksgiving_moves_to_friday_without_shifting_the_next_check() -> None:
    submitted = date(2026, 10, 27)  # + 30 days = Thanksgiving
    assert follow_up.next_follow_up(submitted, payer_kind="medicare", electronic=True, attempts=0) == date(2026, 11, 27)
    assert follow_up.next_follow_up(submitted, payer_kind="medicare", electronic=True, attempts=1) == date(2026, 12, 10)


def test_a_payer_can_set_an_earlier_first_check() -> None:
    check = follow_up.next_follow_up(
        date(2026, 3, 2), payer_kind="commercial", electronic=True, attempts=0, first_check_days=21
    )
    assert check == date(2026, 3, 23)


def test_negative_attempts_are_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        follow_up.next_follow_up(date(2026, 3, 2), payer_kind="medicare", electronic=True, attempts=-1)


@PROPERTY
@given(submitted=DATES, kind=KINDS, electronic=st.booleans(), attempts=st.integers(min_value=0, max_value=20))
def test_follow_ups_fall_on_business_days_and_strictly_increase(
    submitted: date, kind: PayerKind, electronic: bool, attempts: int
) -> None:
    this = follow_up.next_follow_up(submitted, payer_kind=kind, electronic=electronic, attempts=attempts)
    after = follow_up.next_follow_up(submitted, payer_kind=kind, electronic=electronic, attempts=attempts + 1)
    assert is_business_day(this) and submitted + timedelta(days=30) <= this < after


def test_an_acknowledgment_is_expected_within_two_business_days() -> None:
    assert follow_up.acknowledgment_due(date(2026, 11, 25)) == date(2026, 11, 30)
    assert follow_up.acknowledgment_due(date(2026, 11, 20)) == date(2026, 11, 24)


def test_an_unresolved_claim_escalates_at_day_60() -> None:
    assert follow_up.escalation_due(date(2026, 3, 2)) == date(2026, 5, 1)


def test_the_timer_says_which_rule_it_follows() -> None:
    timer = follow_up.follow_up_timer(payer_kind="commercial", electronic=False)
    assert (timer.first_check_days, timer.repeat_days) == (45, 14)
    assert "§9.2" in timer.basis


# --- calendar arithmetic shared by all deadlines ---


@PROPERTY
@given(day=DATES, months=st.integers(min_value=0, max_value=60))
def test_adding_months_keeps_the_day_or_clamps_to_the_end_of_a_short_month(day: date, months: int) -> None:
    later = rules.add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    assert later.day == day.day or (later.day < day.day and (later + timedelta(days=1)).day == 1)
