"""Input normalisers: every text, number and date a person or a file gives us is checked here, once, at the edge
(forms, query-string filters, the CSV and API imports), before anything else sees it. Pure: no Flask, no database.

- Text is NFC-normalised and refuses NUL and other control characters (tab, and newlines where a field is
  multi-line, excepted): PostgreSQL cannot store a NUL, and a stray escape code is never meant.
- Whole numbers are ASCII digits only: ``str.isdigit`` and ``int`` take ``²``, ``①`` or ``٣``, we do not.
- Money is a finite ``Decimal`` in plain notation with at most its column's places, inside a range that fits the
  column: no ``NaN``, ``Infinity`` or ``1e30``, no float ever.
- Dates are ISO ``YYYY-MM-DD`` and plausible relative to the ``today`` passed in (never the wall clock).
- Names and addresses that go into an 837 are checked against what X12 can carry (``x12_text``).

Each function raises ``InputProblem`` with a message that says what is wrong without repeating the value, so
callers prefix the field (``row 4, column minutes: ...``) and can show it even for PHI columns.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from anyascii import anyascii

EARLIEST_DATE = date(1900, 1, 1)
FUTURE_YEARS = 20  # no date we take is further ahead than this (payment plans, estimates, authorizations)
MONEY_MAX = Decimal("10000000")  # ten million: well inside Numeric(12, 2), and more than any one bill
INT_MAX = 2**31 - 1  # PostgreSQL integer
_ASCII_INT = re.compile(r"-?[0-9]+")
_ASCII_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LINE_BREAKS = frozenset("\n\r")
# X12 basic character set as the 837 writer keeps it (backoffice/x12/claim837_format.py), once upper-cased:
# letters, digits, space and & ' ( ) , - . / #. The product's delimiters * : ^ ~ and = < > are not among them.
X12_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 &'(),-./#")
_X12_NAMED = {"*": "an X12 separator (*)", "~": "an X12 separator (~)", ":": "an X12 separator (:)",
              "^": "an X12 separator (^)", "=": "'='", "<": "'<'", ">": "'>'", "\n": "a line break",
              "\r": "a line break", "\t": "a tab"}  # fmt: skip
# Latin letters with marks and typographic punctuation have one plain ASCII spelling (é → e, ß → ss, ’ → ');
# other scripts and symbols do not (a transliterated 北京 is a guess at a name, an emoji is no name at all).
_SAFE_CATEGORIES = frozenset({"Ll", "Lu", "Lt", "Pd", "Pi", "Pf", "Zs"})


class InputProblem(ValueError):
    """A value we refuse; the message says why without repeating the value."""


def control_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why ``text`` holds a character no field takes (NUL, other C0/C1 controls, line breaks in a one-line
    field), or None."""
    for char in text:
        if char == "\x00":
            return "contains a NUL character, which is not allowed"
        if char == "\t" or (multiline and char in _LINE_BREAKS):
            continue
        if char in _LINE_BREAKS:
            return "contains a line break; this field is one line"
        if unicodedata.category(char) == "Cc":
            return f"contains a control character (U+{ord(char):04X}), which is not allowed"
    return None


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` NFC-normalised (so é typed two ways compares equal), or InputProblem."""
    problem = control_problem(value, multiline=multiline)
    if problem:
        raise InputProblem(problem)
    return unicodedata.normalize("NFC", value)


def whole_number(raw: str | int, *, low: int = 0, high: int = INT_MAX) -> int:
    """An integer written in ASCII digits (an optional leading minus), from ``low`` to ``high``."""
    if isinstance(raw, bool):
        raise InputProblem("expected a whole number")
    if isinstance(raw, int):
        number = raw
    else:
        text = raw.strip()
        if not _ASCII_INT.fullmatch(text) or len(text) > 12:
            raise InputProblem(f"expected a whole number from {low} to {high} in digits 0-9")
        number = int(text)
    if not low <= number <= high:
        raise InputProblem(f"expected a whole number from {low} to {high}")
    return number


def money(raw: str | Decimal | int, *, low: Decimal = Decimal("0"), high: Decimal = MONEY_MAX,
          places: int = 2) -> Decimal:  # fmt: skip
    """An amount as a ``Decimal`` with ``places`` decimals: plain digits (``1,234.50`` and a leading ``$`` are
    taken), finite, at most ``places`` decimals, from ``low`` to ``high``. Floats are refused: they are not money."""
    if isinstance(raw, float | bool):
        raise InputProblem("expected an amount as text, such as 150.00")
    if isinstance(raw, Decimal | int):
        amount = Decimal(raw)
        if not amount.is_finite():
            raise InputProblem("expected an amount such as 150.00")
    else:
        text = raw.strip().replace(",", "").removeprefix("$")
        if not _ASCII_DECIMAL.fullmatch(text) or len(text) > 20:
            raise InputProblem("expected an amount such as 150.00, in digits 0-9")
        amount = Decimal(text)
    step = Decimal(1).scaleb(-places)
    try:
        exact = amount.quantize(step) == amount
    except InvalidOperation:
        exact = False
    if not exact:
        raise InputProblem(f"at most {places} decimal places")
    if not low <= amount <= high:
        raise InputProblem(f"expected an amount from {low:,} to {high:,}")
    return amount.quantize(step)


def date_problem(value: date, *, today: date, earliest: date = EARLIEST_DATE, future_days: int | None = None) -> (
        str | None):  # fmt: skip
    """Why ``value`` is not a plausible date relative to ``today``: before ``earliest`` (1900 unless narrower) or
    more than ``future_days`` ahead (FUTURE_YEARS unless narrower; 0: not in the future)."""
    ahead = timedelta(days=future_days) if future_days is not None else timedelta(days=365 * FUTURE_YEARS + 5)
    if value < earliest:
        return f"must be on or after {earliest.isoformat()}"
    if value > today + ahead:
        return "must not be in the future" if ahead.days == 0 else f"must be on or before {(today + ahead).isoformat()}"
    return None


def iso_date(raw: str, *, today: date, earliest: date = EARLIEST_DATE, future_days: int | None = None) -> date:
    """A ``YYYY-MM-DD`` date in ASCII digits that ``date_problem`` finds plausible."""
    text = raw.strip()
    try:
        value = date.fromisoformat(text) if _ISO_DATE.fullmatch(text) else None
    except ValueError:
        value = None
    if value is None:
        raise InputProblem("expected a date as YYYY-MM-DD")
    problem = date_problem(value, today=today, earliest=earliest, future_days=future_days)
    if problem:
        raise InputProblem(problem)
    return value


def x12_text(value: str, *, max_length: int) -> str:
    """The plain-ASCII spelling an 837 will carry for a name or an address line (``Muñoz`` → ``Munoz``, ``O’Brien``
    → ``O'Brien``), or InputProblem naming the first character X12 cannot carry (an emoji, another script, a
    separator ``* : ^ ~``, ``= < >``, a line break) or the length limit of the element."""
    spelled = []
    for char in unicodedata.normalize("NFC", value):
        if char in X12_CHARACTERS:
            spelled.append(char)
            continue
        if char in _X12_NAMED:
            raise InputProblem(f"contains {_X12_NAMED[char]}, which an 837 cannot carry")
        if unicodedata.category(char) == "Mn":  # a mark left over after NFC (an accent with no precomposed letter)
            continue
        ascii_form = anyascii(char)
        if (unicodedata.category(char) not in _SAFE_CATEGORIES or not _is_latin(char) or not ascii_form
                or not set(ascii_form) <= X12_CHARACTERS):  # fmt: skip
            raise InputProblem(f"contains a character an 837 cannot carry (U+{ord(char):04X}); use plain letters")
        spelled.append(ascii_form)
    text = " ".join("".join(spelled).split())
    if len(text) > max_length:
        raise InputProblem(f"at most {max_length} characters (the 837 limit)")
    return text


def _is_latin(char: str) -> bool:
    """Latin letters (with their marks), combining marks, spaces and dashes/quotes: what transliterates safely."""
    name = unicodedata.name(char, "")
    return unicodedata.category(char) in ("Pd", "Pi", "Pf", "Zs") or name.startswith("LATIN ")


def latin_ascii(value: str) -> str:
    """``value`` with its Latin letters and typographic punctuation spelled in ASCII the way ``x12_text`` spells
    them; any other character is left as it is (for the 837 writer, which drops what X12 cannot carry)."""
    return "".join(anyascii(char) if not char.isascii() and _is_latin(char) else char
                   for char in unicodedata.normalize("NFC", value))  # fmt: skip


def csv_header_problem(header: list[str] | None, columns: Sequence[str], optional: Sequence[str] = ()) -> str | None:
    """Why a CSV header row is not a file format of ``columns`` (required) and ``optional`` ones, or None. Column
    order is free; names are exact."""
    if not header:
        return "the file is empty: expected a header row with the columns " + ", ".join(columns)
    names = [name.strip() for name in header]
    missing = [c for c in columns if c not in names]
    unknown = [n for n in names if n not in columns and n not in optional]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    parts = []
    if missing:
        parts.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown column(s): {', '.join(n or '(blank name)' for n in unknown)}")
    if duplicated:
        parts.append(f"repeated column(s): {', '.join(duplicated)}")
    return "; ".join(parts) or None
