"""Pure rules of requests to the practice: their types, what a request and an answer must hold, when the practice
must answer and when it is reminded. ``now`` is an argument; no Flask or database here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from backoffice.work.rules import ExceptionKind, SlaPolicy, sla_due_at, sla_policy_for

MAX_MESSAGE = 4000
REMINDER_EVERY_BUSINESS_DAYS = 1


class RequestType(StrEnum):
    APPEAL_DOCUMENTATION = "appeal_documentation"
    INSURANCE = "insurance"
    CODING_QUESTION = "coding_question"
    PROVIDER_ENROLLMENT = "provider_enrollment"
    SIGNATURE = "signature"


TYPE_LABELS: dict[str, str] = {
    RequestType.APPEAL_DOCUMENTATION: "Documentation for an appeal",
    RequestType.INSURANCE: "Wrong or missing insurance",
    RequestType.CODING_QUESTION: "Diagnosis or code question",
    RequestType.PROVIDER_ENROLLMENT: "Provider enrolment information",
    RequestType.SIGNATURE: "Signature",
}


def request_problem(request_type: str, message: str) -> str | None:
    """Why a request cannot be sent (naming the field), or None."""
    if request_type not in set(RequestType):
        return f"type: expected one of {', '.join(t.value for t in RequestType)}"
    text = message.strip()
    if not text:
        return "message: required (what the practice should send or answer)"
    if len(text) > MAX_MESSAGE:
        return f"message: at most {MAX_MESSAGE} characters"
    return None


def answer_problem(answer: str, has_file: bool) -> str | None:
    """Why an answer is refused (naming the field), or None: it needs words, a file may come with them."""
    text = answer.strip()
    if not text:
        return "answer: required (say what you send or what the answer is)" + (" with the file" if has_file else "")
    if len(text) > MAX_MESSAGE:
        return f"answer: at most {MAX_MESSAGE} characters"
    return None


def respond_by(sent_at: datetime, sla_overrides: dict[str, int] | None, tz: ZoneInfo,
               is_business_day: Callable[[date], bool]) -> tuple[datetime, str]:  # fmt: skip
    """When the practice must answer: close of business on the N-th business day after the request was sent (2 by
    default; a practice's ``sla_overrides["practice_request"]``), and the policy's name."""
    policy = sla_policy_for(ExceptionKind.PRACTICE_REQUEST, sla_overrides)
    return sla_due_at(sent_at, policy, tz, is_business_day), policy.name


def next_reminder(after: datetime, tz: ZoneInfo, is_business_day: Callable[[date], bool]) -> datetime:
    """The next reminder after one sent at ``after``: close of business on the next business day."""
    return sla_due_at(after, SlaPolicy("reminder", REMINDER_EVERY_BUSINESS_DAYS), tz, is_business_day)


def reminder_note(number: int, respond_by_local: datetime) -> str:
    """The reminder's log line (no patient data)."""
    return f"Reminder {number} to the practice: the answer was due {respond_by_local:%a %b %d %H:%M %Z}"
