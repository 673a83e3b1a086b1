"""Reading X12: separators from each ISA, segments, and the ISA/GS/ST envelopes (pure, no I/O).

Tolerant of what real payers send (any separators declared by the ISA, an unpadded ISA, several ISAs or STs
in one file, line breaks between segments, a missing ST03) and strict in what it reports: an ``X12Error``
names the segment position and id. Element access is 1-based, as in the implementation guides.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class X12Error(ValueError):
    """The file cannot be read as X12; the message names the segment (position and id) and what is wrong."""


@dataclass(frozen=True, slots=True)
class Separators:
    element: str
    component: str
    repetition: str | None
    segment: str


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment. ``seg[1]`` is its first element; a missing element reads as an empty string."""

    id: str
    elements: tuple[str, ...]
    position: int  # 1-based position of the segment in the file
    separators: Separators

    def __getitem__(self, n: int) -> str:
        return self.elements[n - 1] if 0 < n <= len(self.elements) else ""

    def components(self, n: int) -> tuple[str, ...]:
        """Element ``n`` split on the component separator (``HC:90834:95`` → ``("HC", "90834", "95")``)."""
        value = self[n]
        return tuple(value.split(self.separators.component)) if value else ()

    def component(self, n: int, k: int) -> str:
        parts = self.components(n)
        return parts[k - 1] if 0 < k <= len(parts) else ""

    def __str__(self) -> str:
        return f"segment {self.position} ({self.id})"


@dataclass
class Transaction:
    st: Segment
    segments: list[Segment] = field(default_factory=list)  # between ST and SE, exclusive
    se: Segment | None = None

    @property
    def kind(self) -> str:
        return self.st[1]


@dataclass
class Group:
    gs: Segment | None  # None: a bare transaction set sent without its GS (read, not validated)
    transactions: list[Transaction] = field(default_factory=list)
    ge: Segment | None = None


@dataclass
class Interchange:
    isa: Segment | None  # None: a file that starts at GS or ST (some payer exports do)
    separators: Separators
    groups: list[Group] = field(default_factory=list)
    iea: Segment | None = None
    ta1: list[Segment] = field(default_factory=list)  # interchange acknowledgments: between ISA and IEA, no group


BYTE_ORDER_MARKS = (("utf-8-sig", b"\xef\xbb\xbf"), ("utf-16", b"\xff\xfe"), ("utf-16", b"\xfe\xff"))


def decode(data: bytes) -> str:
    """The text of an X12 file as received: a leading byte-order mark (Windows tools write one) is dropped, UTF-16
    is decoded, and a byte outside ASCII reads as U+FFFD, never an exception (the envelope checks then name it)."""
    for encoding, mark in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data.decode(encoding, errors="replace").lstrip("\ufeff")
    return data.decode("ascii", errors="replace")


def separators_of(text: str, start: int = 0) -> Separators:
    """The separators an ISA at ``start`` declares (element after 'ISA', component = ISA16, then the terminator)."""
    if text[start : start + 3] != "ISA" or len(text) < start + 4:
        raise X12Error(f"no ISA at offset {start}: an X12 interchange starts with ISA")
    element = text[start + 3]
    position = start + 3  # the separator before ISA01; ISA16 follows the 16th
    for _ in range(15):
        position = text.find(element, position + 1)
        if position < 0:
            raise X12Error("segment 1 (ISA): fewer than 16 elements")
    component, terminator = text[position + 1 : position + 2], text[position + 2 : position + 3]
    if not component or not terminator or terminator.isalnum():
        raise X12Error("segment 1 (ISA): cannot find the component separator (ISA16) and segment terminator")
    isa11 = text[start:position].split(element)[11]
    repetition = isa11 if len(isa11) == 1 and not isa11.isalnum() else None
    return Separators(element, component, repetition, terminator)


def guessed_separators(text: str) -> Separators:
    """Separators of a file without an ISA: the character after the first segment id, ``~`` (or a line break)."""
    index = 0
    while index < len(text) and text[index].isalnum():
        index += 1
    if index not in (2, 3) or index >= len(text):
        raise X12Error("no ISA at the start: the file is empty or not X12")
    terminator = "~" if "~" in text else "\n"
    return Separators(text[index], ":", "^", terminator)


def segments(text: str) -> Iterator[Segment]:
    """Every segment of every interchange in ``text``, in order; each interchange uses its own separators."""
    text = text.lstrip("\ufeff \t\r\n")
    position, number = 0, 0
    while position < len(text):
        seps = separators_of(text, position) if text.startswith("ISA", position) else guessed_separators(text)
        while position < len(text):
            end = text.find(seps.segment, position)
            raw = text[position : end if end >= 0 else len(text)].strip("\r\n\t ")
            position = len(text) if end < 0 else end + 1
            if not raw:
                continue
            number += 1
            parts = raw.split(seps.element)
            seg = Segment(parts[0].strip(), tuple(parts[1:]), number, seps)
            yield seg
            if seg.id == "IEA":
                break
        while position < len(text) and text[position] in "\r\n\t ":
            position += 1


def interchanges(text: str) -> list[Interchange]:
    """The envelopes of ``text``; raises X12Error naming the segment when they are not well formed."""
    result: list[Interchange] = []
    group: Group | None = None
    transaction: Transaction | None = None
    for seg in segments(text):
        if seg.id == "ISA":
            result.append(Interchange(seg, seg.separators))
            group = transaction = None
        elif not result and seg.id not in ("GS", "ST"):
            raise X12Error(f"{seg}: data before the first ISA")
        elif seg.id == "GS":
            if not result:
                result.append(Interchange(None, seg.separators))
            group = Group(seg)
            result[-1].groups.append(group)
        elif seg.id == "ST":
            if not result:
                result.append(Interchange(None, seg.separators))
            if group is None:
                if result[-1].isa is not None:
                    raise X12Error(f"{seg}: ST outside a GS/GE functional group")
                group = Group(None)
                result[-1].groups.append(group)
            transaction = Transaction(seg)
            group.transactions.append(transaction)
        elif seg.id == "SE":
            if transaction is None:
                raise X12Error(f"{seg}: SE without its ST")
            transaction.se, transaction = seg, None
        elif seg.id == "GE":
            if group is None:
                raise X12Error(f"{seg}: GE without its GS")
            group.ge, group = seg, None
        elif seg.id == "IEA":
            result[-1].iea = seg
        elif seg.id == "TA1" and result and group is None and transaction is None:
            result[-1].ta1.append(seg)
        elif transaction is None:
            raise X12Error(f"{seg}: segment outside a transaction set (ST/SE)")
        else:
            transaction.segments.append(seg)
    if not result:
        raise X12Error("no ISA found: the file is empty or not X12")
    return result


def transactions(text: str, kind: str | None = None) -> Iterator[tuple[Interchange, Group, Transaction]]:
    """Every transaction set in ``text`` (optionally only ST01 == ``kind``) with its envelopes."""
    for interchange in interchanges(text):
        for group in interchange.groups:
            for transaction in group.transactions:
                if kind is None or transaction.kind == kind:
                    yield interchange, group, transaction


def parse_all(text: str, kind: str, parse: Callable[[Transaction], Iterable[T]]) -> list[T]:
    """``parse`` applied to every ST01 == ``kind`` transaction of ``text``, results joined in order.

    Raises X12Error when the file holds no such transaction set.
    """
    found = False
    results: list[T] = []
    for _, _, transaction in transactions(text, kind):
        found = True
        results.extend(parse(transaction))
    if not found:
        raise X12Error(f"no {kind} transaction set (ST*{kind}) in the file")
    return results
