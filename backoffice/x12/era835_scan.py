"""Splitting a file into its 835 transaction sets as plain lists of strings (pure, no I/O).

The fast path splits well-formed interchanges (each starting with an ISA, ST/SE inside GS/GE) with plain
``str.split``: making an ``x12.Segment`` per segment costs more than parsing the 835 itself. Anything else
(a file starting at GS or ST, data outside ST/SE, a missing IEA, a count or control number that disagrees) goes
through the reference reader and ``envelopes.complete_interchanges``, so both paths yield the same segments and
positions, and a file whose envelopes are incomplete (cut short) or inconsistent is refused, naming the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

from backoffice.x12 import reader as x12
from backoffice.x12.envelopes import complete_interchanges

WHITESPACE = "\r\n\t "


@dataclass(slots=True)
class RawTransaction:
    """One 835 ST/SE: ``segments[i]`` is [id, element 1, element 2, ...] (1-based, as in the guides)."""

    st: list[str]
    st_position: int
    segments: list[list[str]]  # between ST and SE, exclusive
    positions: list[int]  # the 1-based file position of each segment, as x12.Segment.position
    component: str  # ISA16 of the interchange


def where(parts: list[str], position: int) -> str:
    """The segment as ``str(x12.Segment)`` names it: "segment 12 (CLP)"."""
    return f"segment {position} ({parts[0]})"


def transactions_835(text: str, *, complete: bool = False) -> list[RawTransaction]:
    """Every 835 transaction set in ``text``; X12Error (from the reader) when the envelopes cannot be read, and with
    ``complete`` also when an ISA/IEA, GS/GE or ST/SE pair is missing or its count or control number disagrees."""
    fast = _fast(text)
    return fast if fast is not None else _from_reader(text, complete)


def _from_reader(text: str, complete: bool) -> list[RawTransaction]:
    out = []
    for interchange in complete_interchanges(text) if complete else x12.interchanges(text):
        for group in interchange.groups:
            for transaction in group.transactions:
                if transaction.kind != "835":
                    continue
                st = transaction.st
                out.append(
                    RawTransaction(
                        [st.id, *st.elements],
                        st.position,
                        [[seg.id, *seg.elements] for seg in transaction.segments],
                        [seg.position for seg in transaction.segments],
                        st.separators.component,
                    )
                )
    return out


def _fast(text: str) -> list[RawTransaction] | None:
    """The transaction sets of well-formed interchanges whose trailers agree, or None when the file needs the
    reference reader (which reads it, or names what is wrong)."""
    text = text.lstrip("\ufeff" + WHITESPACE)
    out: list[RawTransaction] = []
    number = 0
    while text:
        if not text.startswith("ISA"):
            return None
        seps = x12.separators_of(text)
        element, terminator = seps.element, seps.segment
        raws = text.split(terminator)
        in_group = ended = False
        current: RawTransaction | None = None
        isa13 = gs06 = st02 = ""
        groups = sets = count = 0
        for index, raw in enumerate(raws):
            raw = raw.strip(WHITESPACE)
            if not raw:
                continue
            number += 1
            parts = raw.split(element)
            parts[0] = sid = parts[0].strip()  # as the reader does
            if st02:
                count += 1
                if sid == "SE":
                    if parts[1:3] != [str(count), st02]:
                        return None
                    current, st02 = None, ""
                elif sid in ("ST", "GS", "GE", "ISA", "IEA"):
                    return None
                elif current is not None:
                    current.segments.append(parts)
                    current.positions.append(number)
            elif sid == "ST" and in_group and len(parts) > 2 and parts[2]:
                st02, count, sets = parts[2], 1, sets + 1
                current = RawTransaction(parts, number, [], [], seps.component) if parts[1] == "835" else None
                if current is not None:
                    out.append(current)
            elif sid == "GS" and not in_group and len(parts) > 6:
                in_group, gs06, sets, groups = True, parts[6], 0, groups + 1
            elif sid == "GE" and in_group:
                if parts[1:3] != [str(sets), gs06]:
                    return None
                in_group = False
            elif sid == "IEA" and not in_group:
                if parts[1:3] != [str(groups), isa13]:
                    return None
                text = terminator.join(raws[index + 1 :]).lstrip(WHITESPACE)
                ended = True
                break
            elif sid == "ISA" and index == 0 and len(parts) > 13:
                isa13 = parts[13]
            else:
                return None
        if not ended:
            return None
    return out
