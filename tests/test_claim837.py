"""The 837P writer: every session kind the coding engine produces passes pyx12 and the business checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.coding.rules import PAYER_DEFAULTS, SessionFacts, code_session
from backoffice.x12 import reader as x12
from backoffice.x12.checks import business_problems
from backoffice.x12.claim837 import (
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
    clean_text,
    write_837p,
)
from tests.x12_checks import pyx12_errors

GOLDEN = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples" / "golden"
NOW = datetime(2026, 3, 20, 9, 30)
DOS = date(2026, 3, 16)
FEES = {"90791": "200", "90792": "250", "90832": "95", "90834": "150", "90837": "190.50", "90839": "210",
        "90840": "100", "90846": "140", "90847": "150", "90853": "60", "90785": "25", "96127": "10",
        "99213": "110", "99214": "160", "90833": "80", "90836": "100", "90838": "130"}  # fmt: skip
FILING = {"medicare": "MB", "medicaid": "MC", "commercial": "CI"}

SUBMITTER = Submitter("Calm Mind Billing", "SUBMITTER01", "Jane Biller", "(555) 555-1234")
RECEIVER = Receiver("Example Health Plan", "RECEIVER01")
BILLING = BillingProvider(
    "Calm Mind Counseling LLC", "1234567893", "123456789", "261QM0801X",
    Address("100 Main Street", "Springfield", "IL", "62701-1234"),
)  # fmt: skip
RENDERING = RenderingProvider("Smith", "Anna", "1558598797", "1041C0700X")
PAYERS = {
    "medicare": PayerInfo("Medicare Part B", "MCRB01", Address("PO Box 1", "Chicago", "IL", "60601")),
    "medicaid": PayerInfo("State Medicaid", "MCD01"),
    "commercial": PayerInfo("Example Health Plan", "PAYER01"),
}
SUBSCRIBER = Subscriber("MEM123456", "John", "Doe", date(1985, 2, 14), "M",
                        Address("42 Elm Street", "Springfield", "IL", "62702"), group_number="GRP12345")  # fmt: skip
CHILD = Patient("Emma", "Doe", date(2014, 6, 1), "F", Address("42 Elm Street", "Springfield", "IL", "62702"), "19")


def facts(service: str, minutes: int = 45, **changes: object) -> SessionFacts:
    base = SessionFacts(service=service, minutes=minutes, em_code=None, modality="in_person",
                        patient_location="office", interactive_complexity=False, screenings=0,
                        diagnoses=("F41.1", "F33.1"), credential="LCSW", date_of_service=DOS)  # fmt: skip
    return replace(base, **changes)


def claim_for(session: SessionFacts, payer_kind: str, account: str, **changes: object) -> ClaimInfo:
    """Code the session with the payer's defaults and wrap its lines as a claim, as the claims feature will."""
    result = code_session(session, PAYER_DEFAULTS[payer_kind])
    assert result.billable, result.findings
    lines = tuple(
        ServiceLine.from_draft(d, Decimal(FEES[d.cpt]) * d.units, session.date_of_service) for d in result.lines
    )
    return ClaimInfo(account, session.diagnoses, lines, FILING[payer_kind], **changes)


def batch_of(payer_kind: str, *claims: tuple[Subscriber, Patient | None, ClaimInfo]) -> Batch:
    return Batch(SUBMITTER, RECEIVER, BILLING, PAYERS[payer_kind], tuple(claims))


def write(*batches: Batch, **kwargs: object) -> str:
    options = {"interchange_control_number": 17, "group_control_number": 17, "first_transaction_number": 1,
               "now": NOW, "usage": "T"} | kwargs  # fmt: skip
    return write_837p(batches, **options)  # type: ignore[arg-type]


CASES: dict[str, tuple[str, SessionFacts, dict[str, object]]] = {
    "psychotherapy 30 min": ("commercial", facts("psychotherapy", 30), {}),
    "psychotherapy 45 min": ("commercial", facts("psychotherapy", 45), {}),
    "psychotherapy 60 min": ("medicaid", facts("psychotherapy", 60), {}),
    "intake 90791": ("commercial", facts("intake", 60), {}),
    "intake_medical 90792": ("medicare", facts("intake_medical", 60, credential="MD"), {}),
    "E/M alone": ("medicare", facts("em", 0, em_code="99214", credential="MD"), {}),
    "E/M + add-on": ("commercial", facts("em_psychotherapy", 30, em_code="99213", credential="NP"), {}),
    "crisis 150 min (90840 x3)": ("commercial", facts("crisis", 150), {}),
    "family with patient": ("commercial", facts("family_with_patient", 50), {}),
    "family without patient": ("medicaid", facts("family_without_patient", 50), {}),
    "group": ("commercial", facts("group", 90), {}),
    "90785 and 96127": ("commercial", facts("psychotherapy", 45, interactive_complexity=True, screenings=2), {}),
    "medicare video at home": ("medicare", facts("psychotherapy", 45, modality="video", patient_location="home"), {}),
    "medicare audio-only at home": (
        "medicare", facts("psychotherapy", 45, modality="audio_only", patient_location="home"), {}),
    "commercial video elsewhere": (
        "commercial", facts("psychotherapy", 45, modality="video", patient_location="other"), {}),
    "commercial audio-only at home": (
        "commercial", facts("psychotherapy", 45, modality="audio_only", patient_location="home"), {}),
    "rendering provider and prior auth": ("commercial", facts("psychotherapy", 60),
                                          {"rendering": RENDERING, "prior_auth": "AUTH-778"}),
    "replacement (7)": ("commercial", facts("psychotherapy", 45),
                        {"frequency": "7", "payer_claim_number": "PCN998877"}),
    "void (8)": ("medicaid", facts("psychotherapy", 45), {"frequency": "8", "payer_claim_number": "ICN5551212"}),
}  # fmt: skip


def _case_file(name: str, patient: Patient | None = None) -> str:
    payer_kind, session, changes = CASES[name]
    return write(batch_of(payer_kind, (SUBSCRIBER, patient, claim_for(session, payer_kind, "PCN0001", **changes))))


@pytest.mark.parametrize("name", list(CASES))
def test_every_session_kind_passes_pyx12_and_the_business_checks(name: str, tmp_path: Path) -> None:
    text = _case_file(name)
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []


def test_a_dependent_patient_gets_hl_23_with_pat_and_a_blank_sbr02(tmp_path: Path) -> None:
    text = _case_file("psychotherapy 45 min", patient=CHILD)
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    assert "HL*2*1*22*1~" in text and "HL*3*2*23*0~" in text and "SBR*P**GRP12345******CI~" in text
    assert "PAT*19~\nNM1*QC*1*DOE*EMMA~" in text


def test_one_file_with_every_kind_counts_its_segments_and_hl_ids(tmp_path: Path) -> None:
    batches = []
    for kind in ("medicare", "medicaid", "commercial"):
        claims = [
            (SUBSCRIBER, CHILD if n % 3 == 0 else None, claim_for(session, kind, f"PCN{kind[:3].upper()}{n}", **ch))
            for n, (payer_kind, session, ch) in enumerate(CASES.values())
            if payer_kind == kind
        ]
        batches.append(batch_of(kind, *claims))
    text = write(*batches, first_transaction_number=41)
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    sts = [t for _, _, t in x12.transactions(text)]
    assert [t.st[2] for t in sts] == ["0041", "0042", "0043"]
    assert "GE*3*17~" in text and text.endswith("IEA*1*000000017~\n")


def test_the_first_file_matches_the_golden_shape() -> None:
    text = _case_file("psychotherapy 45 min")
    isa = text.split("\n", 1)[0]
    assert len(isa) == 106 and isa[103] == "*" and isa[104] == ":" and isa[105] == "~"
    assert isa.split("*")[11] == "^" and isa.split("*")[15] == "T"
    assert "GS*HC*SUBMITTER01*RECEIVER01*20260320*0930*17*X*005010X222A1~" in text
    assert "ST*837*0001*005010X222A1~" in text
    assert "PER*IC*JANE BILLER*TE*5555551234~" in text
    assert "N4*SPRINGFIELD*IL*627011234~\nREF*EI*123456789~" in text
    assert "SBR*P*18*GRP12345******CI~\nNM1*IL*1*DOE*JOHN****MI*MEM123456~" in text
    assert "CLM*PCN0001*150***11:B:1*Y*A*Y*Y~\nHI*ABK:F411*ABF:F331~\nLX*1~\nSV1*HC:90834*150*UN*1***1:2~" in text
    assert "DTP*472*D8*20260316~" in text
    assert "*~" not in text  # no trailing element separators


def test_lines_carry_modifiers_units_pointers_and_computed_totals() -> None:
    crisis = _case_file("crisis 150 min (90840 x3)")
    assert "CLM*PCN0001*510***" in crisis and "SV1*HC:90840*300*UN*3***1:2~" in crisis
    tele = _case_file("commercial audio-only at home")
    assert "11:B" not in tele and "10:B:1" in tele and "SV1*HC:90834:93*150*UN*1***1:2~" in tele
    medicare = _case_file("medicare video at home")
    assert "10:B:1" in medicare and "SV1*HC:90834*150*" in medicare and "*MB~" in medicare
    screening = _case_file("90785 and 96127")
    assert "SV1*HC:96127*20*UN*2***1:2~" in screening and "CLM*PCN0001*195***" in screening
    odd = _case_file("psychotherapy 60 min")
    assert "SV1*HC:90837*190.5*" in odd


def test_replacements_and_voids_carry_ref_f8_and_rendering_the_nm1_82() -> None:
    assert "11:B:7*Y*A*Y*Y~\nREF*F8*PCN998877~" in _case_file("replacement (7)")
    assert "11:B:8*Y*A*Y*Y~\nREF*F8*ICN5551212~" in _case_file("void (8)")
    text = _case_file("rendering provider and prior auth")
    assert "REF*G1*AUTH-778~\nHI*" in text and "NM1*82*1*SMITH*ANNA****XX*1558598797~\nPRV*PE*PXC*1041C0700X~" in text


def test_names_are_plain_ascii_without_separators(tmp_path: Path) -> None:
    subscriber = replace(SUBSCRIBER, last_name="Muñoz*O'Brien~", first_name="Jo:sé^",
                         address=Address("12 Calle Señor #4*", "São:Paulo", "il", "62702"))  # fmt: skip
    session = facts("psychotherapy", 45)
    text = write(batch_of("commercial", (subscriber, None, claim_for(session, "commercial", "PCN0001"))))
    text.encode("ascii")
    assert "NM1*IL*1*MUNOZO'BRIEN*JOSE****MI*MEM123456~" in text
    assert "N3*12 CALLE SENOR #4~\nN4*SAOPAULO*IL*62702~" in text
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    assert clean_text("  a\tb ~ c ") == "A B C"


def test_more_than_5000_claims_are_split_into_several_transaction_sets() -> None:
    claim = claim_for(facts("psychotherapy", 45), "commercial", "PCN")
    claims = [(SUBSCRIBER, None, replace(claim, account_number=f"PCN{n}")) for n in range(5001)]
    text = write(batch_of("commercial", *claims))
    found = list(x12.transactions(text))
    assert [sum(s.id == "CLM" for s in t.segments) for _, _, t in found] == [5000, 1]
    assert [t.st[2] for _, _, t in found] == ["0001", "0002"]
    assert sum(s.id == "NM1" and s[1] == "85" for _, _, t in found for s in t.segments) == 2
    assert "GE*2*17~" in text
    assert business_problems(text) == []


def _corrupt(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


CORRUPTIONS = {
    "NPI check digit": ("XX*1234567893~", "XX*1234567894~", "NPI check digit is wrong"),
    "CLM02": ("CLM*PCN0001*150***", "CLM*PCN0001*155***", "differs from the sum of SV102"),
    "pointer": ("UN*1***1:2~", "UN*1***1:3~", "SV107 pointer '3'"),
    "ST03": ("ST*837*0001*005010X222A1~", "ST*837*0001~", "ST03 is missing"),
    "ISA 105": ("*000000017*0*T", "*00000017*0*T", "must be 106"),
    "GS08": ("*X*005010X222A1~", "*X*005010X223A2~", "GS08"),
    "billing ZIP": ("N4*SPRINGFIELD*IL*627011234~", "N4*SPRINGFIELD*IL*62701~", "must be 9 digits"),
    "DTP*472": ("DTP*472*D8*20260316~\nSE", "SE", "has no DTP*472"),
    "dotted diagnosis": ("ABK:F411", "ABK:F41.1", "with a dot"),
    "SE01": ("SE*", "SE*9", "SE01"),
    "GE01": ("GE*1*17", "GE*2*17", "GE01"),
    "IEA02": ("IEA*1*000000017", "IEA*1*000000018", "IEA02"),
    "SE02": ("~\nSE*24*0001", "~\nSE*24*0002", "SE02"),
    "3 decimals": ("SV1*HC:90834*150*", "SV1*HC:90834*150.000*", "at most 2 decimals"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_corrupted_copy_is_caught_and_named(name: str) -> None:
    text = _case_file("psychotherapy 45 min")
    assert business_problems(text) == []
    old, new, expected = CORRUPTIONS[name]
    problems = business_problems(_corrupt(text, old, new))
    assert any(expected in p for p in problems), problems
    assert all("segment " in p for p in problems)


def test_claim_problems_name_the_claim() -> None:
    text = _corrupt(_case_file("psychotherapy 45 min"), "CLM*PCN0001*150***", "CLM*PCN0001*155***")
    (problem,) = business_problems(text)
    assert "claim 'PCN0001'" in problem and "(CLM)" in problem


def test_pyx12_also_rejects_a_105_character_isa(tmp_path: Path) -> None:
    text = _corrupt(_case_file("psychotherapy 45 min"), "*000000017*0*T", "*00000017*0*T")
    assert pyx12_errors(text, tmp_path) != []


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="shared golden files are not available")
def test_the_golden_file_passes_the_business_checks() -> None:
    assert business_problems((GOLDEN / "handmade_837p_90834.txt").read_text(encoding="ascii")) == []


def _bad(**changes: object) -> Iterator[Batch]:
    claim = claim_for(facts("psychotherapy", 45), "commercial", "PCN0042")
    yield batch_of("commercial", (SUBSCRIBER, None, replace(claim, **changes)))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"diagnoses": tuple(f"F4{n}.1" for n in range(10)) + ("F33.1", "F32.A", "F90.0")}, "diagnoses: 13 given"),
        ({"diagnoses": ("F41.1",)}, "line 1 diagnosis pointer: 2 is beyond the 1 diagnoses"),
        ({"diagnoses": ("F41-1", "F33.1")}, "diagnosis 1: not an ICD-10-CM code"),
        ({"frequency": "7"}, "payer claim number (REF*F8)"),
        ({"payer_claim_number": "X1"}, "an original claim carries no payer claim number"),
        ({"frequency": "6", "payer_claim_number": "X1"}, "frequency (CLM05-3)"),
        ({"account_number": "P" * 39}, "account number (CLM01)"),
        ({"account_number": "PCN*1"}, "account number (CLM01)"),
        ({"claim_filing_indicator": "XX"}, "claim filing indicator (SBR09)"),
        ({"rendering": replace(RENDERING, npi="1558598790")}, "rendering provider NPI: NPI check digit is wrong"),
        ({"lines": ()}, "service lines"),
    ],
)
def test_bad_claims_raise_a_value_error_naming_the_claim_and_field(changes: dict[str, object], expected: str) -> None:
    with pytest.raises(ValueError) as raised:
        write(*_bad(**changes))
    assert str(raised.value).startswith(f"claim {changes.get('account_number', 'PCN0042')!r}: ")
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    ("line_changes", "expected"),
    [
        ({"charge": Decimal("-150")}, "line 1 charge"),
        ({"charge": Decimal("150.005")}, "line 1 charge"),
        ({"units": 0}, "line 1 units"),
        ({"modifiers": ("95", "GT", "59", "XE", "25")}, "line 1 modifiers"),
        ({"diagnosis_pointers": ()}, "line 1 diagnosis pointers"),
    ],
)
def test_bad_lines_raise_a_value_error(line_changes: dict[str, object], expected: str) -> None:
    claim = claim_for(facts("psychotherapy", 45), "commercial", "PCN0042")
    lines = (replace(claim.lines[0], **line_changes),)
    with pytest.raises(ValueError, match=expected):
        write(*_bad(lines=lines))


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (replace(BILLING, npi="1234567890"), "billing provider NPI"),
        (replace(BILLING, address=replace(BILLING.address, zip_code="62701")), "billing provider ZIP"),
        (replace(BILLING, tax_id="12-3456789"), "billing provider tax ID"),
        (replace(BILLING, taxonomy="261QM0801"), "billing provider taxonomy"),
    ],
)
def test_bad_billing_providers_raise_a_value_error(provider: BillingProvider, expected: str) -> None:
    claim = claim_for(facts("psychotherapy", 45), "commercial", "PCN0042")
    batch = replace(batch_of("commercial", (SUBSCRIBER, None, claim)), billing_provider=provider)
    with pytest.raises(ValueError, match=expected):
        write(batch)


MEDICARE_SUBSCRIBER = replace(SUBSCRIBER, member_id="1EG4TE5MK73", group_number="")


def secondary_claim(paid: str = "90.00", **changes: object) -> tuple[Subscriber, Patient | None, ClaimInfo]:
    """A claim for the secondary (commercial) payer after Medicare paid ``paid`` on 90834 and 80 on 96127 x2."""
    claim = claim_for(facts("psychotherapy", 45, screenings=2), "commercial", "PCN0077")
    paid_line = Decimal(paid)
    prior = PriorPayer(
        payer=PAYERS["medicare"], subscriber=MEDICARE_SUBSCRIBER, claim_filing_indicator="MB",
        lines=(
            LineAdjudication(paid_line, (Adjustment("CO", "45", Decimal("150") - paid_line - Decimal("20")),
                                         Adjustment("PR", "2", Decimal("20"))), date(2026, 4, 2)),
            LineAdjudication(Decimal("0"), (Adjustment("CO", "97", Decimal("20")),), date(2026, 4, 2), paid_units=0),
        ),
    )  # fmt: skip
    subscriber = replace(SUBSCRIBER, payer_responsibility="S")
    return subscriber, None, replace(claim, prior_payer=prior, **changes)


def test_a_secondary_claim_carries_the_primary_adjudication(tmp_path: Path) -> None:
    text = write(batch_of("commercial", secondary_claim()))
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    assert "SBR*S*18*GRP12345******CI~" in text
    assert "SBR*P*18*******MB~\nAMT*D*90~\nOI***Y***Y~\nNM1*IL*1*DOE*JOHN****MI*1EG4TE5MK73~\n" in text
    assert "NM1*PR*2*MEDICARE PART B*****PI*MCRB01~\nLX*1~" in text
    assert "DTP*472*D8*20260316~\nSVD*MCRB01*90*HC:90834**1~\nCAS*CO*45*40~\nCAS*PR*2*20~\nDTP*573*D8*20260402~" in text
    assert "SVD*MCRB01*0*HC:96127**0~\nCAS*CO*97*20~" in text


def test_a_secondary_claim_with_a_claim_level_adjustment_and_a_dependent(tmp_path: Path) -> None:
    subscriber, _, claim = secondary_claim()
    prior = replace(claim.prior_payer, claim_adjustments=(Adjustment("OA", "23", Decimal("10")),), relationship="19")
    text = write(batch_of("commercial", (subscriber, CHILD, replace(claim, prior_payer=prior))))
    assert "SBR*P*19*******MB~\nCAS*OA*23*10~\nAMT*D*80~" in text
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("SVD*MCRB01*90*", "SVD*MCRB01*95*", "SV102 - SVD02 is 55 but the line's CAS add up to 60"),
        ("AMT*D*90~", "AMT*D*95~", "CLM02 170 - AMT*D 95 of prior payer 'MCRB01' differs from its CAS total 80"),
    ],
)
def test_an_unbalanced_secondary_file_is_caught(old: str, new: str, expected: str) -> None:
    text = write(batch_of("commercial", secondary_claim()))
    problems = business_problems(_corrupt(text, old, new))
    assert any(expected in p and "claim 'PCN0077'" in p for p in problems), problems


def test_an_unbalanced_primary_adjudication_is_refused() -> None:
    subscriber, patient, claim = secondary_claim()
    lines = (replace(claim.prior_payer.lines[0], paid=Decimal("95")), *claim.prior_payer.lines[1:])
    bad = replace(claim, prior_payer=replace(claim.prior_payer, lines=lines))
    with pytest.raises(ValueError, match="claim 'PCN0077': line 1 prior payer adjudication: charge 150 - paid 95"):
        write(batch_of("commercial", (subscriber, patient, bad)))


def test_a_secondary_claim_needs_its_prior_payer_and_a_primary_must_not_have_one() -> None:
    subscriber, patient, claim = secondary_claim()
    with pytest.raises(ValueError, match="prior payer"):
        write(batch_of("commercial", (subscriber, patient, replace(claim, prior_payer=None))))
    with pytest.raises(ValueError, match="prior payer"):
        write(batch_of("commercial", (SUBSCRIBER, patient, claim)))
    with pytest.raises(ValueError, match="SBR01"):
        write(batch_of("commercial", (replace(subscriber, payer_responsibility="T"), patient, claim)))


def tertiary_claim(**changes: object) -> tuple[Subscriber, Patient | None, ClaimInfo]:
    """The same claim for a tertiary payer (Medicaid): Medicare paid 90 and 0, then the commercial secondary paid
    15 of the 20 coinsurance on 90834 (5 left to the patient) and nothing on 96127."""
    subscriber, _, secondary = secondary_claim()
    medicare = secondary.prior_payer
    commercial = PriorPayer(
        payer=PAYERS["commercial"], subscriber=SUBSCRIBER, claim_filing_indicator="CI", responsibility="S",
        lines=(
            LineAdjudication(Decimal("15"), (Adjustment("OA", "23", Decimal("130")),
                                             Adjustment("PR", "2", Decimal("5"))), date(2026, 5, 4)),
            LineAdjudication(Decimal("0"), (Adjustment("OA", "23", Decimal("20")),), date(2026, 5, 4), paid_units=0),
        ),
    )  # fmt: skip
    claim = replace(secondary, prior_payer=None, prior_payers=(medicare, commercial), claim_filing_indicator="MC")
    return replace(subscriber, payer_responsibility="T", member_id="MCD998877"), None, replace(claim, **changes)


def test_a_tertiary_claim_carries_both_prior_payers_adjudications(tmp_path: Path) -> None:
    text = write(batch_of("medicaid", tertiary_claim()))
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    assert "SBR*T*18*GRP12345******MC~" in text
    # 2320/2330 for each prior payer, in payment order, each with its own paid amount (AMT*D)
    assert "SBR*P*18*******MB~\nAMT*D*90~\nOI***Y***Y~\nNM1*IL*1*DOE*JOHN****MI*1EG4TE5MK73~\n" in text
    assert "NM1*PR*2*MEDICARE PART B*****PI*MCRB01~\nSBR*S*18*GRP12345******CI~\nAMT*D*15~\nOI***Y***Y~\n" in text
    assert "NM1*PR*2*EXAMPLE HEALTH PLAN*****PI*PAYER01~\nLX*1~" in text
    # each line: one 2430 per prior payer, SVD01 naming it, with its CAS
    assert (
        "SVD*MCRB01*90*HC:90834**1~\nCAS*CO*45*40~\nCAS*PR*2*20~\nDTP*573*D8*20260402~\n"
        "SVD*PAYER01*15*HC:90834**1~\nCAS*OA*23*130~\nCAS*PR*2*5~\nDTP*573*D8*20260504~"
    ) in text
    assert "SVD*PAYER01*0*HC:96127**0~\nCAS*OA*23*20~" in text


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("AMT*D*15~", "AMT*D*25~", "CLM02 170 - AMT*D 25 of prior payer 'PAYER01' differs from its CAS total 155"),
        ("SVD*PAYER01*15*", "SVD*OTHER9*15*", "SVD01 OTHER9 is none of the prior payers"),
    ],
)
def test_each_prior_payer_of_a_tertiary_claim_must_balance_on_its_own(old: str, new: str, expected: str) -> None:
    problems = business_problems(_corrupt(write(batch_of("medicaid", tertiary_claim())), old, new))
    assert any(expected in p and "claim 'PCN0077'" in p for p in problems), problems


def test_a_tertiary_claim_needs_two_prior_payers_in_payment_order() -> None:
    subscriber, patient, claim = tertiary_claim()
    medicare, commercial = claim.prior_payers
    with pytest.raises(ValueError, match=r"prior payer \(2320\).*SBR01 T with 1"):
        write(batch_of("medicaid", (subscriber, patient, replace(claim, prior_payers=(medicare,)))))
    with pytest.raises(ValueError, match="prior payers must be in payment order P, S"):
        write(batch_of("medicaid", (subscriber, patient, replace(claim, prior_payers=(commercial, medicare)))))
    with pytest.raises(ValueError, match="two prior payers share an ID"):
        twin = replace(commercial, payer=PAYERS["medicare"])
        write(batch_of("medicaid", (subscriber, patient, replace(claim, prior_payers=(medicare, twin)))))


def test_two_claims_with_one_clm01_in_a_file_are_refused() -> None:
    claim = claim_for(facts("psychotherapy", 45), "commercial", "PCN7")
    with pytest.raises(ValueError, match=r"claim 'pcn7': account number \(CLM01\): appears twice in one file"):
        write(batch_of("commercial", (SUBSCRIBER, None, claim)), batch_of("commercial", (SUBSCRIBER, None,
              replace(claim, account_number="pcn7"))))  # fmt: skip
