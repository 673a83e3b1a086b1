"""The Sandbox payer's 835 (005010X221A1): one payment per payer and payee, every claim and line balanced.

What each scenario pays (x12 README pitfall 19 holds for every claim, line and payment):
paid (80% allowed, CO-45), contractual (65% allowed, CO-45), deductible (PR-1 on the first line), copay (PR-3 on the
first line), coinsurance (PR-2, 20% of allowed on each line), partial (first line paid, the others CO-97 with M15;
a one-line claim is paid half of allowed with CO-119), denials with CLP02=4 and the whole charge adjusted:
denied_auth CO-197 (M62 on some), denied_necessity CO-50 (N115 or N386 on some), denied_info CO-16 (N290, M76 or
MA130), denied_timely CO-29, denied_wrong_payer CO-109; reversal: paid, reversed (CLP02=22, negated amounts) and
paid again at 85% under a corrected payer claim number, all in the same 835. ``Extras`` (the Sandbox's settings and
member file) adds a PLB WO recouping 10% of a paid claim (PLB03-2 names its CLM01), L6 interest (a negative PLB
amount) and Medicare → Medicaid crossovers (CLP02 19 with NM1*TT naming the Medicaid payer). Pure, deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from backoffice.clearinghouse.sandbox_x12_model import (
    NOT_REMITTED,
    Sent837,
    SentClaim,
    SentLine,
    d8,
    ident,
    interchange,
    money,
    payer_claim_number,
    scenario_of,
    segment,
    stable_number,
    text,
    transaction,
)

VERSION = "005010X221A1"
ZERO = Decimal(0)
CENT = Decimal("0.01")
RATES = {"contractual": Decimal("0.65"), "corrected": Decimal("0.85")}
DEFAULT_RATE = Decimal("0.80")
DEDUCTIBLES = (Decimal(40), Decimal(75), Decimal(150), Decimal(500))
COPAYS = (Decimal(20), Decimal(25), Decimal(30), Decimal(40))
COINSURANCE = Decimal("0.20")
DENIALS: dict[str, tuple[str, tuple[str, ...]]] = {  # scenario → (CARC, RARCs picked per claim; "" = none)
    "denied_auth": ("197", ("M62", "")),
    "denied_necessity": ("50", ("N115", "N386", "")),
    "denied_info": ("16", ("N290", "M76", "MA130")),
    "denied_timely": ("29", ("",)),
    "denied_wrong_payer": ("109", ("",)),
}


@dataclass(frozen=True, slots=True)
class _Line:
    sent: SentLine
    charge: Decimal
    paid: Decimal
    adjustments: tuple[tuple[str, str, Decimal], ...]  # (group, reason, amount)
    remarks: tuple[str, ...] = ()

    def negated(self) -> _Line:
        return _Line(self.sent, -self.charge, -self.paid, tuple((g, r, -a) for g, r, a in self.adjustments),
                     self.remarks)  # fmt: skip


def _allowed(charge: Decimal, rate: Decimal) -> Decimal:
    return (charge * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def _paid_line(line: SentLine, rate: Decimal, patient: tuple[str, Decimal] | None = None) -> _Line:
    """Allowed = charge × rate; CO-45 for the rest; ``patient`` (PR reason, amount) is taken from the allowed."""
    allowed = _allowed(line.charge, rate)
    adjustments = [("CO", "45", line.charge - allowed)] if line.charge != allowed else []
    paid = allowed
    if patient is not None and patient[1] > ZERO:
        share = min(patient[1], allowed)
        adjustments.append(("PR", patient[0], share))
        paid -= share
    return _Line(line, line.charge, paid, tuple(adjustments))


def _denied_line(line: SentLine, reason: str, remark: str) -> _Line:
    return _Line(line, line.charge, ZERO, (("CO", reason, line.charge),), (remark,) if remark else ())


def adjudicate(claim: SentClaim, scenario: str) -> list[tuple[str, str, list[_Line]]]:
    """The CLP loops for one claim: (CLP02 status, CLP07 payer claim number, lines); several only for a reversal."""
    pick = stable_number("variant", claim.account_number)
    icn = payer_claim_number(claim.account_number)
    lines = claim.lines
    if scenario in DENIALS:
        reason, remarks = DENIALS[scenario]
        return [("4", icn, [_denied_line(line, reason, remarks[pick % len(remarks)]) for line in lines])]
    if scenario == "reversal":
        original = [_paid_line(line, DEFAULT_RATE) for line in lines]
        corrected = [_paid_line(line, RATES["corrected"]) for line in lines]
        return [("1", icn, original), ("22", icn, [line.negated() for line in original]),
                ("1", payer_claim_number(claim.account_number, "C"), corrected)]  # fmt: skip
    if scenario == "partial":
        if len(lines) == 1:
            line = _paid_line(lines[0], DEFAULT_RATE)
            half = (line.paid / 2).quantize(CENT, rounding=ROUND_HALF_UP)
            return [
                ("1", icn, [_Line(line.sent, line.charge, line.paid - half, (*line.adjustments, ("CO", "119", half)))])
            ]
        return [("1", icn, [_paid_line(lines[0], DEFAULT_RATE), *(_denied_line(x, "97", "M15") for x in lines[1:])])]
    if scenario == "deductible":
        amount = DEDUCTIBLES[pick % len(DEDUCTIBLES)]
        return [
            (
                "1",
                icn,
                [_paid_line(lines[0], DEFAULT_RATE, ("1", amount)), *(_paid_line(x, DEFAULT_RATE) for x in lines[1:])],
            )
        ]
    if scenario == "copay":
        amount = COPAYS[pick % len(COPAYS)]
        return [
            (
                "1",
                icn,
                [_paid_line(lines[0], DEFAULT_RATE, ("3", amount)), *(_paid_line(x, DEFAULT_RATE) for x in lines[1:])],
            )
        ]
    if scenario == "coinsurance":
        return [
            (
                "1",
                icn,
                [
                    _paid_line(x, DEFAULT_RATE, ("2", _allowed(_allowed(x.charge, DEFAULT_RATE), COINSURANCE)))
                    for x in lines
                ],
            )
        ]
    rate = RATES.get(scenario, DEFAULT_RATE)  # paid, contractual
    return [("1", icn, [_paid_line(x, rate) for x in lines])]


def _units(units: Decimal) -> str:
    return format(units.normalize(), "f")


def _cas(adjustments: tuple[tuple[str, str, Decimal], ...]) -> list[str]:
    """One CAS per group (in first-seen order), up to six reason/amount pairs each."""
    out: list[str] = []
    groups: dict[str, list[tuple[str, Decimal]]] = {}
    for group, reason, amount in adjustments:
        groups.setdefault(group, []).append((reason, amount))
    for group, pairs in groups.items():
        for start in range(0, len(pairs), 6):
            elements = [e for reason, amount in pairs[start : start + 6] for e in (reason, money(amount), "")]
            out.append(segment("CAS", group, *elements))
    return out


def _clp(claim: SentClaim, status: str, icn: str, lines: list[_Line], crossover: tuple[str, str] | None = None
         ) -> list[str]:  # fmt: skip
    charge = sum((x.charge for x in lines), ZERO)
    paid = sum((x.paid for x in lines), ZERO)
    patient = sum((a for x in lines for g, _, a in x.adjustments if g == "PR"), ZERO)
    out = [
        segment("CLP", claim.account_number, status, money(charge), money(paid), money(patient), "12", icn, "",
                claim.frequency_code),
        segment("NM1", "QC", "1", "PATIENT", "", "", "", "", "MI", ident(claim.member_id)),
    ]  # fmt: skip
    if crossover is not None:  # forwarded to the member's other payer (Medicare → Medicaid)
        out.append(segment("NM1", "TT", "2", text(crossover[0]) or "CROSSOVER PAYER", "", "", "", "", "PI",
                           ident(crossover[1]) or "CROSSOVER"))  # fmt: skip
    for line in lines:
        sent = line.sent
        out.append(segment("SVC", ":".join(("HC", sent.code, *sent.modifiers)), money(line.charge),
                           money(line.paid), "", _units(sent.units)))  # fmt: skip
        if sent.date is not None:
            out.append(segment("DTM", "472", d8(sent.date)))
        out += _cas(line.adjustments)
        if sent.control_number:
            out.append(segment("REF", "6R", ident(sent.control_number, 50)))
        if line.paid:
            allowed = line.charge - sum((a for g, _, a in line.adjustments if g == "CO"), ZERO)
            out.append(segment("AMT", "B6", money(allowed)))
        out += [segment("LQ", "HE", remark) for remark in line.remarks]
    return out


def _groups(claims: tuple[SentClaim, ...]) -> list[list[SentClaim]]:
    grouped: dict[tuple[str, str], list[SentClaim]] = {}
    for claim in claims:
        grouped.setdefault((claim.payer_id, claim.billing_npi), []).append(claim)
    return list(grouped.values())


def trace_number(sent: Sent837, control_number: int, index: int) -> str:
    """TRN02: from our ISA13 and the response's control number, so the same answer sent twice is a duplicate."""
    return f"SBX{ident(sent.interchange_control_number, 9)}{control_number:09d}{index:02d}"


def payer_ein(payer_id: str) -> str:
    """A stable 9-digit EIN for a payer id (TRN03 and BPR10 carry "1" + the EIN)."""
    return f"{stable_number('ein', payer_id) % 10**9:09d}"


@dataclass(frozen=True, slots=True)
class Extras:
    """What the Sandbox adds to its 835s besides adjudication, chosen by its settings (all deterministic):
    ``crossovers`` CLM01 → (name, payer id) of the member's other payer (paid claims go out as CLP02 19 with NM1*TT);
    ``recoup`` the CLM01s of paid claims recouped by a PLB WO (10% of what was paid, the reference naming the
    claim); ``interest`` the payments (1-based ST index) that also pay L6 interest on their first paid claim."""

    crossovers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    recoup: frozenset[str] = frozenset()
    interest: frozenset[int] = frozenset()


RECOUP_SHARE = Decimal("0.10")


def _plb(first: SentClaim, paid: list[tuple[str, Decimal]], extras: Extras, index: int, control_number: int,
         now: datetime) -> tuple[list[str], Decimal]:  # fmt: skip
    """The PLB of one payment (or nothing) and its total (positive reduces the payment)."""
    pairs: list[tuple[str, Decimal]] = []
    for account, amount in paid:
        if account in extras.recoup and amount > ZERO:
            pairs.append((f"WO:{ident(account, 50)}", (amount * RECOUP_SHARE).quantize(CENT, rounding=ROUND_HALF_UP)))
    if index in extras.interest and paid:
        cents = 50 + stable_number("interest", str(control_number), str(index)) % 950
        pairs.append((f"L6:{ident(paid[0][0], 50)}", -Decimal(cents) / 100))
    pairs = [(reason, amount) for reason, amount in pairs if amount]
    if not pairs:
        return [], ZERO
    out = []
    for start in range(0, len(pairs), 6):
        elements = [e for reason, amount in pairs[start : start + 6] for e in (reason, money(amount))]
        out.append(segment("PLB", ident(first.billing_npi), f"{now.year}1231", *elements))
    return out, sum((amount for _, amount in pairs), ZERO)


def _remittance(sent: Sent837, claims: list[SentClaim], scenarios: Mapping[str, str], now: datetime,
                control_number: int, index: int, extras: Extras) -> list[str]:  # fmt: skip
    body: list[str] = []
    total = ZERO
    paid: list[tuple[str, Decimal]] = []
    for claim in claims:
        for status, icn, lines in adjudicate(claim, scenario_of(scenarios, claim.account_number)):
            amount = sum((x.paid for x in lines), ZERO)
            crossover = extras.crossovers.get(claim.account_number) if status == "1" else None
            body += _clp(claim, "19" if crossover else status, icn, lines, crossover)
            total += amount
            if status == "1" and amount > ZERO:
                paid.append((claim.account_number, amount))
    first, today = claims[0], d8(now.date())
    plb, adjusted = _plb(first, paid, extras, index, control_number, now)
    payment = total - adjusted
    company = "1" + payer_ein(first.payer_id)
    if payment > ZERO:
        bpr = segment("BPR", "I", money(payment), "C", "ACH", "CCP", "01", "011000015", "DA", "1234567890", company,
                      "", "01", "021000021", "DA", "9876543210", today)  # fmt: skip
    else:
        bpr = segment("BPR", "H", money(payment) if payment else "0", "C", "NON", *[""] * 11, today)
    header = [
        bpr,
        segment("TRN", "1", trace_number(sent, control_number, index), company),
        segment("DTM", "405", today),
        segment("N1", "PR", text(first.payer_name) or "SANDBOX PAYER"),
        segment("N3", "1 SANDBOX WAY"),
        segment("N4", "SPRINGFIELD", "IL", "62701"),
        segment("REF", "2U", ident(first.payer_id, 50)),
        segment("PER", "BL", "SANDBOX EDI SUPPORT", "TE", "8005550100"),
        segment("N1", "PE", text(first.billing_name) or "PROVIDER", "XX", ident(first.billing_npi)),
        segment("LX", "1"),
    ]
    return transaction("835", f"{index:04d}", "", header + body + plb)


def remit_835(
    sent: Sent837, scenarios: Mapping[str, str], *, now: datetime, control_number: int, extras: Extras | None = None
) -> str | None:
    """The 835s for the claims of ``sent`` that get one (not rejected/no_response), one ST per payer and payee,
    with the PLBs and crossovers ``extras`` asks for.

    None when nothing is remitted. Every ST balances (claims, lines, BPR02 = ΣCLP04 − ΣPLB).
    """
    remitted = tuple(c for c in sent.claims if scenario_of(scenarios, c.account_number) not in NOT_REMITTED)
    if not remitted:
        return None
    sets = [
        _remittance(sent, claims, scenarios, now, control_number, index, extras or Extras())
        for index, claims in enumerate(_groups(remitted), 1)
    ]
    return interchange(
        sender=sent.receiver_id, receiver=sent.sender_id, functional_id="HP", version=VERSION, now=now,
        control_number=control_number, transactions=sets,
    )  # fmt: skip
