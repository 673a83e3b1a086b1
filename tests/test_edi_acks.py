"""999 and 277CA acknowledgments: which transaction sets and claims were accepted, which rejected and why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.x12 import acks, elements
from backoffice.x12 import reader as x12
from tests.x12_checks import SAMPLES, shared_sample

ISA = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *261122*1200*^*00501*000000001*0*P*:~"


def _doc(body: list[str], gs: str, element: str = "*", component: str = ":") -> str:
    """An interchange with computed SE/GE/IEA counts; body lines are written with '*' and ':'."""
    isa = ISA.replace("*", element).replace(":~", f"{component}~")
    assert len(isa) == 106
    segments = [f"ST*{body[0]}*0001*{gs.split('*')[-1]}", *body[1:]]
    segments.append(f"SE*{len(segments) + 1}*0001")
    lines = [gs, *segments, "GE*1*1", "IEA*1*000000001"]
    return isa + "".join(line.replace(":", component).replace("*", element) + "~\n" for line in lines)


def _samples(folder: str) -> list[Path]:
    return sorted((SAMPLES / folder).glob("*")) if (SAMPLES / folder).is_dir() else []


REJECTED_999 = [
    "999", "AK1*HC*1234*005010X222A1", "AK2*837*0001*005010X222A1", "IK3*NM1*17*2010BA*8",
    "IK4*9*67*7*BADID", "IK4*3:2*1065*1", "IK3*DTP*40**3", "IK5*R*5", "AK2*837*0002*005010X222A1", "IK5*A",
    "AK2*837*0003*005010X222A1", "IK5*E", "AK9*P*3*3*2",
]  # fmt: skip


def test_it_reads_a_999_with_segment_and_element_errors_and_a_rejected_set() -> None:
    text = _doc(REJECTED_999, "GS*FA*RECEIVER*SUBMITTER*20261122*1200*1*X*005010X231A1", element="|", component=">")
    (ack,) = acks.parse_999(text)
    assert (ack.functional_id, ack.group_control_number, ack.version) == ("HC", "1234", "005010X222A1")
    assert (ack.status, ack.included, ack.received, ack.accepted_count) == ("P", 3, 3, 2)
    rejected, accepted, with_errors = ack.transactions
    assert (rejected.set_id, rejected.control_number, rejected.status, rejected.status_codes) == (
        "837",
        "0001",
        "R",
        ("5",),
    )
    nm1, dtp = rejected.segment_errors
    assert (nm1.segment_id, nm1.position, nm1.loop, nm1.code) == ("NM1", 17, "2010BA", "8")
    assert nm1.element_errors == (
        acks.ElementError(9, None, None, "67", "7", "BADID"),
        acks.ElementError(3, 2, None, "1065", "1", ""),
    )
    assert (dtp.segment_id, dtp.position, dtp.code, dtp.element_errors) == ("DTP", 40, "3", ())
    assert accepted.accepted and with_errors.accepted and not rejected.accepted
    assert ack.accepted_control_numbers == ("0002", "0003") and ack.rejected_control_numbers == ("0001",)


def test_the_accepted_999_sample_accepts_transaction_0001() -> None:
    (ack,) = acks.parse_999(shared_sample("999/ims__x12_999_accepted.txt"))
    assert (ack.functional_id, ack.group_control_number, ack.version, ack.status) == (
        "HC",
        "17456",
        "005010X223A2",
        "A",
    )
    assert (ack.included, ack.received, ack.accepted_count) == (1, 1, 1)
    assert ack.accepted_control_numbers == ("0001",) and ack.rejected_control_numbers == ()
    assert ack.transactions[0].version == "005010X223A2"


def test_the_rejected_999_sample_names_the_segment_in_error() -> None:
    (ack,) = acks.parse_999(shared_sample("999/ims__x12_999_rejected.txt"))
    assert (ack.group_control_number, ack.status, ack.accepted_count, ack.control_number) == ("28", "R", 0, "95832987")
    (transaction,) = ack.transactions
    assert (transaction.control_number, transaction.version, transaction.status) == ("0028", "", "R")
    assert transaction.status_codes == ("5",)
    assert transaction.segment_errors == (acks.SegmentError("NM", 17, "", "1"),)
    assert ack.rejected_control_numbers == ("0028",)


@pytest.mark.parametrize("path", _samples("999"), ids=lambda p: p.name)
def test_every_999_sample_parses(path: Path) -> None:
    assert acks.parse_999(path.read_text())


CA_BODY = [
    "277", "BHT*0085*08*B0001*20261122*1200*TH", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345",
    "TRN*1*B0001", "DTP*050*D8*20261122", "DTP*009*D8*20261122", "HL*2*1*21*1", "NM1*41*2*NORTHSIDE*****46*ETIN",
    "TRN*2*BATCH7", "STC*A1:19:PR*20261122*WQ*300", "QTY*90*1", "QTY*AA*1", "AMT*YU*150", "AMT*YY*150",
    "HL*3*2*19*1", "NM1*85*2*NORTHSIDE*****XX*1234567893", "TRN*1*0", "QTY*QA*1", "QTY*QC*1",
    "HL*4*3*PT", "NM1*QC*1*DOE*JANE****MI*MEMBER123", "TRN*2*CLM0001", "STC*A2:20*20261122*WQ*150",
    "REF*1K*PAYER0001", "REF*D9*CH0001", "DTP*472*RD8*20261101-20261101",
    "HL*5*3*PT", "NM1*QC*1*ROE*RICHARD****MI*MEMBER456", "TRN*2*CLM0002",
    "STC*A3:21*20261122*U*150******A7:164:IL*A7:158:QC", "STC*A6:254*20261122*U", "DTP*472*D8*20261102",
]  # fmt: skip


def test_a_277ca_with_one_acceptance_and_one_rejection() -> None:
    text = _doc(CA_BODY, "GS*HN*PAYER*SUBMITTER*20261122*1200*1*X*005010X214", element="|", component=">")
    ok, bad = acks.parse_277ca(text)
    assert (ok.claim_id, ok.payer_claim_number, ok.clearinghouse_trace) == ("CLM0001", "PAYER0001", "CH0001")
    assert ok.accepted and not ok.rejected and ok.rejection_reasons == ()
    assert (ok.charge, ok.status_date, ok.action) == (Decimal("150"), date(2026, 11, 22), "WQ")
    assert (ok.service_date_from, ok.service_date_to) == (date(2026, 11, 1), date(2026, 11, 1))
    assert bad.claim_id == "CLM0002" and bad.rejected and not bad.accepted and bad.payer_claim_number == ""
    assert bad.categories == ("A3", "A7", "A7", "A6") and bad.action == "U"
    assert bad.statuses[0].codes[1] == elements.StatusCode("A7", "164", "IL")
    assert bad.rejection_reasons == (
        "A3:21 Returned as unprocessable: Missing or invalid information",
        "A7:164:IL Rejected for invalid information: Entity's contract/member number (subscriber)",
        "A7:158:QC Rejected for invalid information: Entity's date of birth (patient)",
        "A6:254 Rejected for missing information: Principal diagnosis code",
    )


def test_an_unknown_status_code_is_kept_as_the_code_alone() -> None:
    assert elements.StatusCode("Z9", "99999").description == "Z9:99999"
    assert (
        elements.StatusCode("A7", "99999", "85").description
        == "A7:99999:85 Rejected for invalid information (billing provider)"
    )


def test_the_accepted_277ca_sample() -> None:
    (claim,) = acks.parse_277ca(shared_sample("277/ims__x12_277CA_accepted.txt"))
    assert (claim.claim_id, claim.payer_claim_number) == ("5781", "1107000000014420")
    assert claim.accepted and claim.categories == ("A2",) and claim.statuses[0].codes[0].code == "20"
    assert (claim.charge, claim.status_date, claim.action) == (Decimal("125"), date(2011, 3, 11), "WQ")


def test_the_rejected_277ca_sample_explains_the_rejection() -> None:
    (claim,) = acks.parse_277ca(shared_sample("277/ims__x12_277CA_rejected.txt"))
    assert (claim.claim_id, claim.payer_claim_number, claim.charge) == (
        "3920394930203",
        "1107000000001120",
        Decimal("199.14"),
    )
    assert claim.rejected and not claim.accepted
    assert claim.statuses[0].codes == (elements.StatusCode("A7", "562", "85"),)
    assert claim.rejection_reasons == (
        "A7:562:85 Rejected for invalid information: Entity's National Provider Identifier (NPI) (billing provider)",
    )
    assert claim.service_date_from == date(2009, 3, 11)


@pytest.mark.parametrize("path", _samples("277"), ids=lambda p: p.name)
def test_every_277_sample_parses_as_a_claim_acknowledgment(path: Path) -> None:
    claims = acks.parse_277ca(path.read_text())
    assert all(c.claim_id for c in claims)


@pytest.mark.parametrize(
    "replace, message",
    [
        (("IK3*NM1*17*2010BA*8", "IK3*NM1*X7*2010BA*8"), "(IK3): IK302 is not a whole number"),
        (("IK4*9*67*7*BADID", "IK4*A*67*7*BADID"), "(IK4): IK401-1 is not a whole number"),
        (("AK9*P*3*3*2", "CTX*X"), "without its IK5/AK9"),
        (("AK1*HC*1234*005010X222A1", "CTX*X"), "(AK2): AK2 outside an AK1"),
    ],
)
def test_a_malformed_999_raises_an_error_naming_the_segment(replace: tuple[str, str], message: str) -> None:
    body = [line.replace(*replace) if line == replace[0] else line for line in REJECTED_999]
    with pytest.raises(x12.X12Error, match=r"segment \d+ .*" + message.replace("(", r"\(").replace(")", r"\)")):
        acks.parse_999(_doc(body, "GS*FA*R*S*20261122*1200*1*X*005010X231A1"))


@pytest.mark.parametrize(
    "replace, message",
    [
        (("STC*A2:20*20261122*WQ*150", "STC*A2:20*20261122*WQ*1X0"), r"segment 26 \(STC\): STC04 is not a number"),
        (("STC*A2:20*20261122*WQ*150", "STC*A2:20*20261322*WQ*150"), r"segment 26 \(STC\): STC02 is not a valid date"),
        (("STC*A2:20*20261122*WQ*150", "STC**20261122"), r"segment 26 \(STC\): STC01 is required"),
        (("TRN*2*CLM0001", "TRN*2"), r"segment 25 \(TRN\): TRN02 is required"),
        (("DTP*472*D8*20261102", "DTP*472*D8*2026110"), r"\(DTP\): DTP03 is not a CCYYMMDD date"),
    ],
)
def test_a_malformed_277ca_raises_an_error_naming_the_segment_and_no_patient_data(
    replace: tuple[str, str], message: str
) -> None:
    body = [replace[1] if line == replace[0] else line for line in CA_BODY]
    with pytest.raises(x12.X12Error, match=message) as caught:
        acks.parse_277ca(_doc(body, "GS*HN*P*S*20261122*1200*1*X*005010X214"))
    for private in ("DOE", "JANE", "ROE", "MEMBER123", "MEMBER456"):
        assert private not in str(caught.value)


def test_a_file_without_the_expected_transaction_is_an_error() -> None:
    with pytest.raises(x12.X12Error, match="no 999 transaction set"):
        acks.parse_999(_doc(CA_BODY, "GS*HN*P*S*20261122*1200*1*X*005010X214"))
    with pytest.raises(x12.X12Error, match="no 277 transaction set"):
        acks.parse_277ca(_doc(REJECTED_999, "GS*FA*R*S*20261122*1200*1*X*005010X231A1"))
