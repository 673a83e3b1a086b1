"""The X12 reader: separators from each ISA, several interchanges, tolerant of real files, errors name segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.x12 import reader as x12

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples"
ISA = "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *261122*1200*^*00501*000000001*0*P*:~"


def _doc(isa: str = ISA, element: str = "*", terminator: str = "~") -> str:
    body = ["GS*HP*SENDER*RECEIVER*20261122*1200*1*X*005010X221A1", "ST*835*0001", "BPR*I*100*C*CHK",
            "SVC*HC:90834:95*150*100", "SE*4*0001", "GE*1*1", "IEA*1*000000001"]  # fmt: skip
    return isa + "\n".join(line.replace("*", element) + terminator for line in body)


def test_it_reads_segments_and_envelopes_with_1_based_elements() -> None:
    (interchange,) = x12.interchanges(_doc())
    (group,) = interchange.groups
    (transaction,) = group.transactions
    assert (interchange.separators.element, interchange.separators.component) == ("*", ":")
    assert interchange.separators.repetition == "^" and interchange.separators.segment == "~"
    assert transaction.kind == "835" and transaction.se[1] == "4"
    bpr, svc = transaction.segments
    assert (bpr.id, bpr[2], bpr[99]) == ("BPR", "100", "")
    assert svc.components(1) == ("HC", "90834", "95") and svc.component(1, 2) == "90834"


def test_separators_come_from_the_isa_not_from_habit() -> None:
    isa = ISA.replace("*", "|").replace("^|", "!|").replace(":~", ">~")
    text = _doc(isa, element="|").replace("HC:90834:95", "HC>90834>95")
    ((_, _, transaction),) = x12.transactions(text)
    assert transaction.segments[1].components(1) == ("HC", "90834", "95")


def test_several_interchanges_in_one_file_each_with_their_own_separators() -> None:
    second = _doc(ISA.replace("*", "|"), element="|")
    kinds = [t.kind for _, _, t in x12.transactions(_doc() + "\r\n" + second)]
    assert kinds == ["835", "835"]


def test_a_file_that_starts_at_st_is_still_read() -> None:
    text = "ST*835*1~BPR*I*10*C*CHK~SE*3*1~"
    (interchange,) = x12.interchanges(text)
    assert interchange.isa is None and interchange.groups[0].transactions[0].segments[0].id == "BPR"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "no ISA"),
        ("hello world", "no ISA"),
        ("ISA*00*short~", "fewer than 16 elements"),
        (ISA + "GS*HP~BPR*I~", "segment 3 (BPR): segment outside a transaction set"),
        (ISA + "ST*835*1~", "segment 2 (ST): ST outside a GS/GE functional group"),
    ],
)
def test_errors_name_the_segment(text: str, message: str) -> None:
    with pytest.raises(x12.X12Error, match=message.replace("(", r"\(").replace(")", r"\)")):
        x12.interchanges(text)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared/x12/samples is not beside the repository")
def test_every_public_sample_reads_without_crashing() -> None:
    read = 0
    for path in sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.suffix != ".tsv"):
        text = path.read_text(encoding="ascii", errors="replace")
        try:
            read += sum(1 for _ in x12.transactions(text))
        except x12.X12Error as error:
            assert "no ISA" in str(error) or "ISA" in str(error), f"{path.name}: {error}"
    assert read > 400
