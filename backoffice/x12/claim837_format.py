"""Formatting and checking values for the 837P writer: plain-ASCII text, money, dates, addresses, segments.

``Field`` raises ``ValueError`` naming where the bad value is (``claim 'PCN1': line 2 charge: ...``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from backoffice.inputs import latin_ascii
from backoffice.orgs.rules import npi_problem
from backoffice.x12.claim837_model import Address

VERSION = "005010X222A1"
MAX_CLAIMS_PER_TRANSACTION = 5000  # IG recommendation (pitfall 18)
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
MAX_LINES = 50  # 2400 repeats at most 50 times per claim
TERMINATOR = "~\n"  # one segment per line reads well and pyx12 accepts it (pitfall 3)

# SBR09 (element 1032) and PAT01 for a dependent (billing-rules 4.1)
FILING_INDICATORS = frozenset({"11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM",
                               "LM", "MA", "MB", "MC", "OF", "TV", "VA", "WC", "ZZ"})  # fmt: skip
RELATIONSHIPS = frozenset({"01", "19", "20", "21", "39", "40", "53", "G8"})
RESPONSIBILITIES = frozenset({"P", "S", "T"})  # SBR01; S carries one prior payer (2320), T two (primary, secondary)
PRIOR_PAYERS = {"P": 0, "S": 1, "T": 2}  # how many 2320 loops each SBR01 needs
FREQUENCIES = frozenset({"1", "7", "8"})
SEXES = frozenset({"M", "F", "U"})

TAXONOMY_RE = re.compile(r"[0-9]{3}[0-9A-Z]{6}X")
EIN_RE = re.compile(r"[0-9]{9}")
STATE_RE = re.compile(r"[A-Z]{2}")
DIAGNOSIS_RE = re.compile(r"[A-Z][0-9][0-9A-Z]{1,5}")
CODE_RE = re.compile(r"[A-Z0-9]{5}")
MODIFIER_RE = re.compile(r"[A-Z0-9]{2}")
POS_RE = re.compile(r"[0-9]{2}")
ID_RE = re.compile(r"[A-Z0-9][A-Z0-9 \-]*")
# Kept from the X12 basic character set once upper-cased; everything else (the separators * : ^ ~ included) goes.
_KEEP = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 &'(),-./#")
CENT = Decimal("0.01")


_OUTSIDE = re.compile(r"[^A-Z0-9 &'(),\-./#]")


@lru_cache(maxsize=65536)
def clean_text(value: str) -> str:
    """Upper-case plain ASCII without X12 separators (``Muñoz*Jr`` → ``MUNOZJR``), whitespace collapsed."""
    upper = value.upper()
    if upper.isascii() and not _OUTSIDE.search(upper):  # the common case: nothing to transliterate or strip
        return " ".join(upper.split())
    # The import's spelling (backoffice.inputs.x12_text): Ærø → AERO and ß → SS, where NFKD alone drops them.
    latin = latin_ascii(value)
    ascii_text = unicodedata.normalize("NFKD", latin).encode("ascii", "ignore").decode("ascii").upper()
    return " ".join("".join(c if c in _KEEP else " " if c.isspace() else "" for c in ascii_text).split())


@lru_cache(maxsize=4096)
def d8(value: date) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


def segment(*elements: str) -> str:
    """One segment with its empty trailing elements dropped (pitfall 4)."""
    end = len(elements)
    while end > 1 and not elements[end - 1]:
        end -= 1
    return "*".join(elements[:end]) + TERMINATOR


class Field:
    """Raises ValueError naming where the problem is: ``claim PCN1: diagnoses: more than 12``."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field: str, problem: str) -> ValueError:
        return ValueError(f"{self.where}: {field}: {problem}")

    def text(self, field: str, value: str, max_length: int, *, required: bool = True) -> str:
        cleaned = clean_text(value or "")[:max_length].rstrip()
        if required and not cleaned:
            raise self.fail(field, "is empty once reduced to plain X12 characters")
        return cleaned

    def ident(self, field: str, value: str, max_length: int) -> str:
        cleaned = clean_text(value or "")
        if not cleaned or len(cleaned) > max_length or not ID_RE.fullmatch(cleaned):
            raise self.fail(field, f"must be 1-{max_length} letters, digits, spaces or hyphens (got {value!r})")
        return cleaned

    def match(self, field: str, value: str, pattern: re.Pattern[str], rule: str) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(field, f"{rule} (got {value!r})")
        return value

    def one_of(self, field: str, value: str, allowed: frozenset[str]) -> str:
        if value not in allowed:
            raise self.fail(field, f"must be one of {', '.join(sorted(allowed))} (got {value!r})")
        return value

    def npi(self, field: str, value: str) -> str:
        problem = npi_problem(value or "")
        if problem:
            raise self.fail(field, problem)
        return value

    def phone(self, field: str, value: str) -> str:
        digits = "".join(c for c in value or "" if c.isdigit())
        if len(digits) != 10:
            raise self.fail(field, f"a phone number is 10 digits (got {value!r})")
        return digits

    def zip_code(self, field: str, value: str, *, nine: bool) -> str:
        digits = (value or "").replace("-", "")
        if not digits.isdigit() or len(digits) not in ((9,) if nine else (5, 9)):
            raise self.fail(field, f"ZIP must be {'9' if nine else '5 or 9'} digits (got {value!r})")
        return digits

    def date(self, field: str, value: date) -> str:
        if not isinstance(value, date):
            raise self.fail(field, f"must be a date (got {value!r})")
        return d8(value)

    def money(self, field: str, value: Decimal) -> Decimal:
        try:
            amount = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            raise self.fail(field, f"not an amount (got {value!r})") from None
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
            raise self.fail(field, f"must be positive with at most 2 decimals (got {value!r})")
        if amount >= Decimal("100000000"):
            raise self.fail(field, f"is too large (got {value!r})")
        return amount


@lru_cache(maxsize=4096)
def money_text(amount: Decimal) -> str:
    """``150`` or ``150.5`` style X12 R value: no trailing zeros, never 3 decimals or a sign (pitfall 16)."""
    text = f"{amount.quantize(CENT):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def address_segments(check: Field, who: str, address: Address, *, nine: bool) -> list[str]:
    if not isinstance(address, Address):
        raise check.fail(f"{who} address", "is missing")
    line1 = check.text(f"{who} address line 1", address.line1, 55)
    line2 = check.text(f"{who} address line 2", address.line2, 55, required=False)
    city = check.text(f"{who} city", address.city, 30)
    state = check.match(f"{who} state", (address.state or "").upper(), STATE_RE, "a state is 2 letters")
    zip_code = check.zip_code(f"{who} ZIP", address.zip_code, nine=nine)
    return [segment("N3", line1, line2), segment("N4", city, state, zip_code)]


def demographics(check: Field, who: str, dob: date, sex: str) -> str:
    check.one_of(f"{who} sex", sex, SEXES)
    return segment("DMG", "D8", check.date(f"{who} date of birth", dob), sex)


def person_name(check: Field, who: str, last: str, first: str) -> tuple[str, str]:
    return check.text(f"{who} last name", last, 60), check.text(f"{who} first name", first, 35, required=False)
