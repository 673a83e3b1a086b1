"""Envelope integrity of an X12 file (pure, no I/O): every ISA/IEA, GS/GE and ST/SE pair present, each trailer
repeating its header's control number and counting what it closes.

A file that fails here was cut short or put together wrongly: it must not be posted, because a later complete copy
would then be refused as a duplicate. Each problem names the segment (position and id) and the element.
"""

from __future__ import annotations

from backoffice.x12 import reader as x12

TRAILERS = {"ISA": "IEA", "GS": "GE", "ST": "SE"}


def trailer_problems(
    header: x12.Segment, control: int, trailer: x12.Segment | None, what: str, count: int, holds: str
) -> list[str]:
    """IEA/GE/SE: present, element 2 repeats the header's control number, element 1 counts what it closes."""
    if trailer is None:
        return [f"{header}: the {what} has no {TRAILERS[header.id]} (the file may be cut short)"]
    problems = []
    name = trailer.id
    if trailer[2].strip() != header[control].strip():
        problems.append(f"{trailer}: {name}02 {trailer[2]!r} differs from {header.id}{control:02d} {header[control]!r}")
    if trailer[1].strip().lstrip("0") != str(count).lstrip("0"):
        the = "group" if what == "functional group" else what
        problems.append(f"{trailer}: {name}01 {trailer[1]!r} but the {the} " + holds.format(n=count))
    return problems


def interchange_problems(interchange: x12.Interchange) -> list[str]:
    """ISA present with a 9-digit ISA13, and its IEA counting the functional groups."""
    isa = interchange.isa
    if isa is None:
        first = interchange.groups[0].gs if interchange.groups and interchange.groups[0].gs else None
        return [f"{first or 'the file'}: no ISA interchange header before it"]
    problems = []
    if not (len(isa[13].strip()) == 9 and isa[13].strip().isdigit()):
        problems.append(f"{isa}: ISA13 {isa[13]!r} must be 9 digits")
    groups = len(interchange.groups)
    problems += trailer_problems(isa, 13, interchange.iea, "interchange", groups, "holds {n} functional group(s)")
    return problems


def group_problems(group: x12.Group) -> list[str]:
    """GS present and its GE counting the transaction sets and repeating GS06."""
    if group.gs is None:
        st = group.transactions[0].st if group.transactions else None
        return [f"{st or 'a transaction set'}: not inside a GS/GE functional group"]
    count = len(group.transactions)
    return trailer_problems(group.gs, 6, group.ge, "functional group", count, "holds {n} transaction set(s)")


def transaction_problems(transaction: x12.Transaction) -> list[str]:
    """SE present, repeating ST02 and counting the segments from ST to SE inclusive."""
    count = len(transaction.segments) + 2
    return trailer_problems(transaction.st, 2, transaction.se, "transaction set", count, "has {n} segments (ST to SE)")


def envelope_problems(interchanges: list[x12.Interchange]) -> list[str]:
    """Every envelope problem of a read file, in file order; [] when every pair is complete and agrees."""
    problems: list[str] = []
    for interchange in interchanges:
        problems += interchange_problems(interchange)
        for group in interchange.groups:
            problems += group_problems(group)
            for transaction in group.transactions:
                problems += transaction_problems(transaction)
    return problems


def complete_interchanges(text: str) -> list[x12.Interchange]:
    """The interchanges of ``text`` when its envelopes are complete and agree; X12Error naming every problem."""
    interchanges = x12.interchanges(text)
    problems = envelope_problems(interchanges)
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise x12.X12Error(f"incomplete or inconsistent envelopes: {shown}")
    return interchanges
