"""Property-based fuzzing of the session imports (CSV and the API's JSON), upload limits and encodings, and
the CSV exports' formula neutralising: only clean, specific errors, never a crash, never a partial write.

The generators include what once crashed (NUL, Unicode digits, NaN/Infinity/1e30, year 1, emoji and X12
separators); CI runs this file on PostgreSQL as well as SQLite, and PostgreSQL is the one that refuses a NUL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.api.openapi import openapi_document
from backoffice.api.rules import parse_records
from backoffice.extensions import db
from backoffice.reports.rules import FORMULA_STARTS, to_csv
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS, parse_csv
from backoffice.sessions.services import ImportRefused, import_sessions
from tests.factories import NOW
from tests.test_api import world  # noqa: F401  (fixture: an org, a practice, a biller with an API token)
from tests.test_session_import import GOOD, TODAY

# What broke production: NUL (PostgreSQL cannot store it), Unicode digits (str.isdigit says yes, int() says no),
# NaN/Infinity/1e30, year 1, and what an 837 cannot carry (emoji, separators, = < >, line breaks).
HOSTILE = ["\x00", "a\x00b", "²", "①", "٣", "１２", "NaN", "Infinity", "-Infinity", "1e30", "0001-01-01", "9999-12-31",
           "😀", "Rivera:Jr", "A*B", "A~B", "A^B", "A=B", "<b>", "Ann\nLee", "\x1b[31m", "Иванов"]  # fmt: skip
CELL = st.one_of(
    st.sampled_from(["", " ", "=1+1", "-5", "2026-02-30", "99999", "0", "F33.1;;", "ZZZ", "yes", "12:61", "Ä€"]),
    st.sampled_from(HOSTILE),
    st.text(max_size=15),
)
FIELDS = (*COLUMNS, *ADDRESS_COLUMNS)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from([1e30, 10**30])
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def _row_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    """A header (sometimes damaged) and 1–4 rows of the good row with some cells replaced by junk."""
    columns = list(COLUMNS)
    if draw(st.integers(0, 9)) == 0:
        columns = draw(st.lists(st.sampled_from([*FIELDS, "notes", ""]), max_size=len(FIELDS)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(columns)
    for n in range(draw(st.integers(1, 4))):
        row = {**GOOD, "session_ref": f"CM-{n}"}
        for column in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
            row[column] = draw(CELL)
        # Well-formed values the database does not know: only the import service can refuse these.
        unknown = draw(
            st.sampled_from([None, ("payer_id", "NOPE"), ("practice", "elsewhere"), ("session_ref", "CM-0")])
        )
        if unknown is not None:
            row[unknown[0]] = unknown[1]
        writer.writerow([row.get(c, "") for c in columns])
    text = out.getvalue()
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))] + draw(st.text(max_size=20))
    return text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(csv_files())
def test_the_csv_parser_only_ever_returns_rows_or_named_errors(text: str) -> None:
    rows, errors = parse_csv(io.StringIO(text), today=TODAY)
    assert rows or errors
    for error in errors:
        assert error.row >= 1 and error.column and error.message


@settings(max_examples=300, deadline=None, derandomize=True)
@given(JSON_VALUES)
def test_the_json_parser_only_ever_returns_rows_or_named_errors(records: Any) -> None:
    rows, errors = parse_records(records, today=TODAY)
    assert rows or errors
    for error in errors:
        assert error.row >= 0 and error.column and error.message


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.fixed_dictionaries({}, optional={c: CELL for c in FIELDS}), min_size=1, max_size=3))
def test_json_session_objects_with_junk_values_never_crash(records: list[dict[str, str]]) -> None:
    merged = [{**GOOD, **record} for record in records]
    rows, errors = parse_records(merged, today=TODAY)
    assert len(rows) + len({e.row for e in errors}) == len(merged)


def test_imports_of_fuzzed_files_write_everything_or_nothing(app: Flask) -> None:
    """Every fuzzed file that parses is imported whole, or refused with row-and-column errors and no change."""
    with app.app_context():
        from tests.test_session_import import practice as practice_fixture

        practice_fixture.__wrapped__(None)  # the same practice, provider and payers as the import tests
        organization_id = db.session.scalar(select(func.max(db.metadata.tables["organizations"].c.id)))
        outcomes = {"imported": 0, "refused": 0}

        @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
        @given(csv_files())
        def check(text: str) -> None:
            rows, errors = parse_csv(io.StringIO(text), today=TODAY)
            if errors or not rows:
                return
            before = _row_counts()
            try:
                import_sessions(rows=rows, organization_id=organization_id, now=NOW, source="fuzz.csv")
            except ImportRefused as refused:
                assert refused.errors and all(e.column and e.message for e in refused.errors)
                db.session.rollback()
                assert _row_counts() == before
                outcomes["refused"] += 1
            else:
                outcomes["imported"] += 1

        check()
        assert outcomes["imported"] and outcomes["refused"]


def test_the_api_answers_any_json_body_with_a_4xx_and_no_change(world: dict[str, Any], client: FlaskClient) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {world['token']}", "Content-Type": "application/json"}

    @settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(JSON_VALUES)
    def check(body: Any) -> None:
        before = _row_counts()
        response = client.post("/api/v1/sessions", data=json.dumps({"sessions": body}), headers=headers)
        assert response.status_code in (400, 422), response.get_data(as_text=True)[:200]
        assert response.is_json and response.get_json()["error"]
        assert _row_counts() == before

    check()


def test_wrong_encodings_and_non_json_bodies_are_400(world: dict[str, Any], client: FlaskClient) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {world['token']}", "Content-Type": "application/json"}
    latin1 = json.dumps({"sessions": [{**GOOD, "patient_last": "Müller"}]}, ensure_ascii=False).encode("latin-1")
    for body in (latin1, b"\xff\xfe{", b"not json", b"[1, 2]", b'"sessions"'):
        response = client.post("/api/v1/sessions", data=body, headers=headers)
        assert response.status_code == 400, body
        assert response.is_json and response.get_json()["error"]


def test_an_oversized_upload_is_refused_with_413_before_it_is_read(
    world: dict[str, Any],  # noqa: F811
    app: Flask,
    client: FlaskClient,
) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 16 * 1024 * 1024
    headers = {"Authorization": f"Bearer {world['token']}", "Content-Type": "application/json"}
    body = b'{"sessions": [' + b" " * limit + b"]}"
    response = client.post("/api/v1/sessions", data=body, headers=headers)
    assert response.status_code == 413
    assert "413" in openapi_document()["paths"]["/sessions"]["post"]["responses"]
    assert response.is_json and "large" in response.get_json()["error"].lower()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.one_of(st.text(max_size=12), st.integers(), st.decimals(allow_nan=False, places=2)), max_size=6))
def test_csv_exports_neutralise_every_formula_cell_and_keep_numbers(cells: list[Any]) -> None:
    text = to_csv([f"c{i}" for i in range(len(cells))], [cells])
    (_, row) = list(csv.reader(io.StringIO(text)))
    for value, written in zip(cells, row, strict=True):
        if isinstance(value, str):
            assert not written.startswith(FORMULA_STARTS), written
            assert written in (value, "'" + value)
        else:
            assert written == str(value)  # numbers as numbers: no quote, no currency sign
