"""Which authorization a billed line draws on and how much it takes (billing-rules §8.3): pure, no app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from backoffice.authorizations.rules import Line, Problem, allocate, runs_low

DOS = date(2026, 11, 18)


@dataclass(frozen=True)
class A:
    key: int
    cpts: frozenset[str]
    remaining: int
    start: date = date(2026, 1, 1)
    end: date = date(2026, 12, 31)
    counts_visits: bool = True


def test_a_visit_authorization_takes_one_visit_per_day_whatever_the_lines() -> None:
    auth = A(1, frozenset({"90837", "90785"}), 1)
    result = allocate([auth], [Line("90837", 1, DOS), Line("90785", 1, DOS)])
    assert result.by_line == {0: 1, 1: 1} and result.uses == {(1, DOS): 1} and not result.problems


def test_a_unit_authorization_takes_the_units_of_each_line() -> None:
    auth = A(1, frozenset({"96130", "96131"}), 3, counts_visits=False)
    result = allocate([auth], [Line("96130", 1, DOS), Line("96131", 2, DOS)])
    assert result.uses == {(1, DOS): 3} and not result.problems
    short = allocate([auth], [Line("96130", 1, DOS), Line("96131", 3, DOS)])
    assert short.problems == {1: Problem.EXHAUSTED} and short.uses == {(1, DOS): 1}


def test_the_authorization_ending_first_is_used_first() -> None:
    late, soon = A(1, frozenset({"90837"}), 5, end=date(2027, 3, 1)), A(2, frozenset({"90837"}), 5)
    assert allocate([late, soon], [Line("90837", 1, DOS)]).by_line == {0: 2}


def test_why_no_authorization_takes_a_line() -> None:
    other_code = A(1, frozenset({"90834"}), 5)
    expired = A(2, frozenset({"90837"}), 5, end=date(2026, 11, 17))
    spent = A(3, frozenset({"90837"}), 0)
    line = [Line("90837", 1, DOS)]
    assert allocate([], line).problems == {0: Problem.NONE_ON_FILE}
    assert allocate([other_code], line).problems == {0: Problem.NONE_ON_FILE}
    assert allocate([expired], line).problems == {0: Problem.OUT_OF_DATES}
    assert allocate([expired, spent], line).problems == {0: Problem.EXHAUSTED}


def test_two_days_on_one_claim_take_two_visits() -> None:
    auth = A(1, frozenset({"90837"}), 1)
    result = allocate([auth], [Line("90837", 1, DOS), Line("90837", 1, date(2026, 11, 19))])
    assert result.by_line == {0: 1} and result.problems == {1: Problem.EXHAUSTED}


def test_runs_low_at_two_left_after_the_booked_sessions() -> None:
    assert runs_low(2, 0) and runs_low(4, 2) and not runs_low(3, 0)
