"""The Sandbox payer's eligibility exchange: our 270 inquiry and the payer's 271 answer (005010X279A1). Pure.

One ST per call; HL 20 per payer, HL 21 per provider under it, HL 22 per member (the subscriber is the patient).
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
    stable_number,
    text,
    transaction,
)

VERSION = "005010X279A1"
SEXES = frozenset({"M", "F", "U"})


def _originator(party_id: str) -> str:
    """TRN03: "1" + a stable 9-digit id for the party that made the trace number."""
    return f"1{stable_number('ein', party_id) % 10**9:09d}"


def _member(question: EligibilityQuestion, where: str) -> list[str]:
    """NM1*IL and DMG for one member; ValueError naming the trace number (never the member) when unusable."""
    member, last = ident(question.member_id), text(question.last_name, 60)
    if not member or not last:
        raise ValueError(f"{where} {question.trace_number!r}: member ID and last name are required")
    sex = question.sex if question.sex in SEXES else "U"
    return [
        segment("NM1", "IL", "1", last, text(question.first_name, 35), "", "", "", "MI", member),
        segment("DMG", "D8", d8(question.date_of_birth), sex),
    ]


def _hierarchy(questions: Sequence[EligibilityQuestion]) -> list[tuple[EligibilityQuestion, int, list[str]]]:
    """Per question its position, with the HL 20/21 segments to write before it (empty when they are shared)."""
    out: list[tuple[EligibilityQuestion, int, list[str]]] = []
    hl, payer_hl, provider_hl = 0, 0, 0
    last_payer: str | None = None
    last_provider: tuple[str, str] | None = None
    for index, question in enumerate(questions):
        head: list[str] = []
        if question.payer_id != last_payer:
            hl += 1
            payer_hl, last_payer, last_provider = hl, question.payer_id, None
            head += [segment("HL", str(hl), "", "20", "1"),
                     segment("NM1", "PR", "2", text(question.payer_name) or "SANDBOX PAYER", "", "", "", "", "PI",
                             ident(question.payer_id))]  # fmt: skip
        if (question.payer_id, question.provider_npi) != last_provider:
            hl += 1
            provider_hl, last_provider = hl, (question.payer_id, question.provider_npi)
            head += [segment("HL", str(hl), str(payer_hl), "21", "1"),
                     segment("NM1", "1P", "2", text(question.provider_name) or "PROVIDER", "", "", "", "", "XX",
                             ident(question.provider_npi))]  # fmt: skip
        hl += 1
        head.append(segment("HL", str(hl), str(provider_hl), "22", "0"))
        out.append((question, index, head))
    return out


def _ordered(questions: Sequence[EligibilityQuestion]) -> list[int]:
    """Question indexes grouped by payer, then provider, keeping first-seen order (HL parents must come first)."""
    keys: dict[tuple[str, str], list[int]] = {}
    for index, question in enumerate(questions):
        keys.setdefault((question.payer_id, question.provider_npi), []).append(index)
    payers: dict[str, list[int]] = {}
    for (payer, _), indexes in keys.items():
        payers.setdefault(payer, []).extend(indexes)
    return [i for indexes in payers.values() for i in indexes]


def write_270(
    questions: Sequence[EligibilityQuestion], *, submitter_id: str, submitter_name: str, now: datetime,
    control_number: int, receiver_id: str | None = None, usage: str = "T",
) -> str:  # fmt: skip
    """A 270 asking, for each question, about health plan coverage (EQ 30) and mental health (EQ MH); addressed
    (ISA08/GS03) to ``receiver_id`` (a clearinghouse) or else to the payer, with ISA15 ``usage``."""
    if not questions:
        raise ValueError("questions: nothing to ask")
    order = _ordered(questions)
    body = [segment("BHT", "0022", "13", f"{control_number:09d}", f"{now:%Y%m%d}", f"{now:%H%M}")]
    originator = _originator(submitter_id)
    for question, _, head in _hierarchy([questions[i] for i in order]):
        trace = ident(question.trace_number, 50)
        if not trace:
            raise ValueError("270: every question needs a trace number (TRN02)")
        body += head
        body.append(segment("TRN", "1", trace, originator))
        body += _member(question, "270 question")
        body += [segment("DTP", "291", "D8", d8(question.service_date)), segment("EQ", "30"), segment("EQ", "MH")]
    del submitter_name  # the 270 has no submitter name segment; ISA06/GS02 carry the submitter id
    return interchange(
        sender=submitter_id, receiver=receiver_id or questions[0].payer_id, functional_id="HS", version=VERSION,
        now=now, control_number=control_number, transactions=[transaction("270", "0001", VERSION, body)], usage=usage,
    )  # fmt: skip


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
    """A 271 answering each question (same order of payers and providers as the 270) with what the payer knows."""
    if not pairs:
        raise ValueError("pairs: nothing to answer")
    questions = [question for question, _ in pairs]
    order = _ordered(questions)
    body = [segment("BHT", "0022", "11", f"{control_number:09d}", f"{now:%Y%m%d}", f"{now:%H%M}")]
    for question, index, head in _hierarchy([questions[i] for i in order]):
        answer = pairs[order[index]][1]
        body += head
        body.append(segment("TRN", "2", ident(question.trace_number, 50), _originator(question.payer_id)))
        body += _member(question, "271 answer")
        body += _benefits(answer, question.service_date)
    first = questions[0]
    return interchange(
        sender=first.payer_id, receiver="SUBMITTER", functional_id="HB", version=VERSION, now=now,
        control_number=control_number, transactions=[transaction("271", "0001", VERSION, body)],
    )  # fmt: skip
