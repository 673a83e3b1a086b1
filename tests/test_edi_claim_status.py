"""277 claim status (005010X212): where each claim we asked about stands at the payer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.x12 import claim_status
from backoffice.x12 import reader as x12
from tests.x12_checks import SAMPLES, shared_sample

ISA = "ISA|00|          |00|          |ZZ|PAYER          |ZZ|SUBMITTER      |261122|1200|^|00501|000000007|0|P|>~"

BODY = [
    "BHT*0010*08*R0001*20261122*1200*DG", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345", "HL*2*1*21*1",
    "NM1*41*2*NORTHSIDE*****46*ETIN", "HL*3*2*19*1", "NM1*1P*2*NORTHSIDE*****XX*1234567893", "HL*4*3*22*0",
    "NM1*IL*1*DOE*JANE****MI*MEMBER123", "TRN*2*CLM0001", "STC*F1:65*20261120**150*95.50*20261118*ACH*20261121*EFT777",
    "REF*1K*PAYER0001", "REF*EJ*CLM0001", "REF*BLT*131", "DTP*472*RD8*20261101-20261101",
    "SVC*HC:90834:95*150*95.50****1", "STC*F1:65*20261120", "REF*FJ*LINE1", "DTP*472*D8*20261101",
    "HL*5*3*22*0", "NM1*IL*1*ROE*RICHARD****MI*MEMBER456", "TRN*2*CLM0002", "STC*F2:88:IL*20261120**200*0",
]  # fmt: skip


def _doc(body: list[str]) -> str:
    assert len(ISA) == 106
    lines = ["GS*HN*PAYER*SUBMITTER*20261122*1200*7*X*005010X212", "ST*277*0001*005010X212", *body]
    lines += [f"SE*{len(body) + 2}*0001", "GE*1*7", "IEA*1*000000007"]
    return ISA + "".join(line.replace(":", ">").replace("*", "|") + "~" for line in lines)


def _samples() -> list[Path]:
    folder = SAMPLES / "277"
    return sorted(folder.glob("*")) if folder.is_dir() else []


def test_it_reads_a_paid_claim_with_its_payment_dates_and_service_line() -> None:
    paid, denied = claim_status.parse_277(_doc(BODY))
    assert paid.is_claim and (paid.level, paid.trace, paid.claim_id) == ("22", "CLM0001", "CLM0001")
    assert (paid.payer_claim_number, paid.patient_account) == ("PAYER0001", "CLM0001")
    assert ("BLT", "131") in paid.references
    assert (paid.category, paid.status_code, paid.entity) == ("F1", "65", "")
    assert (paid.effective_date, paid.charge, paid.paid) == (date(2026, 11, 20), Decimal("150"), Decimal("95.50"))
    assert (paid.adjudication_date, paid.payment_date, paid.check_number) == (
        date(2026, 11, 18), date(2026, 11, 21), "EFT777",
    )  # fmt: skip
    assert paid.statuses[0].payment_method == "ACH"
    assert (paid.service_date_from, paid.service_date_to) == (date(2026, 11, 1), date(2026, 11, 1))
    (line,) = paid.lines
    assert (line.procedure, line.charge, line.paid, line.units) == (
        ("HC", "90834", "95"),
        Decimal("150"),
        Decimal("95.50"),
        Decimal("1"),
    )
    assert (line.line_control_number, line.service_date_from, line.statuses[0].codes[0].code) == (
        "LINE1",
        date(2026, 11, 1),
        "65",
    )
    assert (denied.trace, denied.category, denied.status_code, denied.entity, denied.paid) == (
        "CLM0002",
        "F2",
        "88",
        "IL",
        Decimal("0"),
    )
    assert denied.payer_claim_number == "" and denied.adjudication_date is None


def test_the_claim_level_status_sample() -> None:
    pending, finalized, dependent = claim_status.parse_277(shared_sample("277/lfh__claim-level-status.277"))
    assert (pending.trace, pending.category, pending.status_code, pending.charge) == (
        "ABCXYZ1",
        "P3",
        "317",
        Decimal("8513.88"),
    )
    assert (pending.payer_claim_number, pending.patient_account, pending.paid) == ("05347006051", "SM123456", None)
    assert (pending.service_date_from, pending.service_date_to) == (date(2005, 8, 31), date(2005, 9, 6))
    assert (finalized.category, finalized.status_code, finalized.paid) == ("F0", "3", Decimal("7599.00"))
    assert (dependent.level, dependent.trace, dependent.entity) == ("23", "ABCXYC3", "QC")
    (line,) = dependent.lines
    assert line.procedure == ("HC", "99203") and line.service_date_from == date(2005, 5, 1)
    assert dependent.service_date_from is None  # the DTP follows the SVC: it dates the line


def test_an_inquiry_level_error_is_kept_with_its_level() -> None:
    (status,) = claim_status.parse_277(shared_sample("277/lfh__information-receiver-level-status.277"))
    assert not status.is_claim and (status.level, status.category, status.status_code) == ("21", "E0", "0")


def test_the_clearinghouse_x212_sample_lists_eight_claims() -> None:
    claims = claim_status.parse_277(shared_sample("277/ims__x12_277_x212.txt"))
    assert [c.trace for c in claims] == [f"000000{n}" for n in range(1, 9)]
    first = claims[0]
    assert (first.category, first.status_code, first.charge, first.patient_account) == (
        "A1",
        "704",
        Decimal("600"),
        "12345",
    )
    assert first.statuses[0].message == "PAYER ACKNOWLEDGED RECEIPT OF THE CLAIM"


@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_every_277_sample_parses_as_claim_status(path: Path) -> None:
    assert claim_status.parse_277(path.read_text())


@pytest.mark.parametrize(
    "replace, message",
    [
        (
            ("SVC*HC:90834:95*150*95.50****1", "SVC*HC:90834:95*1,50*95.50****1"),
            r"segment 19 \(SVC\): SVC02 is not a number",
        ),
        (("SVC*HC:90834:95*150*95.50****1", "SVC**150"), r"segment 19 \(SVC\): SVC01 .*required"),
        (("TRN*2*CLM0002", "STC*F2:88"), r"segment 25 \(STC\): status before the TRN"),
        (("HL*5*3*22*0", "HL*5*3"), r"segment 23 \(HL\): HL03 is required"),
    ],
)
def test_a_malformed_277_raises_an_error_naming_the_segment_and_no_patient_data(
    replace: tuple[str, str], message: str
) -> None:
    body = [replace[1] if line == replace[0] else line for line in BODY]
    with pytest.raises(x12.X12Error, match=message) as caught:
        claim_status.parse_277(_doc(body))
    for private in ("DOE", "JANE", "ROE", "MEMBER123", "MEMBER456"):
        assert private not in str(caught.value)


def test_a_file_without_a_277_is_an_error() -> None:
    with pytest.raises(x12.X12Error, match="no 277 transaction set"):
        claim_status.parse_277(_doc(BODY).replace("ST|277|", "ST|276|"))
