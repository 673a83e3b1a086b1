"""Property-based fuzzing of every inbound X12 parser (835, 271, 277, 277CA, 999) and of 835 posting.

Seeds are public sample files (tests/data/x12/PROVENANCE.tsv). Hypothesis mutates them the way broken payer
files are broken: segments dropped, repeated or swapped, elements replaced with junk (huge numbers, signs,
exponents, non-ASCII, separator characters), files cut short, separators changed, and plain noise. The only
acceptable outcomes are a parse result or an ``X12Error`` that names a segment; posting is all-or-nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.errors import ServiceError
from backoffice.exchange.ingest import detect_kind
from backoffice.extensions import db
from backoffice.remits.services import post_835
from backoffice.x12.acks import parse_277ca, parse_999
from backoffice.x12.benefits import parse_271
from backoffice.x12.claim_status import parse_277
from backoffice.x12.era835 import parse_835
from backoffice.x12.reader import X12Error
from tests import factories as f

DATA = Path(__file__).parent / "data" / "x12"
SEEDS: dict[str, tuple[str, Callable[[str], list]]] = {
    "835": ((DATA / "lfh__tertiary-payment.835").read_text(), parse_835),
    "271": ((DATA / "lfh__demo.271").read_text(), parse_271),
    "277": ((DATA / "lfh__claim-level-status-ncpdp.277").read_text(), parse_277),
    "277CA": ((DATA / "ims__x12_277CA_rejected.txt").read_text(), parse_277ca),
    "999": ((DATA / "ims__x12_999_rejected.txt").read_text(), parse_999),
}
NOW = datetime(2026, 11, 22, 15, tzinfo=UTC)
TRICKY = ["", " ", "-1", "-0.00", "1e999", "NaN", "Infinity", "99999999999999999999.99", "0x10", "12.345.6",
          "20261399", "99999999", "2026-11-22", "ÄÖÜ€", "*", ":", "^", "~", "\n", "ISA", "SE", "CLP", "9" * 80]  # fmt: skip  # noqa: E501
JUNK = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))


def _segments(text: str) -> tuple[list[str], str]:
    terminator = text[105] if len(text) > 105 and text.startswith("ISA") else "~"
    parts = [p for p in re.split(re.escape(terminator), text) if p.strip()]
    return parts, terminator


@st.composite
def mutated(draw: st.DrawFn, seed: str) -> str:
    """``seed`` with 1–4 structural or element-level mutations (or, now and then, noise)."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.text(max_size=400), st.just("ISA" + draw(st.text(max_size=200)))))
    segments, terminator = _segments(seed)
    element = seed[3] if seed.startswith("ISA") else "*"
    for _ in range(draw(st.integers(1, 4))):
        if not segments:
            break
        i = draw(st.integers(0, len(segments) - 1))
        op = draw(st.sampled_from(["drop", "repeat", "swap", "element", "truncate", "append"]))
        if op == "drop":
            del segments[i]
        elif op == "repeat":
            segments.insert(i, segments[i])
        elif op == "swap":
            j = draw(st.integers(0, len(segments) - 1))
            segments[i], segments[j] = segments[j], segments[i]
        elif op == "element":
            parts = segments[i].split(element)
            k = draw(st.integers(0, len(parts)))
            value = draw(JUNK)
            if k < len(parts):
                parts[k] = value
            else:
                parts.append(value)
            segments[i] = element.join(parts)
        elif op == "truncate":
            segments[i] = segments[i][: draw(st.integers(0, len(segments[i])))]
        else:
            segments.insert(i, element.join(["CAS", "CO", draw(JUNK), draw(JUNK)]))
    text = terminator.join(segments) + terminator
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _parse_cleanly(parse: Callable[[str], list], text: str) -> None:
    try:
        result = parse(text)
    except X12Error as error:
        message = str(error)
        assert message and "Traceback" not in message
        return
    assert isinstance(result, list)


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_every_seed_parses(kind: str) -> None:
    text, parse = SEEDS[kind]
    assert parse(text), f"the {kind} seed must parse to at least one record"


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_parsers_never_crash_on_mutated_files(kind: str) -> None:
    text, parse = SEEDS[kind]

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(mutated(text))
    def check(sample: str) -> None:
        _parse_cleanly(parse, sample)

    check()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_kind_detection_never_crashes(sample: str) -> None:
    try:
        kind = detect_kind(sample)
    except X12Error:
        return
    assert isinstance(kind, tuple)


def _row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def test_posting_a_mutated_835_posts_all_or_nothing(app: Flask) -> None:
    """Each mutated 835 is either posted or refused with a clear error, and a refusal leaves no row behind."""
    text, _ = SEEDS["835"]
    with app.app_context():
        org = f.make_org()
        organization_id = org.id
        outcomes = {"refused": 0, "posted": 0}

        @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
        @given(mutated(text))
        def check(sample: str) -> None:
            before = _row_counts()
            try:
                post_835(organization_id=organization_id, text=sample, now=NOW)
            except ServiceError as error:
                assert str(error)
                db.session.rollback()
                assert _row_counts() == before, "a refused 835 must change nothing"
                outcomes["refused"] += 1
            else:
                outcomes["posted"] += 1

        check()
        assert outcomes["refused"] > 0
