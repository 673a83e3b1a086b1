"""Our inquiries to payers: the 270 eligibility/benefits inquiry (005010X279A1) and the 276 claim status inquiry
(005010X212). Pure: values in, X12 text out; addressed (ISA08/GS03) to the connection's clearinghouse, with the
connection's usage indicator (ISA15 T/P).

270 shape: one ST per call; HL 20 per payer (2000A/2100A NM1*PR), HL 21 per provider under it (2100B NM1*1P), then
per question either a subscriber who is the patient (2000C HL 22 with TRN, 2100C NM1*IL + DMG + DTP*291, 2110C EQ)
or, for a dependent (the patient is not the subscriber), the subscriber loop 2000C/2100C (HL 22 with children,
NM1*IL with the subscriber's name and member ID, DMG when known) and the dependent loop 2000D/2100D (HL 23 with
the TRN, NM1*03 with the patient's name, DMG with the patient's birth date and gender, INS*N*<relationship>,
DTP*291, 2110D EQ). Errors name the trace number, never the member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from backoffice.x12.writing import d8, ident, interchange, money, segment, stable_number_text, text, transaction

ELIGIBILITY_VERSION = "005010X279A1"
STATUS_VERSION = "005010X212"
SEXES = frozenset({"M", "F", "U"})
SELF = "18"
RELATIONSHIPS = frozenset({"01", "19", "20", "21", "39", "40", "53", "G8"})  # 2100D INS02 (X279A1)


@dataclass(frozen=True, slots=True)
class EligibilityQuestion:
    """One 270 inquiry for one payer, provider and date of service. ``first_name``…``sex`` are the patient's;
    ``member_id`` is the subscriber's. When ``relationship`` is not 18 the patient is a dependent and the
    ``subscriber_*`` fields name the subscriber (2100C) while the patient goes in 2100D."""

    trace_number: str
    member_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str
    payer_id: str
    payer_name: str
    provider_npi: str
    provider_name: str
    service_date: date
    relationship: str = SELF  # the patient's relationship to the subscriber (X12 individual relationship code)
    subscriber_first_name: str = ""
    subscriber_last_name: str = ""
    subscriber_date_of_birth: date | None = None
    subscriber_sex: str = ""

    @property
    def dependent(self) -> bool:
        return self.relationship != SELF


def originator(party_id: str) -> str:
    """TRN03: "1" + a stable 9-digit id for the party that made the trace number."""
    return f"1{stable_number_text('ein', party_id)}"


def _sex(value: str) -> str:
    return value if value in SEXES else "U"


def subscriber_name(question: EligibilityQuestion, where: str) -> str:
    """2100C NM1*IL: the subscriber (the patient, or the dependent's subscriber) with the member ID."""
    member = ident(question.member_id)
    if question.dependent:
        last, first = text(question.subscriber_last_name, 60), text(question.subscriber_first_name, 35)
    else:
        last, first = text(question.last_name, 60), text(question.first_name, 35)
    if not member or not last:
        raise ValueError(f"{where} {question.trace_number!r}: the subscriber's member ID and last name are required")
    return segment("NM1", "IL", "1", last, first, "", "", "", "MI", member)


def subscriber_demographics(question: EligibilityQuestion) -> list[str]:
    """2100C DMG: the patient's when the subscriber is the patient, else the subscriber's when we know it."""
    if not question.dependent:
        return [segment("DMG", "D8", d8(question.date_of_birth), _sex(question.sex))]
    if question.subscriber_date_of_birth is None:
        return []
    return [segment("DMG", "D8", d8(question.subscriber_date_of_birth), _sex(question.subscriber_sex))]


def dependent_name(question: EligibilityQuestion, where: str) -> str:
    """2100D NM1*03: the dependent patient (no identifier: dependents are found under the subscriber's ID)."""
    last = text(question.last_name, 60)
    if not last:
        raise ValueError(f"{where} {question.trace_number!r}: the patient's last name is required")
    if question.relationship not in RELATIONSHIPS:
        raise ValueError(f"{where} {question.trace_number!r}: relationship {question.relationship!r} is not a code "
                         f"2100D INS02 accepts ({', '.join(sorted(RELATIONSHIPS))})")  # fmt: skip
    return segment("NM1", "03", "1", last, text(question.first_name, 35))


def dependent_demographics(question: EligibilityQuestion) -> list[str]:
    """2100D DMG and INS*N*<relationship>."""
    return [
        segment("DMG", "D8", d8(question.date_of_birth), _sex(question.sex)),
        segment("INS", "N", question.relationship),
    ]


@dataclass(frozen=True, slots=True)
class Placed:
    """Where one question sits in the hierarchy: the HL 20/21 segments to write before it (empty when shared), its
    subscriber HL number and, for a dependent, its HL 23 number."""

    question: EligibilityQuestion
    index: int  # position in the caller's list
    head: list[str]
    subscriber_hl: str
    provider_hl: str
    dependent_hl: str


def ordered(questions: Sequence[EligibilityQuestion]) -> list[int]:
    """Question indexes grouped by payer, then provider, keeping first-seen order (HL parents must come first)."""
    keys: dict[tuple[str, str], list[int]] = {}
    for index, question in enumerate(questions):
        keys.setdefault((question.payer_id, question.provider_npi), []).append(index)
    payers: dict[str, list[int]] = {}
    for (payer, _), indexes in keys.items():
        payers.setdefault(payer, []).extend(indexes)
    return [i for indexes in payers.values() for i in indexes]


def hierarchy(questions: Sequence[EligibilityQuestion]) -> list[Placed]:
    """Every question in HL order (``ordered``), with the HL numbers of its loops."""
    out: list[Placed] = []
    hl, payer_hl, provider_hl = 0, 0, 0
    last_payer: str | None = None
    last_provider: tuple[str, str] | None = None
    for index in ordered(questions):
        question = questions[index]
        head: list[str] = []
        if question.payer_id != last_payer:
            hl += 1
            payer_hl, last_payer, last_provider = hl, question.payer_id, None
            head += [segment("HL", str(hl), "", "20", "1"),
                     segment("NM1", "PR", "2", text(question.payer_name) or "PAYER", "", "", "", "", "PI",
                             ident(question.payer_id))]  # fmt: skip
        if (question.payer_id, question.provider_npi) != last_provider:
            hl += 1
            provider_hl, last_provider = hl, (question.payer_id, question.provider_npi)
            head += [segment("HL", str(hl), str(payer_hl), "21", "1"),
                     segment("NM1", "1P", "2", text(question.provider_name) or "PROVIDER", "", "", "", "", "XX",
                             ident(question.provider_npi))]  # fmt: skip
        hl += 1
        subscriber = hl
        dependent = ""
        if question.dependent:
            hl += 1
            dependent = str(hl)
        out.append(Placed(question, index, head, str(subscriber), str(provider_hl), dependent))
    return out


def subscriber_hl(placed: Placed) -> str:
    return segment("HL", placed.subscriber_hl, placed.provider_hl, "22", "1" if placed.dependent_hl else "0")


def dependent_hl(placed: Placed) -> str:
    return segment("HL", placed.dependent_hl, placed.subscriber_hl, "23", "0")


def write_270(
    questions: Sequence[EligibilityQuestion], *, submitter_id: str, now: datetime, control_number: int,
    receiver_id: str | None = None, usage: str = "T", submitter_name: str = "",
) -> str:  # fmt: skip
    """A 270 asking, for each question, about health plan coverage (EQ 30) and mental health (EQ MH); addressed
    (ISA08/GS03) to ``receiver_id`` (the clearinghouse) or else to the payer, with ISA15 ``usage``. A dependent is
    asked about in 2000D under its subscriber's 2000C. ``submitter_name`` is not sent (no 270 segment carries it)."""
    del submitter_name
    if not questions:
        raise ValueError("questions: nothing to ask")
    body = [segment("BHT", "0022", "13", f"{control_number:09d}", f"{now:%Y%m%d}", f"{now:%H%M}")]
    trn_originator = originator(submitter_id)
    for placed in hierarchy(questions):
        question = placed.question
        trace = ident(question.trace_number, 50)
        if not trace:
            raise ValueError("270: every question needs a trace number (TRN02)")
        trn = segment("TRN", "1", trace, trn_originator)
        asked = [segment("DTP", "291", "D8", d8(question.service_date)), segment("EQ", "30"), segment("EQ", "MH")]
        body += placed.head
        body.append(subscriber_hl(placed))
        if question.dependent:
            body.append(subscriber_name(question, "270 question"))
            body += subscriber_demographics(question)
            body += [dependent_hl(placed), trn, dependent_name(question, "270 question")]
            body += dependent_demographics(question)
        else:
            body += [trn, subscriber_name(question, "270 question"), *subscriber_demographics(question)]
        body += asked
    return interchange(
        sender=submitter_id, receiver=receiver_id or questions[0].payer_id, functional_id="HS",
        version=ELIGIBILITY_VERSION, now=now, control_number=control_number,
        transactions=[transaction("270", "0001", ELIGIBILITY_VERSION, body)], usage=usage,
    )  # fmt: skip


# ---- 276 claim status inquiry -------------------------------------------------------------------------------------


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


def _status_head(question: StatusQuestion, submitter_id: str) -> list[str]:
    return [
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "PR", "2", text(question.payer_name) or "PAYER", "", "", "", "", "PI",
                ident(question.payer_id)),
        segment("HL", "2", "1", "21", "1"),
        segment("NM1", "41", "2", "BILLING OFFICE", "", "", "", "", "46", ident(submitter_id)),
        segment("HL", "3", "2", "19", "1"),
        segment("NM1", "1P", "2", text(question.provider_name) or "PROVIDER", "", "", "", "", "XX",
                ident(question.provider_npi)),
    ]  # fmt: skip


def _status_claim(question: StatusQuestion, hl: int, *, answer: tuple[str, str] | None, today: str) -> list[str]:
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


def status_document(
    kind: str, questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int,
    answers: Sequence[tuple[str, str]] | None, receiver_id: str | None = None, usage: str = "T",
) -> str:  # fmt: skip
    """A 276 (``answers`` None) or a 277 answering one (one (category, status) per question): the two share their
    hierarchy (HL 20 payer, 21 information receiver, 19 provider, 22 per claim)."""
    if not questions:
        raise ValueError("questions: nothing to ask")
    if len({q.payer_id for q in questions}) != 1:
        raise ValueError("one payer per claim status exchange")
    answering = answers is not None
    body = [segment("BHT", "0010", "08" if answering else "13", f"{control_number:09d}", f"{now:%Y%m%d}",
                    f"{now:%H%M}", *(["DG"] if answering else []))]  # fmt: skip
    body += _status_head(questions[0], submitter_id)
    today = f"{now:%Y%m%d}"
    for n, question in enumerate(questions, start=4):
        answer = answers[n - 4] if answers is not None else None
        body += _status_claim(question, n, answer=answer, today=today)
    payer = questions[0].payer_id
    sender, receiver = (payer, submitter_id) if answering else (submitter_id, payer)
    return interchange(
        sender=sender, receiver=receiver_id or receiver, functional_id="HN" if answering else "HR",
        version=STATUS_VERSION, now=now, control_number=control_number,
        transactions=[transaction(kind, "0001", STATUS_VERSION, body)], usage=usage,
    )  # fmt: skip


def write_276(
    questions: Sequence[StatusQuestion], *, submitter_id: str, now: datetime, control_number: int,
    receiver_id: str | None = None, usage: str = "T",
) -> str:  # fmt: skip
    """A 276 asking one payer for the status of each claim in ``questions`` (ISA08 ``receiver_id`` or the payer)."""
    return status_document("276", questions, submitter_id=submitter_id, now=now, control_number=control_number,
                           answers=None, receiver_id=receiver_id, usage=usage)  # fmt: skip
