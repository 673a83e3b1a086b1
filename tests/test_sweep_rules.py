"""Pure rules of the scheduled sweeps and the KPI math, with hand-computed dates and figures (no app, no DB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backoffice.sweeps.rules import (
    AuthForecast,
    FollowUpAction,
    acknowledgment_missing,
    authorization_forecast,
    checks_due,
    exhaustion_date,
    filing_alert_is_new,
    filing_note,
    filing_priority,
    follow_up_action,
    reauth_due_day,
    reauth_reason,
    reauthorized,
    sla_breach_note,
    weekly_rate,
)
from backoffice.work import kpis

NY = ZoneInfo("America/New_York")
TODAY = date(2026, 11, 18)  # a Wednesday
WEEKLY = [date(2026, 10, 21), date(2026, 10, 28), date(2026, 11, 4), date(2026, 11, 11)]  # Wednesdays


def test_sla_breach_note_shows_the_due_time_in_the_practice_zone() -> None:
    assert sla_breach_note(datetime(2026, 11, 18, 22, 0, tzinfo=UTC), NY) == "SLA breached: due 2026-11-18 17:00 EST"
    assert sla_breach_note(datetime(2026, 7, 1, 21, 0, tzinfo=UTC), NY) == "SLA breached: due 2026-07-01 17:00 EDT"


# --- follow-ups (§9.2: first check at 30 days electronic / 45 paper, then every 14) ---

SUBMITTED = date(2026, 9, 14)  # a Monday; +30 days = Wed 2026-10-14


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 10, 13), 0),
        (date(2026, 10, 14), 1),
        (date(2026, 10, 27), 1),
        (date(2026, 10, 28), 2),  # 30 + 14 days
        (date(2026, 11, 11), 2),  # 30 + 28 days is Veterans Day, a federal holiday...
        (date(2026, 11, 12), 3),  # ...so the third check is the next business day
    ],
)
def test_checks_due_counts_the_status_checks_reached(today: date, expected: int) -> None:
    assert checks_due(SUBMITTED, today, payer_kind="commercial") == expected


def test_paper_claims_wait_45_days_and_medicare_30() -> None:
    assert checks_due(SUBMITTED, date(2026, 10, 28), payer_kind="commercial", electronic=False) == 0
    assert checks_due(SUBMITTED, date(2026, 10, 29), payer_kind="commercial", electronic=False) == 1
    assert checks_due(SUBMITTED, date(2026, 10, 14), payer_kind="medicare") == 1


def test_a_check_falling_on_a_weekend_moves_to_monday() -> None:
    # Submitted Thu 2026-09-17: +30 days is Sat 2026-10-17, so the check is Mon 2026-10-19.
    assert checks_due(date(2026, 9, 17), date(2026, 10, 18), payer_kind="commercial") == 0
    assert checks_due(date(2026, 9, 17), date(2026, 10, 19), payer_kind="commercial") == 1


@pytest.mark.parametrize(
    ("due", "made", "busy", "action"),
    [
        (0, 0, False, FollowUpAction.NONE),
        (1, 0, False, FollowUpAction.STATUS_REQUEST),
        (3, 0, False, FollowUpAction.STATUS_REQUEST),  # a late first sweep still starts with the 276
        (1, 1, False, FollowUpAction.NONE),
        (2, 1, False, FollowUpAction.CALL_PAYER),
        (2, 1, True, FollowUpAction.NONE),  # someone is still working the last one
        (1, 0, True, FollowUpAction.NONE),
        (4, 3, False, FollowUpAction.CALL_PAYER),
    ],
)
def test_follow_up_action(due: int, made: int, busy: bool, action: FollowUpAction) -> None:
    assert follow_up_action(checks_due=due, checks_made=made, has_open_item=busy) is action


def test_acknowledgment_is_missing_only_after_its_day_and_without_any_answer() -> None:
    ack_due = date(2026, 11, 18)  # submitted Mon 11-16 + 2 business days
    base = {"status": "submitted", "accepted_at": None, "status_category": None, "ack_due": ack_due}
    assert not acknowledgment_missing(**base, today=date(2026, 11, 18))
    assert acknowledgment_missing(**base, today=date(2026, 11, 19))
    assert not acknowledgment_missing(**{**base, "status_category": "A1"}, today=date(2026, 11, 19))
    assert not acknowledgment_missing(**{**base, "status": "accepted"}, today=date(2026, 11, 19))
    assert not acknowledgment_missing(**{**base, "accepted_at": datetime(2026, 11, 17, tzinfo=UTC)},
                                      today=date(2026, 11, 19))  # fmt: skip


# --- timely filing ---


@pytest.mark.parametrize(("left", "priority"), [(60, 940), (30, 970), (14, 986), (7, 993), (0, 1000), (-3, 1000)])
def test_filing_priority_rises_as_the_deadline_nears(left: int, priority: int) -> None:
    assert filing_priority(left) == priority


def test_filing_note() -> None:
    assert filing_note(12, date(2026, 12, 1)) == "Timely filing: 12 days left (deadline 2026-12-01)"
    assert filing_note(0, date(2026, 12, 1)) == "Timely filing: 0 days left (deadline 2026-12-01)"
    assert filing_note(-2, date(2026, 12, 1)) == "Timely filing: deadline passed 2 days ago (deadline 2026-12-01)"


def test_filing_alert_is_logged_once_per_threshold() -> None:
    assert filing_alert_is_new(60, None)
    assert not filing_alert_is_new(60, 60)
    assert filing_alert_is_new(30, 60)
    assert not filing_alert_is_new(60, 30)


# --- authorization watch (§8.3) ---


def test_weekly_rate_uses_the_last_four_weeks_only() -> None:
    assert weekly_rate(WEEKLY, TODAY) == 1.0
    assert weekly_rate([*WEEKLY, date(2026, 10, 20), TODAY], TODAY) == 1.0  # 29 days ago and today: outside
    assert weekly_rate([], TODAY) == 0.0
    assert weekly_rate(WEEKLY * 2, TODAY) == 2.0


def test_exhaustion_date_uses_scheduled_sessions_then_the_rate() -> None:
    # 3 left: the scheduled 11-25 session uses one, then 2 more weeks at 1/week → 12-09.
    assert exhaustion_date(3, [date(2026, 11, 25)], 1.0, TODAY) == date(2026, 12, 9)
    # Scheduled sessions alone use the last unit: the day of the session that uses it.
    assert exhaustion_date(2, [date(2026, 12, 2), date(2026, 11, 25), date(2026, 12, 9)], 1.0, TODAY) == date(
        2026, 12, 2
    )
    assert exhaustion_date(0, [], 1.0, TODAY) == TODAY
    assert exhaustion_date(5, [], 0.0, TODAY) is None
    assert exhaustion_date(3, [], 2.0, TODAY) == date(2026, 11, 29)  # ceil(3 × 7 / 2) = 11 days


def test_forecast_fires_when_units_run_out_within_the_lead_time() -> None:
    far = authorization_forecast(end_date=date(2027, 3, 31), remaining=3, past_session_days=WEEKLY,
                                 upcoming_days=[date(2026, 11, 25)], today=TODAY)  # fmt: skip
    assert far is None  # runs out 12-09, more than 14 days ahead
    near = authorization_forecast(end_date=date(2027, 3, 31), remaining=2, past_session_days=WEEKLY,
                                  upcoming_days=[date(2026, 11, 25)], today=TODAY)  # fmt: skip
    assert near == AuthForecast(date(2026, 12, 2), "runs out", 1.0, 1)


def test_forecast_fires_on_the_end_date_when_units_last_longer() -> None:
    forecast = authorization_forecast(end_date=date(2026, 11, 30), remaining=20, past_session_days=WEEKLY,
                                      upcoming_days=[date(2026, 11, 25)], today=TODAY)  # fmt: skip
    assert forecast == AuthForecast(date(2026, 11, 30), "expires", 1.0, 1)
    assert authorization_forecast(end_date=date(2026, 12, 3), remaining=20, past_session_days=[],
                                  upcoming_days=[], today=TODAY) is None  # fmt: skip
    assert authorization_forecast(end_date=date(2026, 12, 3), remaining=20, past_session_days=[],
                                  upcoming_days=[], today=TODAY, lead_days=21) is not None  # fmt: skip


def test_reauth_is_due_lead_time_before_the_forecast_never_before_today() -> None:
    assert reauth_due_day(date(2026, 12, 10), TODAY) == date(2026, 11, 26)
    assert reauth_due_day(date(2026, 11, 25), TODAY) == TODAY


def test_a_following_authorization_that_covers_the_gap_means_no_reauth_is_needed() -> None:
    expires = AuthForecast(date(2026, 11, 30), "expires", 1.0, 0)
    cpts = ["90837"]
    assert reauthorized(expires, cpts, [(date(2026, 12, 1), date(2027, 5, 31), ["90837", "90834"])])
    assert not reauthorized(expires, cpts, [(date(2026, 12, 2), date(2027, 5, 31), cpts)])  # a one-day gap
    assert not reauthorized(expires, cpts, [(date(2026, 12, 1), date(2027, 5, 31), ["96130"])])  # other service
    assert reauthorized(expires, [], [(date(2026, 12, 1), date(2027, 5, 31), ["96130"])])
    assert not reauthorized(expires, cpts, [])
    runs_out = AuthForecast(date(2026, 12, 2), "runs out", 1.0, 1)
    assert reauthorized(runs_out, cpts, [(date(2026, 11, 20), date(2027, 3, 31), cpts)])
    assert not reauthorized(runs_out, cpts, [(date(2026, 11, 20), date(2026, 12, 2), cpts)])


def test_reauth_reason_names_the_number_and_the_date() -> None:
    runs_out = AuthForecast(date(2026, 12, 2), "runs out", 1.0, 1)
    assert reauth_reason("AUTH123", runs_out, authorized=10, used=8) == (
        "authorization AUTH123 forecast to run out 2026-12-02 (8 of 10 used, 1 scheduled, ~1/week)"
    )
    expires = AuthForecast(date(2026, 11, 30), "expires", 1.0, 1)
    assert reauth_reason("A-9", expires, authorized=10, used=2) == "authorization A-9 expires 2026-11-30 (2 of 10 used)"


# --- KPI math (§9.1) ---


@pytest.mark.parametrize(
    ("days_old", "bucket"),
    [(-3, "0-30"), (0, "0-30"), (30, "0-30"), (31, "31-60"), (60, "31-60"), (61, "61-90"), (90, "61-90"),
     (91, "91-120"), (120, "91-120"), (121, "120+"), (400, "120+")],
)  # fmt: skip
def test_aging_bucket_by_date_of_service(days_old: int, bucket: str) -> None:
    assert kpis.aging_bucket(TODAY - timedelta(days=days_old), TODAY) == bucket


def test_bucket_starts_agree_with_aging_bucket() -> None:
    starts = kpis.bucket_starts(TODAY)
    assert starts[0] == ("0-30", date(2026, 10, 19))
    for days_old in range(-5, 200):
        day = TODAY - timedelta(days=days_old)
        by_start = next(label for label, start in starts if start is None or day >= start)
        assert by_start == kpis.aging_bucket(day, TODAY)


def test_aging_sums_balances_per_bucket() -> None:
    balances = [
        (date(2026, 11, 10), Decimal("150.00")),
        (date(2026, 11, 1), Decimal("100.00")),
        (date(2026, 9, 30), Decimal("75.50")),  # 49 days
        (date(2026, 6, 1), Decimal("20.00")),  # 170 days
    ]
    assert kpis.aging(balances, TODAY) == {
        "0-30": Decimal("250.00"),
        "31-60": Decimal("75.50"),
        "61-90": Decimal("0.00"),
        "91-120": Decimal("0.00"),
        "120+": Decimal("20.00"),
    }


def test_rates_and_days_in_ar() -> None:
    assert kpis.rate(19, 20) == Decimal("95.0")
    assert kpis.rate(1, 3) == Decimal("33.3")
    assert kpis.rate(2, 3) == Decimal("66.7")
    assert kpis.rate(0, 0) is None
    # $45,000 A/R over $90,000 charged in 90 days ($1,000/day) = 45 days.
    assert kpis.days_in_ar(Decimal("45000"), Decimal("90000")) == Decimal("45.0")
    assert kpis.days_in_ar(Decimal("1000"), Decimal("0")) is None
    assert kpis.money(Decimal("1.005")) == "1.01"
    assert kpis.money(None) == "0.00"
