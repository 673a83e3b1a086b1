"""Reading a 271 eligibility/benefits response (005010X279A1) into what billing-rules §8.1 asks us to verify.

One ``BenefitsRecord`` per subscriber (HL 22) or dependent (HL 23), plus one for a source/receiver level (HL 20/21)
that carries an AAA rejection. Every EB is kept (with its raw elements) so nothing is silently dropped; the
properties pick out active coverage, copay, coinsurance, deductible, out-of-pocket, visit limits, prior
authorization and the behavioral-health carve-out payer (EB01=U). Pure, no I/O. Malformed data raises
``x12.X12Error`` naming the segment, never a patient's name or member ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from backoffice.x12 import reader as x12
from backoffice.x12.elements import amount, date_range, hl_level

ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})
# Service type codes for mental health and substance use (billing-rules §8.2).
BEHAVIORAL_HEALTH_SERVICE_TYPES = frozenset(
    {"MH", "A4", "A5", "A6", "A7", "A8", "CE", "CF", "CG", "CH", "BB", "BC", "BD", "RT", "AI", "AJ", "AK", "CI", "CJ"}
)
AUTH_WORDS = ("AUTHORIZATION", "PRECERT", "PRE-CERT", "PRIOR AUTH", "REFERRAL REQUIRED")

AAA_REASONS = {
    "15": "Required application data missing",
    "41": "Authorization/access restrictions",
    "42": "Unable to respond at current time",
    "43": "Invalid/missing provider identification",
    "45": "Invalid/missing provider specialty",
    "47": "Invalid/missing provider state",
    "48": "Invalid/missing referring provider identification number",
    "49": "Provider is not primary care physician",
    "50": "Provider ineligible for inquiries",
    "51": "Provider not on file",
    "52": "Service dates not within provider plan enrollment",
    "56": "Inappropriate date",
    "57": "Invalid/missing date(s) of service",
    "58": "Invalid/missing date of birth",
    "60": "Date of birth follows date(s) of service",
    "61": "Date of death precedes date(s) of service",
    "62": "Date of service not within allowable inquiry period",
    "63": "Date of service in future",
    "64": "Invalid/missing patient ID",
    "65": "Invalid/missing patient name",
    "66": "Invalid/missing patient gender code",
    "67": "Patient not found",
    "68": "Duplicate patient ID number",
    "71": "Patient birth date does not match that for the patient on the database",
    "72": "Invalid/missing subscriber/insured ID",
    "73": "Invalid/missing subscriber/insured name",
    "74": "Invalid/missing subscriber/insured gender code",
    "75": "Subscriber/insured not found",
    "76": "Duplicate subscriber/insured ID number",
    "77": "Subscriber found, patient not found",
    "78": "Subscriber/insured not in group/plan identified",
    "79": "Invalid participant identification",
    "80": "No response received, transaction terminated",
    "97": "Invalid or missing provider address",
    "T4": "Payer name or identifier missing",
}
AAA_FOLLOW_UP = {
    "C": "correct and resubmit",
    "N": "resubmission not allowed",
    "P": "resubmit the original transaction",
    "R": "resubmission allowed",
    "S": "do not resubmit; inquiry initiated to a third party",
    "W": "wait 30 days and resubmit",
    "X": "wait 10 days and resubmit",
    "Y": "do not resubmit; the payer will hand over",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    """One AAA: the payer could not answer (at the source, receiver, subscriber, dependent or benefit level)."""

    level: str  # HL03 of the loop it was found in
    valid_request: str  # AAA01 Y/N
    code: str  # AAA03 reject reason
    follow_up: str  # AAA04 follow-up action code

    @property
    def message(self) -> str:
        """``AAA 72: Invalid/missing subscriber/insured ID (correct and resubmit)``; never the member's data."""
        text = f"AAA {self.code or '?'}: {AAA_REASONS.get(self.code, 'unlisted reject reason')}"
        follow = AAA_FOLLOW_UP.get(self.follow_up)
        return f"{text} ({follow})" if follow else text


@dataclass(frozen=True, slots=True)
class BenefitEntity:
    """A 2120 loop NM1 under an EB: for EB01=U the entity to contact or bill (the carve-out payer)."""

    entity_code: str  # NM101: PR payer, P3 primary care provider, VN vendor, 1P provider…
    name: str  # NM103 (an organization or provider, not the patient)
    id_qualifier: str  # NM108 (PI payer id, XX NPI, SV service provider number…)
    identifier: str  # NM109
    contacts: tuple[str, ...] = ()  # PER03…PER08 communication numbers, as (qualifier:number)


@dataclass(frozen=True, slots=True)
class Benefit:
    """One EB (2110C/D) with the segments that qualify it."""

    code: str  # EB01 (1 active, 6 inactive, A coinsurance, B copay, C deductible, F limitation, G out of pocket, U…)
    coverage_level: str  # EB02 IND/FAM/EMP…
    service_types: tuple[str, ...]  # EB03, split on the repetition separator
    insurance_type: str  # EB04
    plan_description: str  # EB05
    time_period: str  # EB06 (23 calendar year, 29 remaining, 27 visit…)
    amount: Decimal | None  # EB07
    percent: Decimal | None  # EB08 as sent: a fraction, 0.2 = 20%
    quantity_qualifier: str  # EB09 (VS visits, P6 services, DY days…)
    quantity: Decimal | None  # EB10
    authorization: str  # EB11 Y/N/U
    in_network: str  # EB12 Y/N/U/W
    procedure: tuple[str, ...]  # EB13 composite
    messages: tuple[str, ...]  # MSG01 and III free text
    dates: tuple[tuple[str, date | None, date | None], ...]  # DTP (qualifier, start, end)
    entities: tuple[BenefitEntity, ...]  # 2120 loops
    elements: tuple[str, ...]  # the raw EB elements, so nothing is lost

    @property
    def behavioral_health(self) -> bool:
        return any(t in BEHAVIORAL_HEALTH_SERVICE_TYPES for t in self.service_types)

    @property
    def auth_required(self) -> bool | None:
        """EB11 Y, or a MSG/III note about authorization; EB11 N is False; otherwise unknown (None)."""
        if self.authorization == "Y" or any(w in m.upper() for m in self.messages for w in AUTH_WORDS):
            return True
        return False if self.authorization == "N" else None

    @property
    def remaining(self) -> bool:
        return self.time_period == "29"


@dataclass(frozen=True, slots=True)
class BenefitsRecord:
    """What the payer said about one subscriber or dependent (or, at HL 20/21, why it could not say anything)."""

    level: str  # HL03: 22 subscriber, 23 dependent; 20/21 only when that level carried an AAA
    trace: str  # first TRN02 at this level (the trace from our 270)
    payer_name: str  # 2100A NM1*PR
    payer_id: str
    member_id: str  # NM109 of the subscriber/dependent (data only: never put it in a message)
    dates: tuple[tuple[str, date | None, date | None], ...]  # 2100C/D DTP (291 plan, 346 begin, 347 end, 356/357)
    benefits: tuple[Benefit, ...]
    rejections: tuple[Rejection, ...]
    birth_date: date | None = None  # DMG02 of the subscriber/dependent (data only: tells siblings apart)

    def _with(self, *codes: str) -> tuple[Benefit, ...]:
        return tuple(b for b in self.benefits if b.code in codes)

    def _date(self, qualifier: str, end: bool = False) -> date | None:
        for q, start, stop in self.dates:
            if q == qualifier:
                return stop if end else start
        return None

    @property
    def rejected(self) -> bool:
        return bool(self.rejections) and not self.benefits

    @property
    def rejection_messages(self) -> tuple[str, ...]:
        return tuple(r.message for r in self.rejections)

    @property
    def active(self) -> bool | None:
        """True when any EB01 is 1–5, False when only 6–8 are present, None when the payer said neither."""
        codes = {b.code for b in self.benefits}
        if codes & ACTIVE_CODES:
            return True
        return False if codes & INACTIVE_CODES else None

    @property
    def plan_begin(self) -> date | None:
        return self._date("346") or self._date("356") or self._date("291")

    @property
    def plan_end(self) -> date | None:
        return self._date("347") or self._date("357") or self._date("291", end=True)

    @property
    def copays(self) -> tuple[Benefit, ...]:
        return self._with("B")

    @property
    def coinsurance(self) -> tuple[Benefit, ...]:
        return self._with("A")

    @property
    def deductibles(self) -> tuple[Benefit, ...]:
        return self._with("C")

    @property
    def out_of_pocket(self) -> tuple[Benefit, ...]:
        return self._with("G")

    @property
    def visit_limits(self) -> tuple[Benefit, ...]:
        return tuple(b for b in self._with("F") if b.quantity_qualifier == "VS")

    @property
    def behavioral_health(self) -> tuple[Benefit, ...]:
        return tuple(b for b in self.benefits if b.behavioral_health)

    @property
    def auth_required(self) -> bool | None:
        """For the behavioral-health benefits when there are any, else for all: True if any says so."""
        answers = [b.auth_required for b in (self.behavioral_health or self.benefits)]
        return True if True in answers else (False if False in answers else None)

    @property
    def carve_out(self) -> tuple[BenefitEntity, ...]:
        """EB01=U "contact following entity": the payers (NM1*PR, else any entity) to bill instead."""
        entities = [e for b in self._with("U") for e in b.entities]
        payers = [e for e in entities if e.entity_code == "PR"]
        return tuple(payers or entities)


class _BenefitBuilder:
    def __init__(self, eb: x12.Segment) -> None:
        self.eb = eb
        self.messages: list[str] = []
        self.dates: list[tuple[str, date | None, date | None]] = []
        self.entities: list[BenefitEntity] = []
        self.in_2120 = False

    def build(self) -> Benefit:
        eb = self.eb
        repetition = eb.separators.repetition or "^"
        service_types = tuple(t for t in eb[3].split(repetition) if t) if eb[3] else ()
        return Benefit(
            eb[1], eb[2], service_types, eb[4], eb[5], eb[6], amount(eb, 7), amount(eb, 8), eb[9], amount(eb, 10),
            eb[11], eb[12], eb.components(13), tuple(self.messages), tuple(self.dates), tuple(self.entities),
            eb.elements,
        )  # fmt: skip


class _RecordBuilder:
    def __init__(self, level: str, payer: tuple[str, str]) -> None:
        self.level, self.payer = level, payer
        self.trace = self.member_id = ""
        self.dates: list[tuple[str, date | None, date | None]] = []
        self.benefits: list[_BenefitBuilder] = []
        self.rejections: list[Rejection] = []
        self.birth_date: date | None = None

    def build(self) -> BenefitsRecord:
        return BenefitsRecord(
            self.level, self.trace, *self.payer, self.member_id, tuple(self.dates),
            tuple(b.build() for b in self.benefits), tuple(self.rejections), self.birth_date,
        )  # fmt: skip


def _per_contacts(seg: x12.Segment) -> tuple[str, ...]:
    return tuple(f"{seg[n]}:{seg[n + 1]}" for n in (3, 5, 7) if seg[n + 1])


def _dtp(seg: x12.Segment) -> tuple[str, date | None, date | None]:
    if not seg[1]:
        raise x12.X12Error(f"{seg}: DTP01 (date qualifier) is required but empty")
    return (seg[1], *date_range(seg))


def _birth_date(seg: x12.Segment) -> date | None:
    """DMG02 as a date, or None when it is not a CCYYMMDD date (a tolerant reader)."""
    raw = seg[2]
    if len(raw) == 8 and raw.isdigit():
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            return None
    return None


def _parse_transaction(transaction: x12.Transaction) -> list[BenefitsRecord]:
    records: list[_RecordBuilder] = []
    payer = ("", "")
    current: _RecordBuilder | None = None
    for seg in transaction.segments:
        benefit = current.benefits[-1] if current and current.benefits else None
        if seg.id == "HL":
            current = _RecordBuilder(hl_level(seg), payer)
            records.append(current)
        elif current is None:
            continue  # BHT
        elif seg.id == "LS":
            if benefit is None:
                raise x12.X12Error(f"{seg}: LS loop start outside an EB benefit loop")
            benefit.in_2120 = True
        elif seg.id == "LE":
            if benefit is not None:
                benefit.in_2120 = False
        elif seg.id == "NM1" and benefit is not None:
            benefit.entities.append(BenefitEntity(seg[1], seg[3], seg[8], seg[9]))
        elif seg.id == "PER" and benefit is not None and benefit.entities:
            last = benefit.entities[-1]
            contacts = last.contacts + _per_contacts(seg)
            benefit.entities[-1] = BenefitEntity(
                last.entity_code, last.name, last.id_qualifier, last.identifier, contacts
            )
        elif benefit is not None and benefit.in_2120:
            continue  # N3/N4/PRV of the 2120 entity
        elif seg.id == "NM1":
            if current.level == "20" and seg[1] == "PR":
                payer = (seg[3], seg[9])
                current.payer = payer
            elif current.level in ("22", "23"):
                current.member_id = seg[9]
        elif seg.id == "DMG" and benefit is None and seg[1] == "D8":
            current.birth_date = _birth_date(seg)
        elif seg.id == "TRN" and not current.trace:
            current.trace = seg[2]
        elif seg.id == "AAA":
            current.rejections.append(Rejection(current.level, seg[1], seg[3], seg[4]))
        elif seg.id == "EB":
            if not seg[1]:
                raise x12.X12Error(f"{seg}: EB01 (eligibility or benefit code) is required but empty")
            current.benefits.append(_BenefitBuilder(seg))
        elif seg.id == "DTP":
            (benefit.dates if benefit is not None else current.dates).append(_dtp(seg))
        elif seg.id == "MSG" and benefit is not None:
            benefit.messages.append(seg[1])
        elif seg.id == "III" and benefit is not None and seg[4]:
            benefit.messages.append(seg[4])
    return [r.build() for r in records if r.level not in ("20", "21") or r.rejections]


def parse_271(text: str) -> list[BenefitsRecord]:
    """Every subscriber/dependent answer in the 271s of ``text``; X12Error when there is no 271 or it is malformed."""
    return x12.parse_all(text, "271", _parse_transaction)
