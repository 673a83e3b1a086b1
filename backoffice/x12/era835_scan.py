"""Splitting a file into its 835 transaction sets as plain lists of strings (pure, no I/O).

The fast path splits well-formed interchanges (each starting with an ISA, ST/SE inside GS/GE) with plain
``str.split``: making an ``x12.Segment`` per segment costs more than parsing the 835 itself. Anything else
(a file starting at GS or ST, data outside ST/SE, a missing IEA) goes through ``x12.transactions``, the
reference reader, so both paths yield the same segments, positions and errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from backoffice.x12 import reader as x12

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


def transactions_835(text: str) -> list[RawTransaction]:
    """Every 835 transaction set in ``text``; raises X12Error (from the reader) when the envelopes are broken."""
    fast = _fast(text)
    return fast if fast is not None else _from_reader(text)


def _from_reader(text: str) -> list[RawTransaction]:
    out = []
    for _, _, transaction in x12.transactions(text, "835"):
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
    """The transaction sets of well-formed interchanges, or None when the file needs the reference reader."""
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
        for index, raw in enumerate(raws):
            raw = raw.strip(WHITESPACE)
            if not raw:
                continue
            number += 1
            parts = raw.split(element)
            parts[0] = sid = parts[0].strip()  # as the reader does
            if current is not None:
                if sid == "SE":
                    current = None
                elif sid in ("ST", "GS", "GE", "ISA", "IEA"):
                    return None
                else:
                    current.segments.append(parts)
                    current.positions.append(number)
            elif sid == "ST" and in_group:
                current = RawTransaction(parts, number, [], [], seps.component)
                if parts[1:2] == ["835"]:
                    out.append(current)
            elif sid == "GS" and not in_group:
                in_group = True
            elif sid == "GE" and in_group:
                in_group = False
            elif sid == "IEA" and not in_group:
                text = terminator.join(raws[index + 1 :]).lstrip(WHITESPACE)
                ended = True
                break
            elif not (sid == "ISA" and index == 0):
                return None
        if not ended:
            return None
    return out
