"""NCCI procedure-to-procedure (PTP) and medically-unlikely (MUE) edits for the behavioural-health code set.

Versioned data: CMS publishes both practitioner tables quarterly. This is a curated subset, each value with the
source it was taken from. ``VERIFIED`` is False: the values have not yet been compared line by line with the
CMS practitioner files for ``QUARTER`` (no public repository carries them; replace the tables from the CMS
download when a quarter changes and set the flag).
"""

from __future__ import annotations

from dataclasses import dataclass

QUARTER = "2026Q4"
VERSION = "bh-curated-1"
VERIFIED = False
SOURCE = "CMS NCCI practitioner PTP and MUE tables (cms.gov/medicare/coding-billing/national-correct-coding-initiative)"
BYPASS_MODIFIERS = frozenset({"59", "XE", "XS", "XP", "XU"})

_CPT_CRISIS = "CPT parenthetical under 90839/90840 (do not report with other psychiatric services); NCCI manual ch. XI"
_BHI = "CMS MLN909432 Behavioral Health Integration Services: BHI (99484) is not billed with CoCM (99492-99494)"
_TESTING = "NCCI manual ch. XI (psychological/neuropsychological testing): distinct tests or evaluations only"
_FAMILY = "billing-rules 1.6 E11 and 2.1: individual and family psychotherapy the same day only as separate sessions"


@dataclass(frozen=True, slots=True)
class PtpEdit:
    column1: str
    column2: str
    modifier_indicator: int  # 0: never together; 1: together with 59/XE/XS/XP/XU when documented distinct
    source: str
    covered_by: str = ""  # a same-day rule that already reports this pair (then the PTP edit stays quiet)


@dataclass(frozen=True, slots=True)
class Mue:
    code: str
    limit: int  # units per patient per date of service by one provider
    source: str


_CRISIS_PAIRS = ("90846", "90847", "90849", "90853", "90863", "90882", "90887",
                 "96130", "96131", "96132", "96133", "96136", "96137", "96138", "96139")  # fmt: skip

PTP: tuple[PtpEdit, ...] = (
    *(PtpEdit("90839", code, 0, _CPT_CRISIS) for code in _CRISIS_PAIRS),
    *(PtpEdit(cocm, "99484", 0, _BHI) for cocm in ("99492", "99493", "99494")),
    PtpEdit("96130", "96132", 1, _TESTING),
    PtpEdit("96136", "96138", 1, _TESTING),
    *(PtpEdit(family, timed, 1, _FAMILY, covered_by="SAME-DAY-E11")
      for family in ("90846", "90847") for timed in ("90832", "90834", "90837")),
)  # fmt: skip

_MUE_SOURCE = "CMS practitioner MUE table, per date of service; value as commonly cited, to verify against the file"
MUE: tuple[Mue, ...] = tuple(
    Mue(code, limit, _MUE_SOURCE)
    for code, limit in (
        ("90791", 1), ("90792", 1), ("90839", 1), ("90840", 3), ("90849", 1), ("90863", 1), ("90882", 1),
        ("90887", 1), ("96127", 3), ("96130", 1), ("96131", 7), ("96132", 1), ("96133", 7), ("96136", 1),
        ("96137", 11), ("96138", 1), ("96139", 11), ("99484", 1), ("99492", 1), ("99493", 1), ("99494", 2),
    )
)  # fmt: skip

PTP_BY_PAIR: dict[tuple[str, str], PtpEdit] = {(e.column1, e.column2): e for e in PTP}
PTP_CODES: frozenset[str] = frozenset(c for e in PTP for c in (e.column1, e.column2))
MUE_BY_CODE: dict[str, Mue] = {m.code: m for m in MUE}


def ptp_pairs(codes: frozenset[str]) -> tuple[PtpEdit, ...]:
    """The PTP edits whose two codes are both in ``codes`` (one patient, one date, one provider)."""
    if len(codes & PTP_CODES) < 2:
        return ()
    return tuple(e for e in PTP if e.column1 in codes and e.column2 in codes)
