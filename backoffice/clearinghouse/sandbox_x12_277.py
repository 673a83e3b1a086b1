"""The claim status exchange with the Sandbox payer: our 276 inquiry and the payer's 277 answer (005010X212). Pure.

One ST per call; HL 20 payer, HL 21 information receiver (us), HL 19 provider, HL 22 per claim (the subscriber is
the patient). The payer's answer for a claim follows its Sandbox scenario: adjudicated ones are finalized
(F1 paid / F2 denied), a rejected one was never received (A4), and one the payer never answers is, by a stable
hash of its account number, either still in process (P1) or not on file at all (A4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backoffice.clearinghouse.sandbox_x12_model import (
    d8,
    ident,
    interchange,
    money,
    scenario_for,
    segment,
    stable_number,
    text,
    transaction,
)

VERSION = "005010X212"
DENIED = frozenset({"denied_auth", "denied_necessity", "denied_info", "denied_timely", "denied_wrong_payer"})


@dataclass(frozen=True, slots=True)
class StatusQuestion:
    """One 276 inquiry: one claim we sent, as the payer knows it."""

    trace_number: str
    account_number: str  # CLM01, sent back as REF*EJ
    payer_claim_number: str  # REF*1K when the payer gave us one
    member_id: str
    first_name: str
    last_name: str
    payer_id: str
    payer_name: str
    provider_npi: str
    provider_name: str
    charge: Decimal
    service_from: date
    service_to: date


def status_for(account_number: str) -> tuple[str, str]:
    """The payer's (category, status code) for a claim, from its Sandbox scenario (deterministic)."""
    scenario = scenario_for(account_number)
    if scenario in DENIED:
        return "F2", "88"  # finalized/denial: entity's claim denied
    if scenario == "rejected":
        return "A4", "35"  # not found: claim/encounter not found
    if scenario == "no_response":
        return ("P1", "20") if stable_number("status", account_number) % 2 else ("A4", "35")
    return "F1", "65"  # finalized/payment: claim has been paid


def _head(question: StatusQuestion, submitter_id: str) -> list[str]:
    return [
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", text(question.payer_name) or "SANDBOX PAYER", "", "", "", "", "PI",
                ident(question.payer_id)),
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "41", "2", "BILLING OFFICE", "", "", "", "", "46", ident(submitter_id)),
        segment("HL", "3", "2", "19", "1"),
        segment("NM1", "1P", "2", text(question.provider_name) or "PROVIDER", "", "", "", "", "XX",
                ident(question.provider_npi)),
    ]  # fmt: skip


def _claim(question: StatusQuestion, hl: int, *, answer: tuple[str, str] | None, today: str) -> list[str]:
    member, last = ident(question.member_id), text(question.last_name, 60)
    if not member or not last or not ident(question.account_number):
        raise ValueError(f"status question {question.trace_number!r}: member ID, last name and account are required")
    out = [
        segment("HL", str(hl), "3", "22", "0"),
        segment("NM1", "IL", "1", last, text(question.first_name, 35), "", "", "", "MI", member),
        segment("TRN", "1" if answer is None else "2", ident(question.trace_number, 50)),
    ]
    if answer is not None:
        out.append(segment("STC", f"{answer[0]}:{answer[1]}", today, "", money(question.charge)))
    if question.payer_claim_number:
        out.append(segment("REF", "1K", ident(question.payer_claim_number, 50)))
    out.append(segment("REF", "EJ", ident(question.account_number, 50)))
    if answer is None:
        out.append(segment("AMT", "T3", money(question.charge)))
    span = f"{d8(question.service_from)}-{d8(question.service_to)}"
    out.append(segment("DTP", "472", "RD8", span))
    return out


def _document(
    kind: str, questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int,
    answer: bool, receiver_id: str | None = None, usage: str = "T",
) -> str:  # fmt: skip
    if not questions:
        raise ValueError("questions: nothing to ask")
    payers = {q.payer_id for q in questions}
    if len(payers) != 1:
        raise ValueError("one payer per claim status exchange")
    purpose = ("0010", "08") if answer else ("0010", "13")
    body = [
        segment("BHT", *purpose, f"{control_number:09d}", f"{now:%Y%m%d}", f"{now:%H%M}", *(["DG"] if answer else []))
    ]
    body += _head(questions[0], submitter_id)
    today = f"{now:%Y%m%d}"
    for n, question in enumerate(questions, start=4):
        body += _claim(question, n, answer=status_for(question.account_number) if answer else None, today=today)
    sender, receiver = (questions[0].payer_id, submitter_id) if answer else (submitter_id, questions[0].payer_id)
    return interchange(
        sender=sender, receiver=receiver_id or receiver, functional_id="HN" if answer else "HR", version=VERSION,
        now=now, control_number=control_number, transactions=[transaction(kind, "0001", VERSION, body)], usage=usage,
    )  # fmt: skip


def write_276(
    questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int,
    receiver_id: str | None = None, usage: str = "T",
) -> str:  # fmt: skip
    """A 276 asking one payer for the status of each claim in ``questions`` (ISA08 ``receiver_id`` or the payer)."""
    return _document("276", questions, submitter_id=submitter_id, now=now, control_number=control_number,
                     answer=False, receiver_id=receiver_id, usage=usage)  # fmt: skip


def respond_277(questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int) -> str:
    """The Sandbox payer's 277 answering a 276 (category per claim from ``status_for``)."""
    return _document("277", questions, submitter_id=submitter_id, now=now, control_number=control_number, answer=True)
