"""The Sandbox payer's X12: read our 837P and answer with a 999, a 277CA, 835s and 271s (pure, deterministic).

No database, no I/O, no clock: the same input gives byte-identical output. ``scenario_for`` picks what happens
to a claim from a hash of its account number (CLM01), with realistic weights; the adapter passes the mapping
(account number → scenario) to ``respond_277ca`` and ``remit_835``. Errors name the segment, never patient data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from backoffice.clearinghouse.sandbox_x12_271 import respond_271
from backoffice.clearinghouse.sandbox_x12_835 import remit_835
from backoffice.clearinghouse.sandbox_x12_model import (
    CLAIM_VERSION,
    SCENARIOS,
    WEIGHTS,
    BenefitsAnswer,
    EligibilityQuestion,
    Sent837,
    SentClaim,
    SentLine,
    d8,
    ident,
    interchange,
    money,
    payer_claim_number,
    scenario_for,
    scenario_of,
    segment,
    sent_scenario,
    stable_number,
    text,
    transaction,
)
from backoffice.x12 import reader as x12
from backoffice.x12.checks import transaction_problems
from backoffice.x12.reader import X12Error

__all__ = [
    "INVALID_NPI",
    "MEMBER_NOT_FOUND",
    "SCENARIOS",
    "WEIGHTS",
    "BenefitsAnswer",
    "EligibilityQuestion",
    "Sent837",
    "SentClaim",
    "SentLine",
    "SetRejection",
    "X12Error",
    "rate_rejection",
    "read_837",
    "remit_835",
    "respond_271",
    "respond_277ca",
    "respond_999",
    "scenario_for",
    "sent_scenario",
    "syntax_rejections",
]

# 277CA rejection composites (STC01 category:status:entity), picked per claim from its account number.
REJECTIONS = (("A7", "164", "IL"), ("A7", "562", "85"), ("A7", "187", ""), ("A7", "254", ""))
MEMBER_NOT_FOUND = ("A7", "164", "IL")  # entity's contract/member number: the payer has no such member
INVALID_NPI = ("A7", "562", "85")  # entity's National Provider Identifier: the billing provider's NPI


# ---- reading the 837P ---------------------------------------------------------------------------------------------


def _decimal(seg: x12.Segment, n: int, what: str) -> Decimal:
    try:
        value = Decimal(seg[n])
    except InvalidOperation:
        raise X12Error(f"{seg}: {seg.id}{n:02d} ({what}) is not a number") from None
    if not value.is_finite():
        raise X12Error(f"{seg}: {seg.id}{n:02d} ({what}) is not a number")
    return value


def _date(seg: x12.Segment, n: int, value: str | None = None) -> date:
    """Element ``n`` (or ``value`` taken from it) as a CCYYMMDD date."""
    raw = seg[n] if value is None else value
    if len(raw) == 8 and raw.isdigit():
        try:
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            pass
    raise X12Error(f"{seg}: {seg.id}{n:02d} is not a CCYYMMDD date")


class _ClaimReader:
    """The 2300 claim being read, and the 2400 line inside it."""

    def __init__(self, clm: x12.Segment, party: dict[str, str], st02: str) -> None:
        if not clm[1]:
            raise X12Error(f"{clm}: CLM01 (patient account number) is empty")
        self.clm, self.party, self.st02 = clm, dict(party), st02
        self.charge = _decimal(clm, 2, "total charge")
        self.reference = ""
        self.lines: list[dict] = []
        self.in_2300 = True  # False once 2320 (other payer) or a line starts

    def build(self) -> SentClaim:
        if not self.lines:
            raise X12Error(f"{self.clm}: claim {self.clm[1]!r} has no service line (LX/SV1)")
        lines = tuple(
            SentLine(line["code"], line["modifiers"], line["charge"], line["units"], line["date"], line["ref"])
            for line in self.lines
        )
        return SentClaim(
            self.clm[1], self.charge, self.clm.component(5, 3), self.reference, self.party.get("member", ""),
            self.party.get("payer_id", ""), self.party.get("payer_name", ""), self.party.get("npi", ""),
            self.party.get("billing", ""), self.st02, lines,
        )  # fmt: skip


def _read_transaction(txn: x12.Transaction) -> list[SentClaim]:
    claims: list[SentClaim] = []
    party: dict[str, str] = {}
    claim: _ClaimReader | None = None
    level = ""
    for seg in txn.segments:
        if seg.id == "HL":
            if claim is not None:
                claims.append(claim.build())
                claim = None
            level = seg[3]
            if level == "20":
                party = {}
            elif level == "22":
                party = {k: v for k, v in party.items() if k in ("npi", "billing")}
        elif seg.id == "CLM":
            if level not in ("22", "23"):
                raise X12Error(f"{seg}: CLM outside a subscriber or patient (HL 22/23) level")
            if claim is not None:
                claims.append(claim.build())
            for key, what in (
                ("npi", "billing provider (2010AA NM1*85)"),
                ("member", "subscriber (2010BA NM1*IL)"),
                ("payer_id", "payer (2010BB NM1*PR)"),
            ):
                if not party.get(key):
                    raise X12Error(f"{seg}: claim {seg[1]!r} comes without its {what} identifier")
            claim = _ClaimReader(seg, party, txn.st[2])
        elif claim is None:
            if seg.id == "NM1" and seg[1] == "85" and level == "20":
                party["npi"], party["billing"] = seg[9], " ".join(p for p in (seg[3], seg[4]) if p)
            elif seg.id == "NM1" and seg[1] == "IL" and level == "22":
                party["member"] = seg[9]
            elif seg.id == "NM1" and seg[1] == "PR" and level == "22":
                party["payer_id"], party["payer_name"] = seg[9], seg[3]
            elif seg.id in ("SV1", "LX"):
                raise X12Error(f"{seg}: service line outside a claim (no CLM before it)")
        elif seg.id == "LX":
            claim.in_2300 = False
            claim.lines.append({"code": "", "modifiers": (), "charge": Decimal(0), "units": Decimal(1),
                                "date": None, "ref": ""})  # fmt: skip
        elif seg.id == "SV1":
            if not claim.lines or claim.lines[-1]["code"]:
                raise X12Error(f"{seg}: SV1 without its LX")
            parts = seg.components(1)
            if len(parts) < 2 or not parts[1]:
                raise X12Error(f"{seg}: SV101-2 (procedure code) is empty")
            line = claim.lines[-1]
            line["code"], line["modifiers"] = parts[1], tuple(m for m in parts[2:6] if m)
            line["charge"] = _decimal(seg, 2, "line charge")
            line["units"] = _decimal(seg, 4, "units") if seg[4] else Decimal(1)
        elif seg.id == "DTP" and seg[1] == "472" and claim.lines and not claim.in_2300:
            line = claim.lines[-1]
            if line["date"] is None:
                line["date"] = _date(seg, 3, seg[3].partition("-")[0])
        elif seg.id == "REF" and seg[1] == "6R" and claim.lines:
            claim.lines[-1]["ref"] = seg[2]
        elif seg.id == "REF" and seg[1] == "F8" and claim.in_2300:
            claim.reference = seg[2]
        elif seg.id == "SBR":
            claim.in_2300 = False  # 2320 other subscriber: its NM1/REF belong to the prior payer
    if claim is not None:
        claims.append(claim.build())
    return claims


def read_837(text_837: str) -> Sent837:
    """The claims of one 837P interchange; X12Error naming the segment when it is not one we can read."""
    found = x12.interchanges(text_837)
    if len(found) != 1 or found[0].isa is None:
        raise X12Error("the sandbox payer reads exactly one ISA/IEA interchange per file")
    isa = found[0].isa
    groups = found[0].groups
    if len(groups) != 1 or groups[0].gs is None:
        raise X12Error(f"{isa}: the interchange must hold exactly one GS/GE functional group")
    gs = groups[0].gs
    if gs[1] != "HC":
        raise X12Error(f"{gs}: GS01 is {gs[1]!r}, not HC (health care claim)")
    controls: list[str] = []
    claims: list[SentClaim] = []
    for txn in groups[0].transactions:
        if txn.kind != "837":
            raise X12Error(f"{txn.st}: ST01 is {txn.kind!r}, not 837")
        if not txn.st[2]:
            raise X12Error(f"{txn.st}: ST02 (transaction set control number) is empty")
        controls.append(txn.st[2])
        claims.extend(_read_transaction(txn))
    if not controls:
        raise X12Error(f"{gs}: no ST*837 transaction set in the group")
    if not claims:
        raise X12Error(f"{gs}: no claim (CLM) in the file")
    return Sent837(isa[13].strip(), gs[6], isa[6].strip(), isa[8].strip(), tuple(controls), tuple(claims))


# ---- 999 ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetRejection:
    """Why the Sandbox's front end rejects one transaction set at the 999: the segment in error (its id and
    position counted from ST = 1), the element (0 when the segment as a whole is wrong) and the IK4 error code."""

    segment_id: str
    position: int
    element: int
    code: str  # IK403: 7 invalid code value, 8 invalid date, I12 implementation pattern match failure…


_PROBLEM = re.compile(r"^segment (\d+) \((\w+)\)")


def syntax_rejections(text_837: str) -> dict[str, SetRejection]:
    """ST02 → the first problem the payer's front end finds in that 837 transaction set (the business checks of
    ``x12.checks``, which pyx12 does not make: CLM02 = ΣSV102, pointers, LX numbering, ZIP+4, dotted ICD-10…).
    NPI check digits are left to the 277CA (the payer checks them against its provider file)."""
    out: dict[str, SetRejection] = {}
    for _, _, txn in x12.transactions(text_837, "837"):
        problems = [p for p in transaction_problems(txn) if "NPI" not in p]
        if not problems:
            continue
        match = _PROBLEM.match(problems[0])
        if match is None:
            out[txn.st[2]] = SetRejection("ST", 1, 0, "I12")
            continue
        seg_id = match.group(2)
        element = re.search(rf"\b{seg_id}(\d\d)\b", problems[0])
        position = int(match.group(1)) - txn.st.position + 1
        out[txn.st[2]] = SetRejection(seg_id, position, int(element.group(1)) if element else 0, "I12")
    return out


def rate_rejection(sent: Sent837, st02: str, text_837: str) -> SetRejection:
    """The 999 error cited for a set rejected by the configured rate: the first CLM's CLM05 (a simulated front-end
    edit on the place of service), so the rejection names a segment like any other."""
    for _, _, txn in x12.transactions(text_837, "837"):
        if txn.st[2] == st02:
            clm = next((seg for seg in txn.segments if seg.id == "CLM"), None)
            if clm is not None:
                return SetRejection("CLM", clm.position - txn.st.position + 1, 5, "7")
    return SetRejection("ST", 1, 0, "I12")


def respond_999(
    sent: Sent837, *, now: datetime, control_number: int, rejections: Mapping[str, SetRejection] | None = None
) -> str:
    """A 999 for every transaction set of ``sent``: accepted (IK5 A), or rejected (IK3/IK4 naming the segment and
    element, IK5 R 5) for the sets in ``rejections``. AK9 is A when all were accepted, R when none, else P."""
    rejections = rejections or {}
    count = len(sent.transaction_control_numbers)
    body = [segment("AK1", "HC", sent.group_control_number, CLAIM_VERSION)]
    for st02 in sent.transaction_control_numbers:
        body.append(segment("AK2", "837", st02, CLAIM_VERSION))
        problem = rejections.get(st02)
        if problem is None:
            body.append(segment("IK5", "A"))
            continue
        body.append(segment("IK3", problem.segment_id, str(problem.position), "", "8"))
        if problem.element:
            body.append(segment("IK4", str(problem.element), "", problem.code))
        body.append(segment("IK5", "R", "5"))
    accepted = count - sum(1 for st02 in sent.transaction_control_numbers if st02 in rejections)
    status = "A" if accepted == count else ("R" if accepted == 0 else "P")
    body.append(segment("AK9", status, str(count), str(count), str(accepted)))
    return interchange(
        sender=sent.receiver_id, receiver=sent.sender_id, functional_id="FA", version="005010X231A1", now=now,
        control_number=control_number, transactions=[transaction("999", "0001", "005010X231A1", body)],
    )  # fmt: skip


# ---- 277CA --------------------------------------------------------------------------------------------------------


def _groups(claims: tuple[SentClaim, ...], *keys: str) -> list[list[SentClaim]]:
    """Claims grouped by the given attributes, groups and claims in file order."""
    grouped: dict[tuple[str, ...], list[SentClaim]] = {}
    for claim in claims:
        grouped.setdefault(tuple(getattr(claim, k) for k in keys), []).append(claim)
    return list(grouped.values())


def _service_dates(claim: SentClaim) -> tuple[str, str] | None:
    dates = sorted(line.date for line in claim.lines if line.date is not None)
    if not dates:
        return None
    return ("D8", d8(dates[0])) if dates[0] == dates[-1] else ("RD8", f"{d8(dates[0])}-{d8(dates[-1])}")


def _277ca_claim(
    claim: SentClaim, scenario: str, hl: int, parent: int, today: str, reason: tuple[str, str, str] | None = None
) -> list[str]:
    out = [
        segment("HL", str(hl), str(parent), "PT"),
        segment("NM1", "QC", "1", "PATIENT", "", "", "", "", "MI", ident(claim.member_id)),
        segment("TRN", "2", claim.account_number),
    ]
    if scenario == "rejected":
        category, code, entity = reason or REJECTIONS[stable_number("reject", claim.account_number) % len(REJECTIONS)]
        composite = ":".join(p for p in (category, code, entity) if p)
        out.append(segment("STC", composite, today, "U", money(claim.charge)))
    else:
        out.append(segment("STC", "A2:20", today, "WQ", money(claim.charge)))
        out.append(segment("REF", "1K", payer_claim_number(claim.account_number)))
    dates = _service_dates(claim)
    if dates is not None:
        out.append(segment("DTP", "472", *dates))
    return out


def respond_277ca(
    sent: Sent837, scenarios: Mapping[str, str], *, now: datetime, control_number: int,
    reasons: Mapping[str, tuple[str, str, str]] | None = None,
) -> str:  # fmt: skip
    """A 277CA (005010X214): per claim A7 with a reason for ``rejected`` (``reasons[CLM01]`` when given, e.g.
    A7:164:IL member not found, A7:562:85 invalid NPI; else one picked from its account number), A2 accepted for
    every other scenario.

    One ST per payer, one provider level per billing NPI; the receiver level counts accepted and rejected claims.
    """
    today = f"{now:%Y%m%d}"
    sets: list[list[str]] = []
    for number, payer_claims in enumerate(_groups(sent.claims, "payer_id"), 1):
        control = f"{number:04d}"
        first = payer_claims[0]
        rejected = [c for c in payer_claims if scenario_of(scenarios, c.account_number) == "rejected"]
        accepted = [c for c in payer_claims if scenario_of(scenarios, c.account_number) != "rejected"]
        trace = f"{sent.interchange_control_number}{control}"
        body = [
            segment("BHT", "0085", "08", trace, today, f"{now:%H%M}", "TH"),
            segment("HL", "1", "", "20", "1"),
            segment("NM1", "PR", "2", text(first.payer_name) or "SANDBOX PAYER", "", "", "", "", "PI",
                    ident(first.payer_id)),
            segment("TRN", "1", trace),
            segment("DTP", "050", "D8", today),
            segment("DTP", "009", "D8", today),
            segment("HL", "2", "1", "21", "1"),
            segment("NM1", "41", "2", "SUBMITTER", "", "", "", "", "46", ident(sent.sender_id) or "SUBMITTER"),
            segment("TRN", "2", sent.group_control_number),
        ]  # fmt: skip
        charged = sum((c.charge for c in payer_claims), Decimal(0))
        body.append(segment("STC", "A1:19", today, "WQ", money(charged)))
        if accepted:
            body.append(segment("QTY", "90", str(len(accepted))))
        if rejected:
            body.append(segment("QTY", "AA", str(len(rejected))))
        if accepted:
            body.append(segment("AMT", "YU", money(sum((c.charge for c in accepted), Decimal(0)))))
        if rejected:
            body.append(segment("AMT", "YY", money(sum((c.charge for c in rejected), Decimal(0)))))
        hl = 3
        for provider_claims in _groups(tuple(payer_claims), "billing_npi"):
            provider_hl = hl
            body += [
                segment("HL", str(hl), "2", "19", "1"),
                segment("NM1", "85", "2", text(provider_claims[0].billing_name) or "PROVIDER", "", "", "", "",
                        "XX", ident(provider_claims[0].billing_npi)),
                segment("TRN", "1", f"{trace}{provider_hl:04d}"),
                segment("STC", "A1:19", "", "WQ", money(sum((c.charge for c in provider_claims), Decimal(0)))),
            ]  # fmt: skip
            hl += 1
            for claim in provider_claims:
                scenario = scenario_of(scenarios, claim.account_number)
                body += _277ca_claim(claim, scenario, hl, provider_hl, today, (reasons or {}).get(claim.account_number))
                hl += 1
        sets.append(transaction("277", control, "005010X214", body))
    return interchange(
        sender=sent.receiver_id, receiver=sent.sender_id, functional_id="HN", version="005010X214", now=now,
        control_number=control_number, transactions=sets,
    )  # fmt: skip
