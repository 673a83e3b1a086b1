"""The X12 reader: separators from each ISA, several interchanges, tolerant of real files, errors name segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice.x12 import reader as x12
from backoffice.x12.envelopes import complete_interchanges, envelope_problems

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


# ---- envelope integrity (issue 17: inbound files you can trust) -----------------------------------------------

WHOLE = (
    "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261116*0900*^*00501*000000101*0*P*:~"
    "GS*HP*PAYER01*SUBMITTER01*20261116*0900*101*X*005010X221A1~"
    "ST*835*0001~BPR*I*0*C*NON************20261116~TRN*1*T1*1512345678~SE*4*0001~"
    "GE*1*101~IEA*1*000000101~"
)


def problems_of(text: str) -> list[str]:
    return envelope_problems(x12.interchanges(text))


def test_a_complete_file_has_no_envelope_problem() -> None:
    assert problems_of(WHOLE) == []
    assert len(complete_interchanges(WHOLE + "\r\n\n  ")) == 1  # trailing whitespace is tolerated


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        ("GE*1*101~IEA*1*000000101~", "segment 1 (ISA): the interchange has no IEA"),
        ("IEA*1*000000101~", "segment 1 (ISA): the interchange has no IEA"),
        ("SE*4*0001~GE*1*101~IEA*1*000000101~", "segment 3 (ST): the transaction set has no SE"),
        ("TRN*1*T1*1512345678~SE*4*0001~GE*1*101~IEA*1*000000101~", "segment 3 (ST): the transaction set has no SE"),
    ],
)
def test_a_file_cut_short_names_the_header_left_open(cut: str, expected: str) -> None:
    problems = problems_of(WHOLE.removesuffix(cut))
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("wrong", "right", "expected"),
    [
        ("SE*4*0001", "SE*5*0001", "segment 6 (SE): SE01 '5' but the transaction set has 4 segments (ST to SE)"),
        ("SE*4*0001", "SE*4*0002", "segment 6 (SE): SE02 '0002' differs from ST02 '0001'"),
        ("GE*1*101", "GE*2*101", "segment 7 (GE): GE01 '2' but the group holds 1 transaction set(s)"),
        ("GE*1*101", "GE*1*102", "segment 7 (GE): GE02 '102' differs from GS06 '101'"),
        ("IEA*1*000000101", "IEA*2*000000101", "segment 8 (IEA): IEA01 '2' but the interchange holds 1 functional"),
        ("IEA*1*000000101", "IEA*1*000000102", "segment 8 (IEA): IEA02 '000000102' differs from ISA13 '000000101'"),
    ],
)
def test_a_count_or_control_number_that_disagrees_is_named(wrong: str, right: str, expected: str) -> None:
    problems = problems_of(WHOLE.replace(wrong, right))
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    with pytest.raises(x12.X12Error, match="incomplete or inconsistent envelopes"):
        complete_interchanges(WHOLE.replace(wrong, right))


def test_a_file_without_its_isa_or_gs_is_not_complete() -> None:
    bare = "ST*835*0001~BPR*I*0*C*NON************20261116~TRN*1*T1*1512345678~SE*4*0001~"
    assert problems_of(bare) == [
        "the file: no ISA interchange header before it",
        "segment 1 (ST): not inside a GS/GE functional group",
    ]


@pytest.mark.parametrize(
    "data",
    [
        WHOLE.encode("ascii"),
        b"\xef\xbb\xbf" + WHOLE.encode("ascii"),  # UTF-8 byte-order mark (Notepad, many Windows exports)
        WHOLE.encode("utf-16"),  # UTF-16 with its byte-order mark
        b"\xef\xbb\xbf" + WHOLE.replace("~", "~\r\n").encode("ascii") + b"\r\n",
    ],
)
def test_a_byte_order_mark_and_line_breaks_are_tolerated(data: bytes) -> None:
    text = x12.decode(data)
    assert text.lstrip().startswith("ISA*") and problems_of(text) == []


def test_a_byte_outside_ascii_reads_as_a_replacement_character_never_an_exception() -> None:
    assert x12.decode(b"ISA*\xff") == "ISA*\ufffd"


def test_a_ta1_interchange_is_read_and_its_envelope_checked() -> None:
    isa = WHOLE.split("~", 1)[0] + "~"
    ta1 = isa + "TA1*000000101*261116*0900*A*000~IEA*0*000000101~"
    (interchange,) = complete_interchanges(ta1)
    assert [seg[1] for seg in interchange.ta1] == ["000000101"] and interchange.groups == []
    assert problems_of(ta1.replace("IEA*0*000000101", "IEA*0*000000999")) == [
        "segment 3 (IEA): IEA02 '000000999' differs from ISA13 '000000101'"
    ]
    assert problems_of(ta1.removesuffix("IEA*0*000000101~"))[0].startswith(
        "segment 1 (ISA): the interchange has no IEA"
    )
