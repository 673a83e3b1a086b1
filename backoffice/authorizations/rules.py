"""Which authorization a billed line draws on, and how much it takes (billing-rules §8.3 claim-time checks). Pure.

An authorization covers a line when the line's CPT is on it and the date of service is within its dates; it can
take the line when what is left is at least what the line needs: one visit per date of service (whatever the
number of lines it covers that day) for a visit authorization, the line's units otherwise. Among those that can,
the one ending first is used (its units would expire first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

REMAINING_ALERT = 2  # re-authorization alert when this few visits/units are left after the booked sessions (§8.3)


class AuthLike(Protocol):
    @property
    def key(self) -> int: ...
    @property
    def cpts(self) -> frozenset[str]: ...
    @property
    def remaining(self) -> int: ...
    @property
    def start(self) -> date: ...
    @property
    def end(self) -> date: ...
    @property
    def counts_visits(self) -> bool: ...


class Problem(StrEnum):
    NONE_ON_FILE = "none"  # no authorization lists the CPT
    OUT_OF_DATES = "dates"  # one lists it, but the date of service is outside its dates
    EXHAUSTED = "exhausted"  # one in force lists it, but too little is left


@dataclass(frozen=True, slots=True)
class Line:
    cpt: str
    units: int
    date_of_service: date


@dataclass(frozen=True, slots=True)
class Allocation:
    """Line index → the authorization key it draws on; uses: (key, date of service) → units or visits taken;
    problems: line index → why no authorization could take it."""

    by_line: dict[int, int]
    uses: dict[tuple[int, date], int]
    problems: dict[int, Problem]


def allocate(auths: Sequence[AuthLike], lines: Sequence[Line]) -> Allocation:
    """Give each line the authorization it draws on (see the module docstring), spending as it goes."""
    left = {a.key: a.remaining for a in auths}
    by_line: dict[int, int] = {}
    uses: dict[tuple[int, date], int] = {}
    problems: dict[int, Problem] = {}
    ordered = sorted(auths, key=lambda a: (a.end, a.key))
    for index, line in enumerate(lines):
        listing = [a for a in ordered if line.cpt in a.cpts]
        in_force = [a for a in listing if a.start <= line.date_of_service <= a.end]
        chosen = None
        for auth in in_force:
            need = _need(auth, line, uses)
            if left[auth.key] >= need:
                chosen, left[auth.key] = auth, left[auth.key] - need
                uses[(auth.key, line.date_of_service)] = uses.get((auth.key, line.date_of_service), 0) + need
                break
        if chosen is not None:
            by_line[index] = chosen.key
        elif listing:
            problems[index] = Problem.EXHAUSTED if in_force else Problem.OUT_OF_DATES
        else:
            problems[index] = Problem.NONE_ON_FILE
    return Allocation(by_line, uses, problems)


def _need(auth: AuthLike, line: Line, uses: dict[tuple[int, date], int]) -> int:
    if auth.counts_visits:  # one visit per day, however many of its lines this authorization covers
        return 0 if (auth.key, line.date_of_service) in uses else 1
    return max(line.units, 1)


def left_after_booked(remaining: int, booked: int) -> int:
    """What is left once the sessions already booked (scheduled, or held but not billed yet) are counted."""
    return remaining - booked


def runs_low(remaining: int, booked: int, threshold: int = REMAINING_ALERT) -> bool:
    """§8.3 trigger 1: alert when ``threshold`` or fewer are left after the booked sessions."""
    return left_after_booked(remaining, booked) <= threshold
