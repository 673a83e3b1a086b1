"""Business checks on an 837P text that pyx12 does not make (shared/x12/README.md pitfalls 1, 5, 6, 11-16, 18).

``business_problems(text)`` returns one sentence per problem, naming the segment position and, inside a claim,
the claim (CLM01). An empty list means the file passed every check here; run pyx12 as well for the IG syntax.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from backoffice.orgs.rules import npi_problem
from backoffice.x12 import reader as x12
from backoffice.x12.envelopes import trailer_problems

VERSION = "005010X222A1"
ISA_LENGTH = 106
MAX_CLAIMS_PER_TRANSACTION = 5000


def _amount(value: str) -> Decimal | None:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _money_problem(seg: x12.Segment, n: int, where: str) -> str | None:
    value = seg[n]
    amount = _amount(value)
    if amount is None:
        return f"{seg}{where}: {seg.id}{n:02d} {value!r} is not an amount"
    if amount < 0 or ("." in value and len(value.split(".", 1)[1]) > 2):
        return f"{seg}{where}: {seg.id}{n:02d} {value!r} must be non-negative with at most 2 decimals"
    return None


class _Claim:
    def __init__(self, clm: x12.Segment) -> None:
        self.clm = clm
        self.account = clm[1]
        self.diagnoses = 0
        self.lines = 0
        self.total = Decimal(0)
        self.references: set[str] = set()
        self.line: x12.Segment | None = None  # the LX whose DTP*472 has not been seen yet
        self.line_charge = Decimal(0)
        self.svd: x12.Segment | None = None  # the open 2430
        self.svd_expected = Decimal(0)  # SV102 - SVD02
        self.svd_adjusted = Decimal(0)  # the 2430's CAS amounts
        self.other_payers = 0  # 2320 SBRs
        self.paid: list[Decimal | None] = []  # each 2320's AMT*D
        self.payer_ids: list[str] = []  # each 2320's 2330B NM1*PR NM109
        self.claim_adjusted: list[Decimal] = []  # each 2320's claim-level CAS amounts
        self.line_adjusted: dict[str, Decimal] = {}  # 2430 CAS amounts by SVD01 (the prior payer's ID)
        self.svd_payer = ""

    @property
    def where(self) -> str:
        return f" in claim {self.account!r}"


def _isa_problems(interchange: x12.Interchange, groups: int) -> list[str]:
    isa, iea = interchange.isa, interchange.iea
    if isa is None:
        return ["the file has no ISA"]
    problems = []
    length = 3 + sum(1 + len(e) for e in isa.elements) + 1  # 'ISA', separators and elements, the terminator
    if length != ISA_LENGTH or len(isa.elements) != 16:
        problems.append(f"{isa}: ISA is {length} characters with {len(isa.elements)} elements; it must be 106 and 16")
    if not (len(isa[13]) == 9 and isa[13].isdigit()):
        problems.append(f"{isa}: ISA13 {isa[13]!r} must be 9 digits")
    problems += trailer_problems(isa, 13, iea, "interchange", groups, "holds {n} functional group(s)")
    return problems


def _group_problems(group: x12.Group) -> list[str]:
    gs, ge = group.gs, group.ge
    if gs is None:
        return ["a transaction set has no GS functional group"]
    problems = []
    if gs[8] != VERSION:
        problems.append(f"{gs}: GS08 {gs[8]!r} must be {VERSION} for an 837P")
    count = len(group.transactions)
    problems += trailer_problems(gs, 6, ge, "functional group", count, "holds {n} transaction set(s)")
    return problems


def _envelope_problems(group: x12.Group, transaction: x12.Transaction) -> list[str]:
    st, se = transaction.st, transaction.se
    problems = []
    if not st[3]:
        problems.append(f"{st}: ST03 is missing; it must be {VERSION}")
    elif group.gs is not None and st[3] != group.gs[8]:
        problems.append(f"{st}: ST03 {st[3]!r} differs from GS08 {group.gs[8]!r}")
    if not (4 <= len(st[2]) <= 9 and st[2].isdigit()):
        problems.append(f"{st}: ST02 {st[2]!r} must be 4-9 digits")
    count = len(transaction.segments) + 2
    problems += trailer_problems(st, 2, se, "transaction set", count, "has {n} segments (ST to SE)")
    return problems


def _cas_total(seg: x12.Segment) -> Decimal:
    return sum((_amount(seg[n]) or Decimal(0) for n in range(3, 19, 3) if seg[n]), Decimal(0))


def _end_svd(claim: _Claim, problems: list[str]) -> None:
    svd, expected, adjusted = claim.svd, claim.svd_expected, claim.svd_adjusted
    if svd is not None and expected != adjusted:
        problems.append(f"{svd}{claim.where}: SV102 - SVD02 is {expected} but the line's CAS add up to {adjusted}")
    claim.svd = None


def _end_line(claim: _Claim | None, problems: list[str]) -> None:
    if claim is not None:
        _end_svd(claim, problems)
    if claim is not None and claim.line is not None:
        problems.append(f"{claim.line}{claim.where}: service line {claim.line[1]} has no DTP*472 service date")
        claim.line = None


def _end_claim(claim: _Claim | None, problems: list[str]) -> None:
    if claim is None:
        return
    _end_line(claim, problems)
    clm = claim.clm
    if claim.lines == 0:
        problems.append(f"{clm}{claim.where}: the claim has no service line")
    amount = _amount(clm[2])
    if amount is not None and amount != claim.total:
        problems.append(f"{clm}{claim.where}: CLM02 {clm[2]} differs from the sum of SV102, {claim.total}")
    for n, paid in enumerate(claim.paid):  # each prior payer balances on its own: CLM02 = its AMT*D + its CAS
        payer_id = claim.payer_ids[n] if n < len(claim.payer_ids) else ""
        adjusted = claim.claim_adjusted[n] + claim.line_adjusted.get(payer_id, Decimal(0))
        if paid is not None and amount is not None and amount - paid != adjusted:
            problems.append(f"{clm}{claim.where}: CLM02 {clm[2]} - AMT*D {paid} of prior payer {payer_id!r} "
                            f"differs from its CAS total {adjusted}")  # fmt: skip
    unknown = sorted(set(claim.line_adjusted) - set(claim.payer_ids))
    if unknown:
        problems.append(f"{clm}{claim.where}: SVD01 {', '.join(unknown)} is none of the prior payers (2330B NM109)")
    frequency = clm.component(5, 3)
    if frequency in ("7", "8") and "F8" not in claim.references:
        problems.append(f"{clm}{claim.where}: frequency {frequency} needs REF*F8 with the payer's claim number")


def transaction_problems(transaction: x12.Transaction) -> list[str]:
    """The business problems of one 837 transaction set (SE/ST envelope aside), each naming its segment."""
    problems: list[str] = []
    claim: _Claim | None = None
    claims = 0
    previous_nm1 = ""
    for seg in transaction.segments:
        sid = seg.id
        where = claim.where if claim is not None else ""
        if sid in ("HL", "CLM"):
            _end_claim(claim, problems)
            claim = None
        if sid == "CLM":
            claim = _Claim(seg)
            claims += 1
            problem = _money_problem(seg, 2, claim.where)
            if problem:
                problems.append(problem)
        elif sid == "NM1":
            previous_nm1 = seg[1]
            if seg[1] == "PR" and claim is not None and claim.lines == 0 and claim.other_payers:
                claim.payer_ids.append(seg[9])
            if seg[8] == "XX":
                problem = npi_problem(seg[9])
                if problem:
                    problems.append(f"{seg}{where}: NM1*{seg[1]} NPI {seg[9]!r}: {problem}")
        elif sid == "N4" and previous_nm1 == "85":
            if not (len(seg[3]) == 9 and seg[3].isdigit()):
                problems.append(f"{seg}: billing provider ZIP {seg[3]!r} must be 9 digits")
        elif sid == "HI":
            for n, element in enumerate(seg.elements, 1):
                qualifier, code = seg.component(n, 1), seg.component(n, 2)
                if "." in code:
                    problems.append(f"{seg}{where}: HI{n:02d} diagnosis {code!r} is written with a dot")
                if qualifier not in ("ABK", "ABF"):
                    problems.append(f"{seg}{where}: HI{n:02d} qualifier {qualifier!r} must be ABK or ABF (ICD-10)")
                if claim is not None and element:
                    claim.diagnoses += 1
        elif sid == "REF" and claim is not None:
            claim.references.add(seg[1])
        elif sid == "LX" and claim is not None:
            _end_line(claim, problems)
            claim.line = seg
            claim.lines += 1
            if seg[1] != str(claim.lines):
                problems.append(f"{seg}{where}: LX01 {seg[1]!r} but this is line {claim.lines}")
        elif sid == "SV1" and claim is not None:
            problem = _money_problem(seg, 2, where)
            claim.line_charge = Decimal(0)
            if problem:
                problems.append(problem)
            else:
                claim.line_charge = Decimal(seg[2])
                claim.total += claim.line_charge
            pointers = seg.components(7)
            if not pointers:
                problems.append(f"{seg}{where}: SV107 has no diagnosis pointer")
            for pointer in pointers:
                if not pointer.isdigit() or not 1 <= int(pointer) <= claim.diagnoses:
                    problems.append(f"{seg}{where}: SV107 pointer {pointer!r} does not reference one of the "
                                    f"{claim.diagnoses} HI diagnoses")  # fmt: skip
        elif sid == "SBR" and claim is not None and claim.lines == 0:
            claim.other_payers += 1
            claim.paid.append(None)
            claim.claim_adjusted.append(Decimal(0))
        elif sid == "AMT" and seg[1] == "D" and claim is not None and claim.lines == 0 and claim.paid:
            claim.paid[-1] = _amount(seg[2])
        elif sid == "SVD" and claim is not None and claim.lines:
            _end_svd(claim, problems)
            paid = _amount(seg[2])
            if paid is None:
                problems.append(f"{seg}{where}: SVD02 {seg[2]!r} is not an amount")
            else:
                claim.svd, claim.svd_expected, claim.svd_adjusted = seg, claim.line_charge - paid, Decimal(0)
                claim.svd_payer = seg[1]
        elif sid == "CAS" and claim is not None:
            total = _cas_total(seg)
            if claim.svd is not None:
                claim.svd_adjusted += total
                claim.line_adjusted[claim.svd_payer] = claim.line_adjusted.get(claim.svd_payer, Decimal(0)) + total
            elif claim.lines == 0 and claim.claim_adjusted:
                claim.claim_adjusted[-1] += total
        elif sid == "DTP" and seg[1] == "472" and claim is not None and claim.line is not None:
            claim.line = None
    _end_claim(claim, problems)
    if claims > MAX_CLAIMS_PER_TRANSACTION:
        problems.append(f"{transaction.st}: {claims} claims in one transaction set; at most 5,000")
    return problems


def business_problems(text: str) -> list[str]:
    """Every business problem in an 837P text, each naming the segment and claim; [] when there is none."""
    try:
        interchanges = x12.interchanges(text)
    except x12.X12Error as error:
        return [f"not readable as X12: {error}"]
    problems: list[str] = []
    for interchange in interchanges:
        problems += _isa_problems(interchange, len(interchange.groups))
        for group in interchange.groups:
            problems += _group_problems(group)
            for transaction in group.transactions:
                if transaction.kind != "837":
                    problems.append(f"{transaction.st}: ST01 {transaction.kind!r} is not an 837")
                    continue
                problems += _envelope_problems(group, transaction)
                problems += transaction_problems(transaction)
    return problems
