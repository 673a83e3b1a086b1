"""The Sandbox payer's eligibility exchange: our 270 inquiry and the payer's 271 answer (005010X279A1). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backoffice.clearinghouse.sandbox_x12_model import BenefitsAnswer, EligibilityQuestion


def write_270(
    questions: Sequence[EligibilityQuestion], *, submitter_id: str, submitter_name: str, now: datetime,
    control_number: int,
) -> str:  # fmt: skip
    """A 270 asking about each question's behavioral-health benefits."""
    raise NotImplementedError


def respond_271(
    pairs: Sequence[tuple[EligibilityQuestion, BenefitsAnswer]], *, now: datetime, control_number: int
) -> str:
    """A 271 answering each question with what the payer knows."""
    raise NotImplementedError
