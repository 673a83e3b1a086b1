"""The Sandbox payer's 271 answer (005010X279A1) to our 270 (written by ``backoffice.x12.inquiry.write_270``). Pure.

One ST per call, the 270's hierarchy: HL 20 per payer, HL 21 per provider under it, HL 22 per subscriber and, for a
dependent, HL 23 under it. A member the payer could not find gets an AAA (75 subscriber not found and other
subscriber-level reasons in 2100C; 71 birth date mismatch, 77 dependent not found in the patient's loop).
The 271 states the behavioral-health (service type MH) benefits the way ``backoffice.x12.benefits`` reads them:
EB*1/EB*6 active or not, B copay per visit, A coinsurance (EB08 a fraction), C deductible remaining (EB06 29),
F visit limits (VS, calendar year 23 and remaining 29), EB11 authorization, EB12 in network, and for a carve-out
an EB*U with the behavioral-health payer in a 2120 NM1*PR loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from backoffice.clearinghouse.sandbox_x12_model import (
    BenefitsAnswer,
    EligibilityQuestion,
    d8,
    ident,
    interchange,
    money,
    segment,
    text,
    transaction,
)
from backoffice.x12.inquiry import (
    ELIGIBILITY_VERSION,
    dependent_demographics,
    dependent_hl,
    dependent_name,
    hierarchy,
    originator,
    subscriber_demographics,
    subscriber_hl,
    subscriber_name,
)

VERSION = ELIGIBILITY_VERSION
SUBSCRIBER_LEVEL_REJECTIONS = frozenset({"72", "73", "75", "76", "78"})  # AAA in 2100C even for a dependent


def _aaa(code: str) -> str:
    """AAA*N**<code>*C: the request was not valid for this member; correct and resubmit."""
    return segment("AAA", "N", "", code, "C")


def _flag(value: bool) -> str:
    return "Y" if value else "N"


def _fraction(percent: Decimal) -> str:
    return format((percent / 100).normalize(), "f")


def _benefits(answer: BenefitsAnswer, service_date: date) -> list[str]:
    """2100C DTP and the 2110C EB loops for one member."""
    out = [segment("DTP", "346", "D8", d8(date(service_date.year, 1, 1)))]
    if not answer.active:
        return out + [segment("EB", "6", "IND", "30")]
    auth, network = _flag(answer.auth_required), _flag(answer.in_network)
    out += [
        segment("EB", "1", "IND", "30", "", "SANDBOX HEALTH PLAN"),
        segment("EB", "1", "IND", "MH", "", "", "", "", "", "", "", auth, network),
    ]
    if answer.auth_required:
        out.append(segment("MSG", "PRIOR AUTHORIZATION REQUIRED FOR OUTPATIENT BEHAVIORAL HEALTH"))
    if answer.copay is not None:
        out.append(segment("EB", "B", "IND", "MH", "", "", "27", money(answer.copay), "", "", "", auth, network))
    if answer.coinsurance_percent is not None:
        out.append(segment("EB", "A", "IND", "MH", "", "", "27", "", _fraction(answer.coinsurance_percent), "", "",
                           auth, network))  # fmt: skip
    if answer.deductible_remaining is not None:
        out.append(segment("EB", "C", "IND", "MH", "", "", "29", money(answer.deductible_remaining), "", "", "",
                           auth, network))  # fmt: skip
    if answer.visits_allowed is not None:
        out.append(segment("EB", "F", "IND", "MH", "", "", "23", "", "", "VS", str(answer.visits_allowed), auth,
                           network))  # fmt: skip
    if answer.visits_remaining is not None:
        out.append(segment("EB", "F", "IND", "MH", "", "", "29", "", "", "VS", str(answer.visits_remaining), auth,
                           network))  # fmt: skip
    if answer.carve_out_payer_name or answer.carve_out_payer_id:
        out += [
            segment("EB", "U", "IND", "MH"),
            segment("MSG", "BEHAVIORAL HEALTH BENEFITS ARE MANAGED BY ANOTHER PAYER"),
            segment("LS", "2120"),
            segment("NM1", "PR", "2", text(answer.carve_out_payer_name) or "BEHAVIORAL HEALTH PAYER", "", "", "", "",
                    "PI" if answer.carve_out_payer_id else "", ident(answer.carve_out_payer_id)),
            segment("LE", "2120"),
        ]  # fmt: skip
    return out


def respond_271(
    pairs: Sequence[tuple[EligibilityQuestion, BenefitsAnswer]], *, now: datetime, control_number: int
) -> str:
    """A 271 answering each question (same hierarchy as the 270: a dependent under its subscriber) with what the
    payer knows, or an AAA rejection where it could not find the member."""
    if not pairs:
        raise ValueError("pairs: nothing to answer")
    questions = [question for question, _ in pairs]
    body = [segment("BHT", "0022", "11", f"{control_number:09d}", f"{now:%Y%m%d}", f"{now:%H%M}")]
    for placed in hierarchy(questions):
        question, answer = placed.question, pairs[placed.index][1]
        trn = segment("TRN", "2", ident(question.trace_number, 50), originator(question.payer_id))
        subscriber_aaa = [_aaa(answer.rejection)] if answer.rejection in SUBSCRIBER_LEVEL_REJECTIONS else []
        patient_aaa = [_aaa(answer.rejection)] if answer.rejection and not subscriber_aaa else []
        benefits = [] if answer.rejection else _benefits(answer, question.service_date)
        body += placed.head
        body.append(subscriber_hl(placed))
        if question.dependent:
            body += [subscriber_name(question, "271 answer"), *subscriber_aaa, *subscriber_demographics(question)]
            body += [dependent_hl(placed), trn, dependent_name(question, "271 answer"), *patient_aaa]
            body += dependent_demographics(question)
        else:
            body += [trn, subscriber_name(question, "271 answer"), *subscriber_aaa, *patient_aaa]
            body += subscriber_demographics(question)
        body += benefits
    first = questions[0]
    return interchange(
        sender=first.payer_id, receiver="SUBMITTER", functional_id="HB", version=VERSION, now=now,
        control_number=control_number, transactions=[transaction("271", "0001", VERSION, body)],
    )  # fmt: skip
