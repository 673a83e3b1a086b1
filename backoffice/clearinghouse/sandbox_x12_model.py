"""Values and envelopes of the Sandbox payer's X12 (pure, no I/O): what we sent, what the payer knows, ISA/GS/ST.

Separators are ``*`` ``:`` ``^`` ``~`` and never occur in data (``backoffice.x12.writing`` cleans text and computes
counts and control numbers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# The envelope writers and our 270 question live in the codec (``backoffice.x12``); the Sandbox's modules import
# them from here with the rest of their vocabulary.
from backoffice.x12.inquiry import EligibilityQuestion  # noqa: F401
from backoffice.x12.writing import (  # noqa: F401
    TERMINATOR,
    check_control_number,
    d8,
    ident,
    interchange,
    money,
    segment,
    text,
    transaction,
)

CLAIM_VERSION = "005010X222A1"

SCENARIOS: tuple[str, ...] = (
    "paid", "deductible", "copay", "coinsurance", "contractual", "partial",
    "denied_auth", "denied_necessity", "denied_info", "denied_timely", "denied_wrong_payer", "rejected",
    "reversal", "no_response",
)  # fmt: skip
NOT_REMITTED = frozenset({"rejected", "no_response"})
# Out of 1,000 claims: most are paid (with or without patient responsibility); denials and silence are the minority.
WEIGHTS: dict[str, int] = {
    "paid": 400, "deductible": 80, "copay": 100, "coinsurance": 70, "contractual": 60, "partial": 40,
    "denied_auth": 40, "denied_necessity": 30, "denied_info": 40, "denied_timely": 15, "denied_wrong_payer": 15,
    "rejected": 40, "reversal": 20, "no_response": 50,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SentLine:
    """One 2400 service line as we sent it."""

    code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal
    date: date | None
    control_number: str  # REF*6R or ""


@dataclass(frozen=True, slots=True)
class SentClaim:
    """One 2300 claim as we sent it (no patient name or date of birth: the payer answers by account and member ID)."""

    account_number: str  # CLM01
    charge: Decimal  # CLM02
    frequency_code: str  # CLM05-3
    payer_claim_number: str  # REF*F8 or ""
    member_id: str  # 2010BA NM109
    payer_id: str  # 2010BB NM109
    payer_name: str
    billing_npi: str  # 2010AA NM109
    billing_name: str
    transaction_control_number: str  # the ST02 it was sent in
    lines: tuple[SentLine, ...]


@dataclass(frozen=True, slots=True)
class Sent837:
    """One 837P interchange as the payer reads it."""

    interchange_control_number: str  # ISA13
    group_control_number: str  # GS06
    sender_id: str  # ISA06, stripped
    receiver_id: str  # ISA08, stripped
    transaction_control_numbers: tuple[str, ...]  # every ST02, in order
    claims: tuple[SentClaim, ...]


@dataclass(frozen=True, slots=True)
class BenefitsAnswer:
    """What the sandbox payer knows about a member's behavioral-health benefits (from its own member file)."""

    active: bool
    in_network: bool
    copay: Decimal | None
    coinsurance_percent: Decimal | None  # 20 means 20% (sent as EB08 0.2)
    deductible_remaining: Decimal | None
    visits_allowed: int | None
    visits_remaining: int | None
    auth_required: bool
    carve_out_payer_name: str = ""
    carve_out_payer_id: str = ""
    rejection: str = ""  # AAA03 when the payer cannot answer (75 subscriber not found, 71 birth date, 77 dependent)


def stable_number(*parts: str) -> int:
    """A deterministic non-negative integer from ``parts`` (sha256; Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def scenario_for(account_number: str) -> str:
    """The scenario of a claim: a fixed function of CLM01 with the weights of ``WEIGHTS`` (per 1,000)."""
    bucket = stable_number("scenario", account_number) % sum(WEIGHTS.values())
    for name in SCENARIOS:
        bucket -= WEIGHTS[name]
        if bucket < 0:
            return name
    raise AssertionError("WEIGHTS does not cover the buckets")  # pragma: no cover


def sent_scenario(account_number: str, frequency_code: str) -> str:
    """The scenario of a claim as sent: a replacement (frequency 7) is paid (the correction fixed what the payer
    denied); a void (8) is accepted (999, 277CA A2) and never remitted; an original follows ``scenario_for``."""
    if frequency_code == "7":
        return "paid"
    if frequency_code == "8":
        return "no_response"
    return scenario_for(account_number)


def scenario_of(scenarios: Mapping[str, str], account_number: str) -> str:
    """The scenario the caller chose for a claim, else ``scenario_for``; ValueError for an unknown name."""
    scenario = scenarios.get(account_number) or scenario_for(account_number)
    if scenario not in SCENARIOS:
        raise ValueError(f"claim {account_number!r}: unknown sandbox scenario {scenario!r}")
    return scenario


def payer_claim_number(account_number: str, suffix: str = "") -> str:
    """The payer's claim number (277CA REF*1K, 835 CLP07) for a claim: deterministic, 14 characters."""
    return f"SBX{stable_number('icn', account_number) % 10**11:011d}{suffix}"
