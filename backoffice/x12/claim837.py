"""Writing 837P (005010X222A1) professional claims from plain values (pure: no Flask, no database, no I/O).

One ISA/IEA and one GS/GE per call; each batch becomes one or more ST/SE of at most 5,000 claims. The
separators are ``*`` ``:`` ``^`` ``~`` and never occur in data: names and addresses are transliterated to plain
upper-case ASCII and stripped of them. Bad input raises ``ValueError`` naming the claim (CLM01) and the field,
so no file known to be wrong is ever written. Source: shared/x12/README.md pitfalls 1-18, billing-rules 4.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from backoffice.x12.claim837_cob import line_adjudication_segments, other_payer_segments, prior_payer_id
from backoffice.x12.claim837_format import (
    CODE_RE,
    DIAGNOSIS_RE,
    EIN_RE,
    FILING_INDICATORS,
    FREQUENCIES,
    MAX_CLAIMS_PER_TRANSACTION,
    MAX_DIAGNOSES,
    MAX_LINES,
    MAX_MODIFIERS,
    MAX_POINTERS,
    MODIFIER_RE,
    POS_RE,
    PRIOR_PAYERS,
    RELATIONSHIPS,
    RESPONSIBILITIES,
    TAXONOMY_RE,
    TERMINATOR,
    VERSION,
    Field,
    address_segments,
    clean_text,
    demographics,
    money_text,
    person_name,
    segment,
)
from backoffice.x12.claim837_model import (
    Address,
    Adjustment,
    Batch,
    BillingProvider,
    ClaimInfo,
    LineAdjudication,
    Patient,
    PayerInfo,
    PriorPayer,
    Receiver,
    RenderingProvider,
    ServiceLine,
    Submitter,
    Subscriber,
    SupervisingProvider,
)

__all__ = [
    "MAX_CLAIMS_PER_TRANSACTION",
    "VERSION",
    "Address",
    "Adjustment",
    "Batch",
    "BillingProvider",
    "ClaimInfo",
    "LineAdjudication",
    "Patient",
    "PayerInfo",
    "PriorPayer",
    "Receiver",
    "RenderingProvider",
    "ServiceLine",
    "Submitter",
    "Subscriber",
    "SupervisingProvider",
    "clean_text",
    "write_837p",
]


def _header_segments(batch: Batch) -> list[str]:
    """1000A submitter, 1000B receiver and the 2000A/2010AA billing provider (HL 1) of one transaction."""
    check = Field("batch")
    submitter, receiver, provider = batch.submitter, batch.receiver, batch.billing_provider
    if not isinstance(provider, BillingProvider):
        raise check.fail("billing provider", "is missing")
    taxonomy = check.match("billing provider taxonomy", provider.taxonomy, TAXONOMY_RE, "a NUCC taxonomy is 10 chars")
    npi = check.npi("billing provider NPI", provider.npi)
    tax_id = check.match("billing provider tax ID", provider.tax_id, EIN_RE, "an EIN is 9 digits")
    if provider.first_name:
        last, first = person_name(check, "billing provider", provider.name, provider.first_name)
        name = segment("NM1", "85", "1", last, first, "", "", "", "XX", npi)
    else:
        name = segment("NM1", "85", "2", check.text("billing provider name", provider.name, 60), *[""] * 4, "XX", npi)
    return [
        segment("NM1", "41", "2", check.text("submitter name", submitter.name, 60), *[""] * 4, "46", _etin(submitter)),
        segment("PER", "IC", check.text("submitter contact", submitter.contact_name, 60), "TE",
                 check.phone("submitter phone", submitter.phone)),
        segment("NM1", "40", "2", check.text("receiver name", receiver.name, 60), *[""] * 4, "46", _etin(receiver)),
        "HL*1**20*1" + TERMINATOR,
        segment("PRV", "BI", "PXC", taxonomy),
        name,
        *address_segments(check, "billing provider", provider.address, nine=True),
        segment("REF", "EI", tax_id),
    ]  # fmt: skip


def _etin(party: Submitter | Receiver) -> str:
    return Field("batch").ident(f"{type(party).__name__.lower()} ETIN", party.etin, 15)


def _payer_segments(payer: PayerInfo) -> list[str]:
    check = Field("batch")
    out = [segment("NM1", "PR", "2", check.text("payer name", payer.name, 60), *[""] * 4, "PI",
                    check.ident("payer ID", payer.payer_id, 80))]  # fmt: skip
    if payer.address is not None:
        out += address_segments(check, "payer", payer.address, nine=False)
    return out


def _claim_segments(
    subscriber: Subscriber, patient: Patient | None, claim: ClaimInfo, payer: list[str], hl: int
) -> tuple[list[str], int]:
    """HL 22 (+ HL 23), 2010BA/BB, 2300 and its 2400 lines for one claim; returns the segments and the next HL id."""
    account = clean_text(claim.account_number or "")
    check = Field(f"claim {claim.account_number!r}")
    if len(claim.account_number or "") > 38:  # never cut: two references sharing 38 characters would collide
        raise check.fail("account number (CLM01)", f"is {len(claim.account_number)} characters; at most 38 fit")
    if not account or account != (claim.account_number or "").upper():
        raise check.fail("account number (CLM01)", "must be 1-38 plain letters, digits or spaces")
    responsibility = check.one_of("payer responsibility (SBR01)", subscriber.payer_responsibility, RESPONSIBILITIES)
    priors = claim.priors
    if len(priors) != PRIOR_PAYERS[responsibility]:
        raise check.fail(
            "prior payer (2320)",
            "a secondary claim (SBR01 S) carries the primary's adjudication, a "
            "tertiary claim (SBR01 T) the primary's and the secondary's, and a primary claim none "
            f"(SBR01 {responsibility} with {len(priors)})",
        )
    expected = ("P", "S")[: len(priors)]
    if tuple(prior.responsibility for prior in priors) != expected:
        raise check.fail("prior payer SBR01", f"the prior payers must be in payment order {', '.join(expected)}")
    filing = check.one_of("claim filing indicator (SBR09)", claim.claim_filing_indicator, FILING_INDICATORS)
    out: list[str] = []
    sub_last, sub_first = person_name(check, "subscriber", subscriber.last_name, subscriber.first_name)
    group = check.text("group number (SBR03)", subscriber.group_number, 50, required=False)
    member = check.ident("member ID", subscriber.member_id, 80)
    sub_name = segment("NM1", "IL", "1", sub_last, sub_first, "", "", "", "MI", member)
    if patient is None:
        out.append(f"HL*{hl}*1*22*0{TERMINATOR}")
        out.append(segment("SBR", responsibility, "18", group, "", "", "", "", "", filing))
        out.append(sub_name)
        out += address_segments(check, "subscriber", subscriber.address, nine=False)
        out.append(demographics(check, "subscriber", subscriber.dob, subscriber.sex))
        out += payer
        next_hl = hl + 1
    else:
        relationship = check.one_of("patient relationship (PAT01)", patient.relationship, RELATIONSHIPS)
        out.append(f"HL*{hl}*1*22*1{TERMINATOR}")
        out.append(segment("SBR", responsibility, "", group, "", "", "", "", "", filing))
        out.append(sub_name)
        out += payer
        out.append(f"HL*{hl + 1}*{hl}*23*0{TERMINATOR}")
        out.append(segment("PAT", relationship))
        pat_last, pat_first = person_name(check, "patient", patient.last_name, patient.first_name)
        out.append(segment("NM1", "QC", "1", pat_last, pat_first))
        out += address_segments(check, "patient", patient.address, nine=False)
        out.append(demographics(check, "patient", patient.dob, patient.sex))
        next_hl = hl + 2
    out += _claim_body(check, account, claim)
    return out, next_hl


def _claim_body(check: Field, account: str, claim: ClaimInfo) -> list[str]:
    """2300 CLM, REF, HI, 2310B rendering provider and the 2400 lines."""
    diagnoses = tuple(claim.diagnoses or ())
    if not diagnoses:
        raise check.fail("diagnoses", "at least one ICD-10-CM diagnosis is required")
    if len(diagnoses) > MAX_DIAGNOSES:
        raise check.fail("diagnoses", f"{len(diagnoses)} given, at most {MAX_DIAGNOSES}")
    codes = []
    for index, code in enumerate(diagnoses, 1):
        plain = (code or "").replace(".", "").strip().upper()
        codes.append(check.match(f"diagnosis {index}", plain, DIAGNOSIS_RE, "not an ICD-10-CM code"))
    if len(set(codes)) != len(codes):
        raise check.fail("diagnoses", "a diagnosis is listed twice")
    lines = tuple(claim.lines or ())
    if not lines or len(lines) > MAX_LINES:
        raise check.fail("service lines", f"1-{MAX_LINES} lines are required (got {len(lines)})")
    pos = claim.place_of_service or lines[0].place_of_service
    check.match("place of service (CLM05-1)", pos, POS_RE, "a POS code is 2 digits")
    frequency = check.one_of("frequency (CLM05-3)", claim.frequency, FREQUENCIES)
    reference = clean_text(claim.payer_claim_number or "")
    if frequency != "1" and not reference:
        raise check.fail("payer claim number (REF*F8)", "a replacement or void needs the payer's claim number")
    if frequency == "1" and reference:
        raise check.fail("payer claim number (REF*F8)", "an original claim carries no payer claim number")

    priors = claim.priors
    payer_ids = [prior_payer_id(check, prior) for prior in priors]
    if len(set(payer_ids)) != len(payer_ids):
        raise check.fail("prior payer ID", "two prior payers share an ID; SVD01 could not tell their lines apart")
    for prior in priors:
        if len(prior.lines or ()) != len(lines):
            raise check.fail("prior payer lines", f"{len(prior.lines or ())} adjudications for {len(lines)} lines")
    body: list[str] = []
    total = Decimal(0)
    paid = [Decimal(0)] * len(priors)
    for number, line in enumerate(lines, 1):
        adjudications = [(prior.lines[number - 1], payer_id) for prior, payer_id in zip(priors, payer_ids, strict=True)]
        segments, charge, line_paid = _line_segments(check, number, line, pos, len(codes), adjudications)
        body += segments
        total += charge
        paid = [before + now for before, now in zip(paid, line_paid, strict=True)]
    out = [segment("CLM", account, money_text(total), "", "", f"{pos}:B:{frequency}", "Y", "A", "Y", "Y")]
    if reference:
        out.append(segment("REF", "F8", check.ident("payer claim number (REF*F8)", reference, 50)))
    if claim.prior_auth:
        out.append(segment("REF", "G1", check.ident("prior authorization (REF*G1)", claim.prior_auth, 50)))
    out.append(segment("HI", *(("ABK:" if i == 0 else "ABF:") + c for i, c in enumerate(codes))))
    if claim.rendering is not None:
        out += _rendering(check, claim.rendering)
    if claim.supervising is not None:
        out += _supervising(check, claim.supervising)
    for prior, prior_paid in zip(priors, paid, strict=True):
        out += other_payer_segments(check, prior, prior_paid)
    return out + body


def _rendering(check: Field, rendering: RenderingProvider) -> list[str]:
    last, first = person_name(check, "rendering provider", rendering.last_name, rendering.first_name)
    npi = check.npi("rendering provider NPI", rendering.npi)
    taxonomy = check.match("rendering provider taxonomy", rendering.taxonomy, TAXONOMY_RE, "a NUCC taxonomy")
    return [segment("NM1", "82", "1", last, first, "", "", "", "XX", npi), segment("PRV", "PE", "PXC", taxonomy)]


def _supervising(check: Field, supervising: SupervisingProvider) -> list[str]:
    """2310D supervising provider: NM1*DQ with the supervisor's NPI (no PRV in this loop)."""
    last, first = person_name(check, "supervising provider", supervising.last_name, supervising.first_name)
    npi = check.npi("supervising provider NPI", supervising.npi)
    return [segment("NM1", "DQ", "1", last, first, "", "", "", "XX", npi)]


def _line_segments(
    check: Field,
    number: int,
    line: ServiceLine,
    pos: str,
    diagnoses: int,
    adjudications: list[tuple[LineAdjudication, str]],
) -> tuple[list[str], Decimal, list[Decimal]]:
    """2400 LX, SV1, DTP*472 (+ one 2430 per prior payer, with its payer ID); returns the segments, the charge and
    what each prior payer paid on the line."""
    where = f"line {number}"
    code = check.match(f"{where} procedure code", (line.cpt or "").upper(), CODE_RE, "a CPT/HCPCS code is 5 characters")
    modifiers = tuple((m or "").upper() for m in line.modifiers)
    if len(modifiers) > MAX_MODIFIERS:
        raise check.fail(f"{where} modifiers", f"at most {MAX_MODIFIERS}")
    for modifier in modifiers:
        check.match(f"{where} modifier", modifier, MODIFIER_RE, "a modifier is 2 characters")
    units = line.units
    if not isinstance(units, int) or isinstance(units, bool) or not 1 <= units <= 9999:
        raise check.fail(f"{where} units", f"a whole number from 1 (got {units!r})")
    charge = check.money(f"{where} charge", line.charge)
    pointers = tuple(line.diagnosis_pointers or ())
    if not 1 <= len(pointers) <= MAX_POINTERS:
        raise check.fail(f"{where} diagnosis pointers", f"1-{MAX_POINTERS} pointers are required")
    for pointer in pointers:
        if not isinstance(pointer, int) or not 1 <= pointer <= diagnoses:
            raise check.fail(f"{where} diagnosis pointer", f"{pointer!r} is beyond the {diagnoses} diagnoses")
    line_pos = line.place_of_service or pos
    check.match(f"{where} place of service", line_pos, POS_RE, "a POS code is 2 digits")
    procedure = ":".join(("HC", code, *modifiers))
    pointer_text = ":".join(str(p) for p in pointers)
    out = [
        f"LX*{number}{TERMINATOR}",
        segment("SV1", procedure, money_text(charge), "UN", str(units), "" if line_pos == pos else line_pos, "",
                pointer_text),
        segment("DTP", "472", "D8", check.date(f"{where} date of service", line.date_of_service)),
    ]  # fmt: skip
    paid = []
    for adjudication, payer_id in adjudications:
        cob, line_paid = line_adjudication_segments(check, where, adjudication, payer_id, procedure, charge, units)
        out += cob
        paid.append(line_paid)
    return out, charge, paid


def _chunks(batch: Batch) -> Iterable[tuple[tuple[Subscriber, Patient | None, ClaimInfo], ...]]:
    claims = tuple(batch.claims)
    if not claims:
        raise ValueError("batch: claims: a batch needs at least one claim")
    for start in range(0, len(claims), MAX_CLAIMS_PER_TRANSACTION):
        yield claims[start : start + MAX_CLAIMS_PER_TRANSACTION]


def _pad(value: str, width: int) -> str:
    return value[:width].ljust(width)


def write_837p(
    batches: Iterable[Batch],
    *,
    interchange_control_number: int,
    group_control_number: int,
    first_transaction_number: int,
    now: datetime,
    usage: str = "P",
) -> str:
    """The 837P interchange for ``batches``: one ISA and GS, ≤5,000 claims per ST, counts computed; or ValueError."""
    batches = list(batches)
    if not batches:
        raise ValueError("batches: nothing to write")
    if usage not in ("P", "T"):
        raise ValueError(f"usage (ISA15): must be P or T (got {usage!r})")
    if not 0 < interchange_control_number <= 999_999_999:
        raise ValueError("interchange control number (ISA13): must be 1-999999999")
    if not 0 < group_control_number <= 999_999_999:
        raise ValueError("group control number (GS06): must be 1-999999999")
    if first_transaction_number <= 0:
        raise ValueError("first transaction number (ST02): must be positive")
    seen: set[str] = set()
    for batch in batches:
        for _, _, claim in batch.claims:
            account = (claim.account_number or "").upper()
            if account in seen:  # CLP01 must lead each payment back to exactly one claim
                raise ValueError(f"claim {claim.account_number!r}: account number (CLM01): appears twice in one file")
            seen.add(account)
    sender, receiver = _etin(batches[0].submitter), _etin(batches[0].receiver)
    for batch in batches[1:]:
        if (_etin(batch.submitter), _etin(batch.receiver)) != (sender, receiver):
            raise ValueError("batches: every batch of one interchange needs the same submitter and receiver ETIN")

    isa_control = f"{interchange_control_number:09d}"
    out = [
        f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{_pad(sender, 15)}*ZZ*{_pad(receiver, 15)}*{now:%y%m%d}*{now:%H%M}*^*00501"
        f"*{isa_control}*0*{usage}*:~\n",
        segment("GS", "HC", sender, receiver, f"{now:%Y%m%d}", f"{now:%H%M}", str(group_control_number), "X", VERSION),
    ]
    transaction = first_transaction_number
    for batch in batches:
        header = _header_segments(batch)
        payer = _payer_segments(batch.payer)
        for chunk in _chunks(batch):
            control = f"{transaction:04d}"
            if len(control) > 9:
                raise ValueError("transaction number (ST02): more than 9 digits")
            body = [
                segment("ST", "837", control, VERSION),
                segment("BHT", "0019", "00", control, f"{now:%Y%m%d}", f"{now:%H%M}", "CH"),
                *header,
            ]
            hl = 2
            for subscriber, patient, claim in chunk:
                segments, hl = _claim_segments(subscriber, patient, claim, payer, hl)
                body += segments
            body.append(segment("SE", str(len(body) + 1), control))
            out += body
            transaction += 1
    out.append(segment("GE", str(transaction - first_transaction_number), str(group_control_number)))
    out.append(segment("IEA", "1", isa_control))
    return "".join(out)
