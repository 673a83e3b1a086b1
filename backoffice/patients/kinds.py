"""Patient and coverage values as X12 and the planner use them (pure; the models store them)."""

from __future__ import annotations

from enum import StrEnum


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"


class Relationship(StrEnum):
    """Patient's relationship to the subscriber, as X12 individual relationship codes."""

    SELF = "18"
    SPOUSE = "01"
    CHILD = "19"
    LIFE_PARTNER = "53"
    OTHER = "G8"


class CoveragePriority(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"
