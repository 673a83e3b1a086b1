"""Unit rules: how many units a timed code earns for its minutes (pure).

* CPT time rule (CPT introduction, "Time"): a unit of time is attained when its midpoint is passed: a 60-minute
  code at 31 minutes, a second hour at 91; a 30-minute code at 16, a second at 46.
* CMS eight-minute rule (Medicare Claims Processing Manual ch. 5 §20.2) for 15-minute codes: 8-22 minutes is one
  unit, 23-37 two, ... computed on the *total* timed minutes of the day and then given to the services with the
  most minutes, so several short services can earn a unit together.
* Midpoint rule (most state Medicaid manuals for HCPCS "per 15 minutes" codes): the same thresholds, counted
  for each code on its own, so two 7-minute services earn nothing.
* Full units: a payer that pays only complete 15-minute units (minutes // 15).
"""

from __future__ import annotations

CMS_EIGHT_MINUTE = "cms_8_minute"
MIDPOINT = "midpoint"
FULL_UNITS = "full_units"
FIFTEEN_MINUTE_RULES = (CMS_EIGHT_MINUTE, MIDPOINT, FULL_UNITS)
SOURCES = {
    CMS_EIGHT_MINUTE: "CMS Medicare Claims Processing Manual ch. 5 §20.2 (eight-minute rule)",
    MIDPOINT: "CPT time rule (unit attained when the midpoint is passed), per code",
    FULL_UNITS: "payer policy: complete 15-minute units only",
}


def midpoint_units(minutes: int, block: int) -> int:
    """Units of a ``block``-minute code for ``minutes`` by the CPT rule: one at block/2 + 1, one more per block."""
    threshold = block // 2 + 1
    if minutes < threshold:
        return 0
    return (minutes - threshold) // block + 1


def fifteen_minute_units(minutes: int, rule: str) -> int:
    """Units of one 15-minute code alone on its day under ``rule`` (the two midpoint rules agree for one code)."""
    if rule == FULL_UNITS:
        return max(minutes, 0) // 15
    return midpoint_units(minutes, 15)


def eight_minute_day(minutes_by_code: dict[str, int]) -> dict[str, int]:
    """CMS eight-minute rule over one day's 15-minute services: units for the total, given out by most minutes.

    Every full 15 minutes of a code earns it a unit first; the units left go to the largest remainders
    (ties: the code listed first). The sum always equals the units for the total minutes.
    """
    total_units = midpoint_units(sum(minutes_by_code.values()), 15)
    units = {code: minutes // 15 for code, minutes in minutes_by_code.items()}
    left = total_units - sum(units.values())
    order = sorted(minutes_by_code, key=lambda code: -(minutes_by_code[code] % 15))
    for code in order:
        if left <= 0:
            break
        units[code] += 1
        left -= 1
    return units
