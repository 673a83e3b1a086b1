"""Pure coverage rules: which existing coverage a new one ends, which overlap is refused, subscriber checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

RELATIONSHIPS = {"self": "18", "spouse": "01", "child": "19", "other": "G8"}  # the API/form token → X12 code


@dataclass(frozen=True)
class Span:
    """An existing coverage of the same priority: its id and dates (``end`` None: open-ended)."""

    id: int
    start: date
    end: date | None


@dataclass(frozen=True)
class Change:
    """What adding a coverage from ``start`` does: the coverages it ends (id → new end date)."""

    ends: dict[int, date]


def coverage_change(existing: list[Span], start: date, end: date | None) -> Change | tuple[str, str]:
    """The coverages of the same priority that the new one (``start``..``end``) ends the day before it starts, or
    (field, why) when it would overlap one that starts on or after its own start (dates must not overlap)."""
    if end is not None and end < start:
        return "effective_to", "must not be before effective_from"
    ends: dict[int, date] = {}
    for span in existing:
        if span.end is not None and span.end < start:
            continue  # ended before the new one starts: untouched
        if span.start >= start:
            if end is None or span.start <= end:
                return "effective_from", (
                    f"overlaps the coverage of the same priority from {span.start:%Y-%m-%d}; "
                    "end or change that one instead"
                )
            continue
        ends[span.id] = start - timedelta(days=1)
    return Change(ends)


def subscriber_problem(
    relationship: str, first_name: str | None, last_name: str | None, date_of_birth: date | None, sex: str | None
) -> tuple[str, str] | None:
    """(field, why) when a dependent's coverage lacks the subscriber's own name, date of birth or sex, or None."""
    if relationship not in RELATIONSHIPS:
        return "relationship", f"one of {', '.join(RELATIONSHIPS)}"
    if relationship == "self":
        return None
    for field, value in (("subscriber_first_name", first_name), ("subscriber_last_name", last_name),
                         ("subscriber_date_of_birth", date_of_birth), ("subscriber_sex", sex)):  # fmt: skip
        if not value:
            return field, "required when the patient is not the subscriber"
    if sex not in ("F", "M", "U"):
        return "subscriber_sex", "F, M or U"
    return None
