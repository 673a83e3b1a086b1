"""Pure patient-balance rules: poverty guideline arithmetic, tier choice at its boundaries, tier prices,
instalment splitting and dates, payment allocation, plan states, reminders, GFE lines and statement columns."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.balances import rules
from backoffice.balances.rules import Instalment, Tier

D = Decimal


def test_the_2026_guideline_is_the_hhs_table_for_the_48_contiguous_states() -> None:
    assert rules.FPL_YEAR == 2026
    table = rules.FPL_TABLES[2026]
    assert "48 contiguous" in table.region and "2026-00755" in table.source
    assert [rules.poverty_guideline(n) for n in range(1, 9)] == [15960, 21640, 27320, 33000, 38680, 44360, 50040, 55720]
    assert rules.poverty_guideline(9) == 55720 + 5680
    assert rules.poverty_guideline(12) == 55720 + 4 * 5680


def test_each_person_up_to_eight_adds_the_published_increment() -> None:
    sizes = [rules.poverty_guideline(n) for n in range(1, 10)]
    assert {b - a for a, b in zip(sizes, sizes[1:], strict=False)} == {5680}


def test_an_unknown_year_or_household_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="year: no poverty guideline table for 2019"):
        rules.poverty_guideline(2, 2019)
    with pytest.raises(ValueError, match="household_size"):
        rules.poverty_guideline(0)


def test_fpl_percent_is_income_over_guideline_rounded_down() -> None:
    assert rules.fpl_percent(D("33000"), 4) == 100
    assert rules.fpl_percent(D("66000"), 4) == 200
    assert rules.fpl_percent(D("66329.99"), 4) == 200  # 200.999...% is still 200%
    assert rules.fpl_percent(D("66330"), 4) == 201
    assert rules.fpl_percent(D("0"), 1) == 0
    assert rules.fpl_percent(D("15959.99"), 1) == 99
    with pytest.raises(ValueError, match="annual_income"):
        rules.fpl_percent(D("-1"), 1)


TIERS = [
    Tier(1, "A", 100, flat_fee=D("20.00")),
    Tier(2, "B", 150, discount_percent=D("75")),
    Tier(3, "C", 200, discount_percent=D("50")),
    Tier(4, "D", 250, discount_percent=D("25")),
]


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(0, "A"), (100, "A"), (101, "B"), (150, "B"), (151, "C"), (200, "C"), (201, "D"), (250, "D"), (251, None)],
)
def test_the_lowest_tier_whose_bound_is_at_or_above_the_percent_applies(percent: int, expected: str | None) -> None:
    chosen = rules.choose_tier(TIERS, percent)
    assert (chosen.name if chosen else None) == expected


def test_tier_choice_ignores_order_and_inactive_tiers() -> None:
    shuffled = [TIERS[2], TIERS[0], TIERS[3], TIERS[1]]
    assert rules.choose_tier(shuffled, 120).name == "B"
    without_b = [t if t.name != "B" else Tier(2, "B", 150, discount_percent=D("75"), active=False) for t in TIERS]
    assert rules.choose_tier(without_b, 120).name == "C"


def test_tier_prices_flat_fee_discount_and_never_above_the_full_fee() -> None:
    assert rules.tier_price(TIERS[0], D("160")) == D("20.00")
    assert rules.tier_price(TIERS[1], D("160")) == D("40.00")
    assert rules.tier_price(Tier(9, "odd", 300, discount_percent=D("33.33")), D("155.00")) == D("103.34")  # half up
    assert rules.tier_price(Tier(9, "flat", 300, flat_fee=D("500")), D("160")) == D("160.00")
    assert rules.tier_price(None, D("160")) == D("160.00")


def test_a_tier_table_with_problems_names_each_row_and_field() -> None:
    problems = rules.tier_problems(
        [
            Tier(None, "", 100, flat_fee=D("10")),
            Tier(None, "Dup", 100, discount_percent=D("10")),
            Tier(None, "Both", 200, discount_percent=D("10"), flat_fee=D("5")),
            Tier(None, "Neither", 300),
            Tier(None, "Too much", 400, discount_percent=D("120")),
            Tier(None, "Bound", 0, discount_percent=D("10")),
        ]
    )
    assert problems == [
        "tier 1 name: required",
        "tier 2 max_fpl_percent: 100% is used by another tier",
        "tier 3: give either a discount % or a flat fee, not both or neither",
        "tier 4: give either a discount % or a flat fee, not both or neither",
        "tier 5 discount_percent: more than 0 and at most 100",
        "tier 6 max_fpl_percent: between 1 and 1000",
    ]
    assert rules.tier_problems(TIERS) == []


def test_a_determination_lasts_twelve_months() -> None:
    assert rules.determination_expires_on(date(2026, 2, 28)) == date(2027, 2, 28)
    assert rules.determination_current(date(2026, 2, 28), date(2027, 2, 28), date(2027, 2, 27))
    assert not rules.determination_current(date(2026, 2, 28), date(2027, 2, 28), date(2027, 2, 28))


def test_instalments_split_to_the_cent_with_the_remainder_on_the_last() -> None:
    assert rules.split_instalments(D("100.00"), 3) == [D("33.33"), D("33.33"), D("33.34")]
    assert rules.split_instalments(D("100.00"), 4) == [D("25.00")] * 4
    assert rules.split_instalments(D("0.05"), 5) == [D("0.01")] * 5
    assert rules.split_instalments(D("10.00"), 1) == [D("10.00")]


@given(total=st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2), count=st.integers(1, 60))
def test_instalments_always_add_up_to_the_total_and_differ_by_under_a_dollar_per_count(
    total: Decimal, count: int
) -> None:
    if total * 100 < count:
        with pytest.raises(ValueError, match="instalment_count"):
            rules.split_instalments(total, count)
        return
    parts = rules.split_instalments(total, count)
    assert sum(parts) == total and len(parts) == count
    assert all(p == parts[0] for p in parts[:-1]) and D("0") <= parts[-1] - parts[0] < D("0.01") * count


def test_bad_plans_are_refused_by_field() -> None:
    with pytest.raises(ValueError, match="total"):
        rules.split_instalments(D("0"), 2)
    with pytest.raises(ValueError, match="instalment_count"):
        rules.split_instalments(D("100"), 61)
    with pytest.raises(ValueError, match="interval"):
        rules.instalment_due_dates(date(2026, 1, 1), 2, "yearly")


def test_due_dates_by_interval_keep_the_day_of_month() -> None:
    assert rules.instalment_due_dates(date(2026, 1, 31), 4, "monthly") == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert rules.instalment_due_dates(date(2026, 12, 1), 2, "biweekly") == [date(2026, 12, 1), date(2026, 12, 15)]
    assert rules.instalment_due_dates(date(2026, 12, 1), 3, "weekly")[-1] == date(2026, 12, 15)


PLAN = [
    Instalment(1, date(2026, 10, 1), D("50.00"), D("50.00")),
    Instalment(2, date(2026, 11, 1), D("50.00"), D("20.00")),
    Instalment(3, date(2026, 12, 1), D("50.00")),
]


def test_a_payment_goes_to_the_oldest_open_instalment_first() -> None:
    assert rules.allocate_payment(PLAN, D("30.00")) == [(2, D("30.00"))]
    assert rules.allocate_payment(PLAN, D("45.00")) == [(2, D("30.00")), (3, D("15.00"))]
    assert rules.allocate_payment(PLAN, D("80.00")) == [(2, D("30.00")), (3, D("50.00"))]


def test_an_overpayment_is_refused_not_carried() -> None:
    with pytest.raises(ValueError, match="amount: more than the 80.00 the plan still owes"):
        rules.allocate_payment(PLAN, D("80.01"))
    with pytest.raises(ValueError, match="amount: more than zero"):
        rules.allocate_payment(PLAN, D("0"))


def test_plan_state_completed_defaulted_paused() -> None:
    paid = [Instalment(1, date(2026, 1, 1), D("10"), D("10"))]
    assert rules.plan_state("active", paid, date(2026, 6, 1)) == "completed"
    three_missed = [Instalment(n, date(2026, n, 1), D("10")) for n in range(1, 5)]
    assert rules.plan_state("active", three_missed, date(2026, 2, 15)) == "active"  # two missed
    assert rules.plan_state("active", three_missed, date(2026, 3, 1)) == "active"  # due today is not missed
    assert rules.plan_state("active", three_missed, date(2026, 3, 2)) == "defaulted"  # three missed
    assert rules.plan_state("paused", three_missed, date(2026, 3, 2)) == "paused"
    assert rules.plan_state("cancelled", paid, date(2026, 3, 2)) == "cancelled"


def test_reminders_for_instalments_due_within_five_days_and_for_missed_ones() -> None:
    plan = [
        Instalment(1, date(2026, 11, 10), D("10")),  # missed
        Instalment(2, date(2026, 11, 15), D("10"), D("10")),  # paid
        Instalment(3, date(2026, 11, 18), D("10")),  # due today
        Instalment(4, date(2026, 11, 23), D("10")),  # due in exactly 5 days
        Instalment(5, date(2026, 11, 24), D("10")),  # 6 days: not yet
    ]
    assert rules.reminders_due(plan, date(2026, 11, 18)) == [
        rules.Reminder(1, "missed", date(2026, 11, 10)),
        rules.Reminder(3, "upcoming", date(2026, 11, 18)),
        rules.Reminder(4, "upcoming", date(2026, 11, 23)),
    ]
    assert rules.reminder_key(7, 3, "upcoming") == "plan:7:instalment:3:upcoming"


def test_gfe_lines_price_each_service_and_total() -> None:
    lines, total = rules.gfe_lines([rules.ServiceLine("90791", 1, D("250")), rules.ServiceLine("90834", 40, D("40"))])
    assert total == D("1850.00")
    assert lines[1] == {
        "cpt": "90834",
        "description": "Psychotherapy, about 45 minutes",
        "units": 1,
        "sessions": 40,
        "unit_fee": "40.00",
        "total": "1600.00",
    }
    with pytest.raises(ValueError, match="service 1 cpt: 12345 is not in the catalogue"):
        rules.gfe_lines([rules.ServiceLine("12345", 1, D("1"))])
    with pytest.raises(ValueError, match="service 1 sessions"):
        rules.gfe_lines([rules.ServiceLine("90834", 0, D("1"))])
    with pytest.raises(ValueError, match="services"):
        rules.gfe_lines([])


def test_one_gfe_covers_at_most_twelve_months() -> None:
    assert rules.gfe_period_problem(date(2026, 12, 1), date(2027, 11, 30)) is None
    assert "12 months" in rules.gfe_period_problem(date(2026, 12, 1), date(2027, 12, 1))
    assert "on or after" in rules.gfe_period_problem(date(2026, 12, 1), date(2026, 11, 30))


def test_the_disclaimers_carry_the_400_dollar_dispute_right_and_120_days() -> None:
    text = " ".join(rules.GFE_DISCLAIMERS)
    assert "$400" in text and "120 days" in text and "not included in this estimate" in text
    assert "only an estimate" in text and "will not affect the quality of the care" in text


def test_statement_columns_and_totals_add_up_to_the_ledger() -> None:
    entries = [
        ("patient_responsibility", D("40.00")),
        ("reversal", D("-40.00")),
        ("patient_payment", D("-25.00")),
        ("hardship_waiver", D("-5.00")),
        ("self_pay_charge", D("80.00")),
    ]
    totals = rules.statement_totals(entries, D("10.00"))
    assert totals == {
        "charges": D("120.00"),
        "insurance": D("-40.00"),
        "payments": D("-25.00"),
        "adjustments": D("-5.00"),
        "opening": D("10.00"),
        "balance": D("60.00"),
    }
