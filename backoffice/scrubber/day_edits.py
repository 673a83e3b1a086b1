"""Day-level coding edits over one patient's sessions on one date with one rendering NPI (pure).

NCCI procedure-to-procedure pairs and medically unlikely edits (versioned data, ``coding/ncci.py``), the payer's
own daily unit limits, and modifier 25 on an E/M when a separately identifiable service is billed the same day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import time
from typing import Protocol

from backoffice.coding import cpt, hcpcs, ncci, units
from backoffice.coding.rules import Finding, LineDraft, PayerRules
from backoffice.scrubber.catalogue import BY_ID


class _Input(Protocol):
    start_time: time | None


def finding(rule_id: str, **values: object) -> Finding:
    """A Finding for a scrubber rule, its message filled in with ``values``."""
    rule = BY_ID[rule_id]
    return Finding(rule.id, rule.severity, rule.message_template.format(**values), rule.field, rule.fix)


def with_modifier(line: LineDraft, modifier: str) -> LineDraft:
    """``line`` with ``modifier`` appended (at most 4; never twice)."""
    if modifier in line.modifiers or len(line.modifiers) >= cpt.MAX_MODIFIERS:
        return line
    return replace(line, modifiers=(*line.modifiers, modifier))


def coding_edits(
    members: list[int],
    starts: Sequence[time | None],
    minutes: Sequence[int],
    payer: PayerRules,
    lines: dict[int, tuple[LineDraft, ...]],
    extra: dict[int, list[Finding]],
) -> None:
    """Modifier 25 / E12, the eight-minute rule over the day, NCCI PTP and MUE, and the payer's unit limits over
    one day (members in time order)."""
    coding = payer.coding
    day_codes = {line.cpt for i in members for line in lines[i]}
    if len(members) > 1 and coding.fifteen_minute_rule == units.CMS_EIGHT_MINUTE and day_codes & _FIFTEEN:
        _eight_minute_day(members, minutes, lines, extra)
    if day_codes & cpt.SEPARATELY_IDENTIFIABLE and day_codes & cpt.EM_OFFICE:
        _modifier_25(members, lines, extra, coding.em_modifier_25)
    if not coding.ncci_edits and not coding.max_units:
        return
    totals: dict[str, int] = {}
    carrier: dict[str, int] = {}
    for i in members:
        for line in lines[i]:
            totals[line.cpt] = totals.get(line.cpt, 0) + line.units
            carrier[line.cpt] = i
    if coding.ncci_edits:
        for edit in ncci.ptp_pairs(frozenset(totals)):
            if not edit.covered_by:
                _ptp(edit, members, starts, payer.separate_session_modifier, lines, extra)
        for code, count in totals.items():
            mue = ncci.MUE_BY_CODE.get(code)
            if mue is not None and count > mue.limit:
                extra[carrier[code]].append(
                    finding("NCCI-MUE", code=code, units=count, limit=mue.limit, quarter=ncci.QUARTER)
                )
    for code, limit in coding.max_units.items():
        if totals.get(code, 0) > limit:
            extra[carrier[code]].append(finding("PAYER-MAX-UNITS", code=code, units=totals[code], limit=limit))


_FIFTEEN = frozenset(c.code for c in hcpcs.CODES.values() if c.unit_kind == hcpcs.FIFTEEN_MINUTES)


def _eight_minute_day(
    members: list[int], minutes: Sequence[int], lines: dict[int, tuple[LineDraft, ...]], extra: dict[int, list[Finding]]
) -> None:
    """CMS eight-minute rule: the day's 15-minute services are billed by their total time, the units going to the
    services with the most minutes; a code on several sessions is billed once, on its first line."""
    timed = [(i, line.cpt) for i in members for line in lines[i] if line.cpt in _FIFTEEN]
    if len(timed) < 2:
        return
    by_code: dict[str, int] = {}
    for i, code in timed:
        by_code[code] = by_code.get(code, 0) + minutes[i]
    given = units.eight_minute_day(by_code)
    total = sum(by_code.values())
    placed: set[str] = set()
    for i in dict.fromkeys(i for i, _ in timed):
        kept = []
        for line in lines[i]:
            if line.cpt not in _FIFTEEN:
                kept.append(line)
            elif line.cpt not in placed and given[line.cpt]:
                placed.add(line.cpt)
                kept.append(replace(line, units=given[line.cpt]))
        lines[i] = tuple(kept)
        shown = ", ".join(f"{code} x{given[code]}" for code in by_code if given[code]) or "no unit"
        extra[i].append(finding("EIGHT-MINUTE-DAY", total=total, units=shown))


def _modifier_25(
    members: list[int], lines: dict[int, tuple[LineDraft, ...]], extra: dict[int, list[Finding]], allowed: bool
) -> None:
    """25 on each E/M the coding engine did not already mark, when another session that day has 96127/testing."""
    for i in members:
        em = [line for line in lines[i] if line.cpt in cpt.EM_OFFICE and "25" not in line.modifiers]
        if not em:
            continue
        here = {line.cpt for line in lines[i]} & cpt.SEPARATELY_IDENTIFIABLE
        other = here or {line.cpt for j in members if j != i for line in lines[j]} & cpt.SEPARATELY_IDENTIFIABLE
        if not other:
            continue
        if not allowed or here:  # the payer wants no 25 (or the engine was told not to add it): E12 as before
            if "96127" in other:
                extra[i].append(finding("SAME-DAY-E12", b=em[0].cpt))
            continue
        lines[i] = tuple(with_modifier(line, "25") if line.cpt in cpt.EM_OFFICE else line for line in lines[i])
        extra[i].append(finding("SAME-DAY-25", em=em[0].cpt, other=min(other)))


def _ptp(
    edit: ncci.PtpEdit,
    members: list[int],
    starts: Sequence[time | None],
    modifier: str,
    lines: dict[int, tuple[LineDraft, ...]],
    extra: dict[int, list[Finding]],
) -> None:
    """One PTP pair present on the day: allowed only with indicator 1 and a bypass modifier (or separate sessions)."""
    first = [i for i in members if any(line.cpt == edit.column1 for line in lines[i])]
    second = [i for i in members if any(line.cpt == edit.column2 for line in lines[i])]
    target = second[-1]
    values = {"a": edit.column1, "b": edit.column2, "quarter": ncci.QUARTER, "indicator": edit.modifier_indicator}
    if edit.modifier_indicator == 0:
        extra[target].append(finding("NCCI-PTP", **values, hint="; no modifier allows it"))
        return
    if any(set(line.modifiers) & ncci.BYPASS_MODIFIERS for line in lines[target] if line.cpt == edit.column2):
        return
    separate = set(first).isdisjoint(second) and all(starts[i] is not None for i in (*first, *second))
    separate = separate and len({starts[i] for i in (*first, *second)}) == len({*first, *second})
    if not separate:
        extra[target].append(finding("NCCI-PTP", **values, hint="; allowed with 59/XE/XS/XP/XU only for distinct "
                                                                "services, shown as separate sessions"))  # fmt: skip
        return
    for i in second:
        lines[i] = tuple(with_modifier(line, modifier) if line.cpt == edit.column2 else line for line in lines[i])
    extra[target].append(finding("NCCI-PTP-MODIFIER", **values, m=modifier))
