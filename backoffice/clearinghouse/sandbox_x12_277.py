"""The Sandbox payer's 277 answer (005010X212) to our 276 (written by ``backoffice.x12.inquiry.write_276``). Pure.

The 277 has the 276's hierarchy (HL 20 payer, HL 21 information receiver, HL 19 provider, HL 22 per claim). The
payer's answer for a claim follows its Sandbox scenario: adjudicated ones are finalized (F1 paid / F2 denied), a
rejected one was never received (A4), and one the payer never answers is, by a stable hash of its account number,
either still in process (P1) or not on file at all (A4).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backoffice.clearinghouse.sandbox_x12_model import scenario_for, stable_number
from backoffice.x12.inquiry import StatusQuestion, status_document

__all__ = ["DENIED", "StatusQuestion", "respond_277", "status_for"]

DENIED = frozenset({"denied_auth", "denied_necessity", "denied_info", "denied_timely", "denied_wrong_payer"})


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


def respond_277(questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int) -> str:
    """The Sandbox payer's 277 answering a 276 (category per claim from ``status_for``)."""
    answers = [status_for(q.account_number) for q in questions]
    return status_document("277", questions, submitter_id=submitter_id, now=now, control_number=control_number,
                           answers=answers)  # fmt: skip
