"""Small writers every outbound and simulated X12 document shares (pure, no I/O): cleaned text and identifiers,
segments without trailing separators, ST/SE with a computed count, and the ISA/GS … GE/IEA envelope with its
fixed 106-character ISA (x12 README pitfalls 1-5).

Separators are ``*`` ``:`` ``^`` ``~`` and never occur in data: text is cleaned with the 837 writer's
``clean_text`` (upper-case plain ASCII, separators stripped)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal

from backoffice.x12.claim837_format import clean_text

TERMINATOR = "~\n"


def text(value: str, limit: int = 60) -> str:
    """Plain upper-case ASCII without separators, cut to ``limit`` characters."""
    return clean_text(value or "")[:limit].strip()


def ident(value: str, limit: int = 80) -> str:
    """An identifier with any separator characters removed."""
    return "".join(c for c in (value or "") if c not in "*:^~\r\n")[:limit].strip()


def money(amount: Decimal) -> str:
    """Two decimals, ``-`` for a negative amount (a reversal)."""
    return f"{amount.quantize(Decimal('0.01')):.2f}"


def d8(value: date) -> str:
    return f"{value:%Y%m%d}"


def segment(*elements: str) -> str:
    """One segment with its empty trailing elements dropped (x12 README pitfall 4)."""
    end = len(elements)
    while end > 1 and not elements[end - 1]:
        end -= 1
    return "*".join(elements[:end]) + TERMINATOR


def transaction(kind: str, control: str, version: str, body: list[str]) -> list[str]:
    """ST + body + SE with SE01 counting ST to SE inclusive."""
    st = segment("ST", kind, control, version) if version else segment("ST", kind, control)
    return [st, *body, segment("SE", str(len(body) + 2), control)]


def check_control_number(control_number: int) -> str:
    """ISA13 as 9 digits; ValueError when it does not fit."""
    if isinstance(control_number, bool) or not isinstance(control_number, int) or not 0 < control_number <= 999_999_999:
        raise ValueError("control number (ISA13/GS06): must be a whole number from 1 to 999999999")
    return f"{control_number:09d}"


def _usage(usage: str) -> str:
    if usage not in ("T", "P"):
        raise ValueError(f"usage (ISA15): must be P or T (got {usage!r})")
    return usage


def interchange(
    *, sender: str, receiver: str, functional_id: str, version: str, now: datetime, control_number: int,
    transactions: list[list[str]], usage: str = "T",
) -> str:  # fmt: skip
    """One ISA/GS … GE/IEA around ``transactions`` (each already ST…SE); the ISA is the fixed 106 characters."""
    isa13 = check_control_number(control_number)
    sender_id, receiver_id = ident(sender, 15) or "SANDBOX", ident(receiver, 15) or "SANDBOX"
    out = [
        f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{sender_id:<15}*ZZ*{receiver_id:<15}*{now:%y%m%d}*{now:%H%M}*^*00501"
        f"*{isa13}*0*{_usage(usage)}*:{TERMINATOR}",
        segment("GS", functional_id, sender_id, receiver_id, f"{now:%Y%m%d}", f"{now:%H%M}", str(control_number),
                "X", version),
    ]  # fmt: skip
    for set_segments in transactions:
        out += set_segments
    out.append(segment("GE", str(len(transactions)), str(control_number)))
    out.append(segment("IEA", "1", isa13))
    return "".join(out)


def stable_number_text(*parts: str, digits: int = 9) -> str:
    """A deterministic ``digits``-digit number from ``parts`` (sha256; Python's hash() is salted per process)."""
    value = int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")
    return f"{value % 10**digits:0{digits}d}"
