"""The 835 parser: public samples and the golden file, hand-written fixtures, balancing, strict errors, contract."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.x12 import era835_scan
from backoffice.x12.era835 import as_contract, duplicate_key, parse_835
from backoffice.x12.reader import X12Error

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples"
GOLDEN = SAMPLES / "golden" / "handmade_835_mental_health.txt"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"shared X12 samples not found at {SAMPLES}")
SAMPLE_FILES = sorted((SAMPLES / "835").iterdir()) if SAMPLES.is_dir() else []
PATIENT_LAST, PATIENT_FIRST = "ZYXWOOD", "QUENTIVA"  # a name that must never appear in messages

# The sample files that read fine but whose figures do not balance, and why (checked by a test below).
UNBALANCED_SAMPLES = {
    # SVC01 is a bare "HC" and the 187.50 paid sits in SVC04, so charge and paid are shifted by one element.
    "lfh__tertiary-payment.835",
}


def _isa(component: str = ":", control: int = 1) -> str:
    fields_ = ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "PAYER01".ljust(15), "ZZ", "BILLER01".ljust(15),
               "261122", "1200", "^", "00501", f"{control:09d}", "0", "P", component]  # fmt: skip
    isa = "*".join(fields_) + "~"
    assert len(isa) == 106
    return isa


def _interchange(*bodies: list[str], component: str = ":", control: int = 1, st03: bool = False) -> str:
    """An interchange with one GS and one ST/SE per body; SE01 is counted, never written by hand."""
    lines = [f"GS*HP*PAYER01*BILLER01*20261122*1200*{control}*X*005010X221A1"]
    for number, body in enumerate(bodies, 1):
        st = f"ST*835*{number:04d}" + ("*005010X221A1" if st03 else "")
        lines += [st, *body, f"SE*{len(body) + 2}*{number:04d}"]
    lines += [f"GE*{len(bodies)}*{control}", f"IEA*1*{control:09d}"]
    return _isa(component, control) + "\n" + "~\n".join(lines) + "~\n"


def _body(total: str, *claims: list[str], plb: str = "", bpr16: bool = True, per: bool = True) -> list[str]:
    bpr = "BPR*I*" + total + "*C*ACH*CCP*01*021000021*DA*123456789*1512345678**01*071000013*DA*987654321"
    head = [bpr + ("*20261120" if bpr16 else ""), "TRN*1*EFT7788*1512345678", "DTM*405*20261120",
            "N1*PR*ACME HEALTH", "N3*1 MAIN ST", "N4*CHICAGO*IL*60601", "REF*2U*ACME01"]  # fmt: skip
    head += ["PER*BL*EDI DESK*TE*8005550100"] if per else []
    head += ["N1*PE*CALM MIND COUNSELING*XX*1234567893", "REF*TJ*123456789", "LX*1"]
    return head + [seg for claim in claims for seg in claim] + ([plb] if plb else [])


def _claim(claim_id: str = "ACC1", clp: str = "1*150*100*20*12*PCN9", *rest: str) -> list[str]:
    return [f"CLP*{claim_id}*{clp}", f"NM1*QC*1*{PATIENT_LAST}*{PATIENT_FIRST}****MI*MEM42", *rest]


SIMPLE = _claim("ACC1", "1*150*100*20*12*PCN9", "SVC*HC:90834*150*100**1", "DTM*472*20261101", "CAS*CO*45*30",
                "CAS*PR*3*20")  # fmt: skip


def _one(text: str):
    (remittance,) = parse_835(text)
    return remittance


# --- public samples and the golden file -------------------------------------------------------------------------


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES + [GOLDEN], ids=lambda p: p.name)
def test_every_public_sample_and_the_golden_file_parse_without_crashing(path: Path) -> None:
    remittances = parse_835(path.read_text(encoding="ascii"))
    assert remittances and all(r.claims for r in remittances)
    assert all(r.balanced == (path.name not in UNBALANCED_SAMPLES) for r in remittances)
    json.dumps(as_contract(remittances))


@needs_samples
def test_the_fast_splitter_and_the_reference_reader_agree_on_every_sample() -> None:
    for path in SAMPLE_FILES + [GOLDEN]:
        text = path.read_text(encoding="ascii")
        fast = era835_scan._fast(text)
        assert fast is None or fast == era835_scan._from_reader(text, True), path.name


@needs_samples
def test_a_sample_without_isa_goes_through_the_reference_reader() -> None:
    text = (SAMPLES / "835" / "keiron__blue_cross_nc_sample.txt").read_text(encoding="ascii")
    assert era835_scan._fast(text) is None
    remittance = _one(text)
    assert remittance.total_paid == Decimal("1922.86") and remittance.payment_date == date(2011, 1, 8)
    assert [s.original_code for s in remittance.claims[0].services][:2] == ["59410", "59410"]


@needs_samples
def test_an_impossible_payment_date_is_left_empty_and_reported_without_unbalancing() -> None:
    remittance = _one((SAMPLES / "835" / "lfh__managed-care.835").read_text(encoding="ascii"))
    assert remittance.payment_date is None and remittance.balanced
    assert remittance.problems == ("payment: BPR16 '20002316' is not a date; payment date left empty",)
    first = remittance.claims[0]
    assert [(a.group, a.reason, a.amount) for a in first.adjustments] == [("CO", "A2", Decimal("50.00"))]


@needs_samples
def test_the_golden_file_reads_its_known_totals_claims_and_provider_adjustment() -> None:
    remittance = _one(GOLDEN.read_text(encoding="ascii"))
    assert remittance.balanced and remittance.problems == ()
    assert (remittance.handling_code, remittance.payment_method) == ("I", "ACH")
    assert remittance.total_paid == Decimal("207.5")
    assert remittance.payment_date == date(2025, 2, 3)
    assert (remittance.trace_number, remittance.trace_payer_id) == ("EFT0000123", "1512345678")
    assert (remittance.payer_name, remittance.payee_name) == ("EXAMPLE HEALTH PLAN", "CALM MIND COUNSELING LLC")
    assert remittance.payee_npi == "1234567893"
    figures = [(c.claim_id, c.status, c.charge, c.paid, c.patient_responsibility, c.payer_claim_number)
               for c in remittance.claims]  # fmt: skip
    assert figures == [
        ("PCN0001", "1", Decimal(150), Decimal("97.5"), Decimal(20), "PAYERCLM0001"),
        ("PCN0002", "1", Decimal(200), Decimal(120), Decimal(30), "PAYERCLM0002"),
        ("PCN0003", "4", Decimal(150), Decimal(0), Decimal(0), "PAYERCLM0003"),
    ]
    services = [(s.code, s.date, [(a.group, a.reason, a.amount) for a in s.adjustments])
                for c in remittance.claims for s in c.services]  # fmt: skip
    assert services == [
        ("90834", date(2025, 1, 10), [("CO", "45", Decimal("32.5")), ("PR", "3", Decimal(20))]),
        ("90837", date(2025, 1, 12), [("CO", "45", Decimal(50)), ("PR", "1", Decimal(30))]),
        ("90834", date(2025, 1, 14), [("CO", "50", Decimal(150))]),
    ]
    assert sum(c.paid for c in remittance.claims) == Decimal("217.5")
    (plb,) = remittance.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period_date) == ("1234567893", date(2025, 12, 31))
    assert (plb.reason, plb.reference, plb.amount) == ("WO", "PAYERCLM0999", Decimal(10))
    assert remittance.claims[0].member_id == "MEM123456"


# --- hand-written fixtures --------------------------------------------------------------------------------------


def test_several_cas_triples_in_one_segment_and_repeated_cas_are_all_read() -> None:
    claim = _claim("ACC1", "1*300*100*60*12*PCN9", "CAS*OA*23*0", "SVC*HC:90837*300*100**1",
                   "CAS*CO*45*100*1*253*2**B6*8", "CAS*PR*1*40**2*15*1*3*5", "CAS*CO*94*30")  # fmt: skip
    remittance = _one(_interchange(_body("100", claim)))
    line = remittance.claims[0].services[0]
    assert [(a.group, a.reason, a.amount, a.quantity) for a in line.adjustments] == [
        ("CO", "45", Decimal(100), Decimal(1)), ("CO", "253", Decimal(2), None), ("CO", "B6", Decimal(8), None),
        ("PR", "1", Decimal(40), None), ("PR", "2", Decimal(15), Decimal(1)), ("PR", "3", Decimal(5), None),
        ("CO", "94", Decimal(30), None),
    ]  # fmt: skip
    assert [(a.group, a.reason) for a in remittance.claims[0].adjustments] == [("OA", "23")]
    assert remittance.balanced  # 300 - 100 = 200 = 110 + 60 + 30 on the line + 0 at claim level


def test_six_triples_in_one_cas_balance_a_claim() -> None:
    six = "CAS*CO*45*10*1*46*10*1*47*10*1*48*10*1*49*10*1*50*10"
    claim = _claim("ACC6", "1*160*100*0*12*PCN9", "SVC*HC:90834*160*100**1", six)
    remittance = _one(_interchange(_body("100", claim)))
    assert len(remittance.claims[0].services[0].adjustments) == 6 and remittance.balanced


def test_a_positive_plb_reduces_the_payment_and_a_negative_one_adds_interest() -> None:
    recovery = _one(_interchange(_body("90", SIMPLE, plb="PLB*1234567893*20261231*WO:PCN0999*10")))
    assert recovery.balanced and recovery.provider_adjustments[0].amount == Decimal(10)
    interest = _one(_interchange(_body("102.5", SIMPLE, plb="PLB*1234567893*20261231*L6*-2.5*WO:PCN1*0")))
    assert interest.balanced
    assert [(p.reason, p.reference, p.amount) for p in interest.provider_adjustments] == [
        ("L6", "", Decimal("-2.5")),
        ("WO", "PCN1", Decimal(0)),
    ]
    wrong_sign = _one(_interchange(_body("97.5", SIMPLE, plb="PLB*1234567893*20261231*L6*-2.5")))
    assert wrong_sign.problems == (
        "payment: claims paid 100.00 − provider adjustments -2.50 = 102.50 but BPR02 total is 97.50",
    )


def test_a_reversal_keeps_its_negative_amounts_and_still_balances() -> None:
    reversal = _claim("ACC1", "22*-150*-100*-20*12*PCN9", "SVC*HC:90834*-150*-100**-1", "CAS*CO*45*-30", "CAS*PR*3*-20")
    corrected = _claim("ACC1", "1*150*90*20*12*PCN10", "SVC*HC:90834*150*90**1", "CAS*CO*45*40", "CAS*PR*3*20")
    remittance = _one(_interchange(_body("-10", reversal, corrected)))
    assert remittance.balanced and remittance.total_paid == Decimal(-10)
    first = remittance.claims[0]
    assert first.is_reversal and (first.charge, first.paid, first.patient_responsibility) == (-150, -100, -20)
    assert first.services[0].units == Decimal(-1) and first.services[0].adjustments[0].amount == Decimal(-30)
    assert as_contract([remittance])["transactions"][0]["claims"][0]["paid"] == "-100.00"


def test_an_empty_svc05_means_one_unit_and_written_units_are_kept() -> None:
    claim = _claim("ACC1", "1*300*300*0*12*PCN9", "SVC*HC:90834*100*100", "SVC*HC:96127*100*100**2",
                   "SVC*HC:90785*100*100**1.00")  # fmt: skip
    remittance = _one(_interchange(_body("300", claim)))
    assert [s.units for s in remittance.claims[0].services] == [Decimal(1), Decimal(2), Decimal("1.00")]
    services = as_contract([remittance])["transactions"][0]["claims"][0]["services"]
    assert [s["units"] for s in services] == ["1", "2", "1"]


def test_a_greater_than_composite_separator_in_isa16_splits_svc01_and_plb() -> None:
    claim = _claim("ACC1", "1*150*100*20*12*PCN9", "SVC*HC>90834>95>GT*150*100**1*HC>90837", "CAS*CO*45*30",
                   "CAS*PR*3*20")  # fmt: skip
    remittance = _one(_interchange(_body("90", claim, plb="PLB*1234567893*20261231*WO>PCN0999*10"), component=">"))
    line = remittance.claims[0].services[0]
    assert (line.qualifier, line.code, line.modifiers, line.original_code) == ("HC", "90834", ("95", "GT"), "90837")
    assert remittance.provider_adjustments[0].reference == "PCN0999" and remittance.balanced


def test_two_sts_and_two_isas_in_one_file_give_one_remittance_per_st() -> None:
    first = _interchange(_body("100", SIMPLE), _body("100", [s.replace("ACC1", "ACC2") for s in SIMPLE]))
    second = _interchange(_body("100", [s.replace("ACC1", "ACC3") for s in SIMPLE]), component=">", control=2)
    remittances = parse_835(first + second)
    assert [r.claims[0].claim_id for r in remittances] == ["ACC1", "ACC2", "ACC3"]
    assert [r.control_number for r in remittances] == ["0001", "0002", "0001"]
    assert all(r.balanced for r in remittances)


def test_st03_is_read_whether_present_or_absent() -> None:
    with_st03 = parse_835(_interchange(_body("100", SIMPLE), st03=True))
    without = parse_835(_interchange(_body("100", SIMPLE)))
    assert with_st03 == without and with_st03[0].balanced


def test_a_missing_per_and_bpr16_are_tolerated() -> None:
    remittance = _one(_interchange(_body("100", SIMPLE, per=False, bpr16=False)))
    assert remittance.payment_date is None and remittance.balanced and remittance.problems == ()
    assert as_contract([remittance])["transactions"][0]["payment_date"] is None


def test_a_file_starting_at_st_reads_like_the_same_file_with_its_envelope() -> None:
    body = _body("100", SIMPLE)
    bare = "~\n".join(["ST*835*0001", *body, f"SE*{len(body) + 2}*0001"]) + "~"
    assert era835_scan._fast(bare) is None
    (bare_remittance,) = parse_835(bare)
    assert bare_remittance == _one(_interchange(body))


def test_line_details_remarks_and_dates_are_kept() -> None:
    claim = _claim("ACC1", "1*150*100*20*12*PCN9", "MOA***MA01*N1", "DTM*232*20261101", "DTM*233*20261102",
                   "SVC*HC:90834*150*100", "CAS*CO*45*30", "CAS*PR*3*20", "REF*6R*LINE1", "LQ*HE*N130",
                   "LQ*RX*IGNORED")  # fmt: skip
    claim_obj = _one(_interchange(_body("100", claim))).claims[0]
    line = claim_obj.services[0]
    assert (claim_obj.statement_from, claim_obj.statement_to) == (date(2026, 11, 1), date(2026, 11, 2))
    assert claim_obj.remarks == ("MA01", "N1") and claim_obj.member_id == "MEM42"
    assert (line.date, line.control_number, line.remarks) == (date(2026, 11, 1), "LINE1", ("N130",))


def test_the_duplicate_key_is_the_payer_and_the_trace_number() -> None:
    remittance = _one(_interchange(_body("100", SIMPLE)))
    assert duplicate_key(remittance) == ("1512345678", "EFT7788")
    assert remittance.payer_id == "ACME01"


# --- balancing: corrupted copies ---------------------------------------------------------------------------------


@needs_samples
@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("CLP*PCN0002*1*200*120*", "CLP*PCN0002*1*200*125*",
         ["claim PCN0002: charge 200.00 − paid 125.00 = 75.00 but adjustments total 80.00",
          "claim PCN0002: service lines paid 120.00 − claim adjustments 0.00 = 120.00 but claim paid 125.00",
          "payment: claims paid 222.50 − provider adjustments 10.00 = 212.50 but BPR02 total is 207.50"]),
        ("CAS*CO*45*32.5~", "CAS*CO*45*30.5~",
         ["claim PCN0001 line 1 (90834): charge 150.00 − paid 97.50 = 52.50 but line adjustments total 50.50",
          "claim PCN0001: charge 150.00 − paid 97.50 = 52.50 but adjustments total 50.50"]),
        ("BPR*I*207.5*", "BPR*I*217.5*",
         ["payment: claims paid 217.50 − provider adjustments 10.00 = 207.50 but BPR02 total is 217.50"]),
    ],
    ids=["CLP04", "CAS amount", "BPR02"],
)  # fmt: skip
def test_a_corrupted_golden_copy_is_reported_unbalanced_naming_the_claim(old: str, new: str, expected: list) -> None:
    text = GOLDEN.read_text(encoding="ascii")
    assert old in text
    remittance = _one(text.replace(old, new))
    assert not remittance.balanced and list(remittance.problems) == expected


def test_a_claim_level_cas_explains_lines_paid_above_the_claim_payment() -> None:
    claim = _claim("ACC1", "1*800*450*300*12*PCN9", "CAS*CO*A2*50", "SVC*HC:90837*800*500", "CAS*PR*1*300")
    assert _one(_interchange(_body("450", claim))).balanced
    without_cas = _claim("ACC1", "1*800*450*300*12*PCN9", "SVC*HC:90837*800*500", "CAS*PR*1*300")
    assert _one(_interchange(_body("450", without_cas))).problems == (
        "claim ACC1: charge 800.00 − paid 450.00 = 350.00 but adjustments total 300.00",
        "claim ACC1: service lines paid 500.00 − claim adjustments 0.00 = 500.00 but claim paid 450.00",
    )


# --- strict errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "segment"),
    [
        ("CLP*ACC1*1*150*", "CLP*ACC1*1*1O0*", "segment 15 (CLP): CLP03 '1O0' is not a number"),
        ("SVC*HC:90834*150*100", "SVC*HC:90834*150*1,00", "segment 17 (SVC): SVC03 '1,00' is not a number"),
        ("CAS*CO*45*30", "CAS*CO*45*3e1", "segment 19 (CAS): CAS03 '3e1' is not a number"),
        ("CAS*PR*3*20", "CAS*PR*3*20*x", "segment 20 (CAS): CAS04 'x' is not a number"),
        ("BPR*I*100*", "BPR*I*NaN*", "segment 4 (BPR): BPR02 'NaN' is not a number"),
        ("WO:PCN0999*10", "WO:PCN0999*--10", "segment 21 (PLB): PLB04 '--10' is not a number"),
        ("SVC*HC:90834*150*100", "SVC*HC:90834*1_50*100", "segment 17 (SVC): SVC02 '1_50' is not a number"),
    ],
    ids=["CLP03", "SVC03", "CAS03 exponent", "CAS04 quantity", "BPR02", "PLB04", "underscore"],
)
def test_a_malformed_amount_raises_an_x12_error_naming_the_segment(old: str, new: str, segment: str) -> None:
    text = _interchange(_body("100", SIMPLE, plb="PLB*1234567893*20261231*WO:PCN0999*10"))
    assert old in text
    with pytest.raises(X12Error) as raised:
        parse_835(text.replace(old, new))
    assert type(raised.value) is X12Error and str(raised.value) == segment


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_body("100", ["CLP**1*150*100*20*12*PCN9", *SIMPLE[1:]]), "segment 15 (CLP): CLP01 (our claim id) is empty"),
        (_body("100", ["SVC*HC:90834*150*100"], SIMPLE), "segment 15 (SVC): SVC outside a claim (no CLP before it)"),
        (_body("100", ["CAS*CO*45*30"], SIMPLE), "segment 15 (CAS): CAS outside a claim (no CLP before it)"),
        (_body("100", ["LQ*HE*N130"], SIMPLE), "segment 15 (LQ): LQ outside a service line (no SVC before it)"),
        (_body("100", [*SIMPLE, "CAS**45*1"]), "segment 21 (CAS): CAS01 (the adjustment group code) is empty"),
        (_body("100", SIMPLE, plb="PLB*1234567893*20261231*WO:1"),
         "segment 21 (PLB): PLB03 has a reason but PLB04 has no amount"),
        (_body("100", SIMPLE)[1:], "segment 3 (ST): 835 '0001' has no BPR (payment) segment"),
    ],
    ids=["CLP01 empty", "SVC before CLP", "CAS before CLP", "LQ before SVC", "CAS01 empty", "PLB without amount",
         "no BPR"],
)  # fmt: skip
def test_a_structural_defect_raises_an_x12_error_naming_the_segment(body: list[str], message: str) -> None:
    with pytest.raises(X12Error) as raised:
        parse_835(_interchange(body))
    assert str(raised.value) == message


def test_a_file_without_an_835_raises_an_x12_error() -> None:
    text = _interchange(["BHT*0019*00*1*20261122*1200*CH"]).replace("ST*835", "ST*837")
    with pytest.raises(X12Error, match="no 835 transaction set"):
        parse_835(text)
    for not_x12 in ("", "hello world", "ISA*too short~"):
        with pytest.raises(X12Error):
            parse_835(not_x12)


def test_broken_envelopes_go_to_the_reference_reader_and_raise_its_x12_error() -> None:
    text = _interchange(_body("100", SIMPLE)).replace("GS*HP", "XX*HP")
    with pytest.raises(X12Error, match=r"segment 2 \(XX\): segment outside a transaction set"):
        parse_835(text)


def test_no_patient_name_appears_in_problems_errors_or_parsed_values() -> None:
    corrupted = [s.replace("CLP*ACC1*1*150*100", "CLP*ACC1*1*150*90") for s in SIMPLE]
    remittance = _one(_interchange(_body("100", corrupted)))
    texts = [*remittance.problems, repr(remittance), json.dumps(as_contract([remittance]))]
    for old, new in [("CAS*CO*45*30", "CAS*CO*45*thirty"), ("CLP*ACC1", "CLP*")]:
        with pytest.raises(X12Error) as raised:
            parse_835(_interchange(_body("100", [s.replace(old, new) for s in SIMPLE])))
        texts.append(str(raised.value))
    assert remittance.problems and all(PATIENT_LAST not in t and PATIENT_FIRST not in t for t in texts)


# --- the JSON contract ---------------------------------------------------------------------------------------------


def test_as_contract_has_exactly_the_agreed_shape_with_decimal_strings_and_iso_dates() -> None:
    claim = _claim("ACC1", "1*150*100*20*12*PCN9", "CAS*OA*23*0", "SVC*HC:90834:95*150*100**1", "DTM*472*20261101",
                   "CAS*CO*45*30", "CAS*PR*3*20")  # fmt: skip
    contract = as_contract(parse_835(_interchange(_body("90", claim, plb="PLB*1234567893*20261231*WO:X*10"))))
    assert json.loads(json.dumps(contract)) == contract
    (transaction,) = contract["transactions"]
    assert set(transaction) == {"payer", "payee", "check_number", "payment_date", "total_paid", "balanced", "problems",
                                "claims", "provider_adjustments"}  # fmt: skip
    assert transaction["payer"] == {"name": "ACME HEALTH", "id": "ACME01"}
    assert transaction["payee"] == {"name": "CALM MIND COUNSELING", "npi": "1234567893"}
    assert (transaction["check_number"], transaction["payment_date"]) == ("EFT7788", "2026-11-20")
    assert (transaction["total_paid"], transaction["balanced"]) == ("90.00", True)
    assert transaction["provider_adjustments"] == [{"reason": "WO", "amount": "10.00"}]
    assert transaction["claims"] == [
        {
            "claim_id": "ACC1", "status": "1", "charge": "150.00", "paid": "100.00", "patient_responsibility": "20.00",
            "payer_claim_number": "PCN9", "adjustments": [{"group": "OA", "reason": "23", "amount": "0.00"}],
            "services": [
                {"code": "90834", "modifiers": ["95"], "charge": "150.00", "paid": "100.00", "units": "1",
                 "date": "2026-11-01", "adjustments": [{"group": "CO", "reason": "45", "amount": "30.00"},
                                                       {"group": "PR", "reason": "3", "amount": "20.00"}]},
            ],
        }
    ]  # fmt: skip


def test_parsed_values_are_frozen() -> None:
    remittance = _one(_interchange(_body("100", SIMPLE)))
    name = fields(remittance)[0].name
    with pytest.raises(AttributeError):
        setattr(remittance, name, "changed")
