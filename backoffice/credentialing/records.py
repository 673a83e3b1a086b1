"""Providers and enrolments as records (CSV rows, API JSON) and back: a pure codec. The CSV import and export use
the same columns, so importing an export changes nothing. Errors name the row and the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from backoffice.credentialing.rules import EnrollmentInput, ProviderInput, provider_field_problem, status_problem
from backoffice.inputs import InputProblem, clean_text, iso_date

PROVIDER_COLUMNS = (
    "first_name",
    "last_name",
    "npi",
    "credential",
    "taxonomy",
    "license_type",
    "license_number",
    "license_state",
    "license_expires_on",
    "active_from",
    "active_to",
    "supervising_npi",
    "active",
)
REQUIRED = ("first_name", "last_name", "npi", "credential", "taxonomy")
DATE_COLUMNS = ("license_expires_on", "active_from", "active_to")
YES, NO = frozenset({"yes", "true", "1", "y"}), frozenset({"no", "false", "0", "n"})
MAX_ROWS = 5000


@dataclass(frozen=True)
class RecordError:
    """A refused value: ``row`` is 1-based (CSV data rows after the header; 0: the whole file), ``column`` names it."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}" if self.row else f"{self.column}: {self.message}"


class RecordRefused(ValueError):
    """Nothing was written: every problem found, by row and column."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


def _text(value: Any, column: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputProblem("expected text")
    cleaned = clean_text(value).strip()
    return cleaned or None


def _date(value: Any, today: date) -> date | None:
    text = _text(value, "")
    return iso_date(text, today=today, future_days=365 * 20) if text else None


def provider_record(
    record: Mapping[str, Any], *, row: int, today: date
) -> tuple[ProviderInput | None, list[RecordError]]:
    """One provider from a CSV row or a JSON object; (None, errors) when any value is refused."""
    errors: list[RecordError] = []
    unknown = sorted(set(record) - set(PROVIDER_COLUMNS))
    if unknown:
        errors.append(RecordError(row, unknown[0], f"unknown column; expected some of {', '.join(PROVIDER_COLUMNS)}"))
    values: dict[str, Any] = {}
    for column in PROVIDER_COLUMNS:
        raw = record.get(column)
        try:
            if column in DATE_COLUMNS:
                values[column] = _date(raw, today)
            elif column == "active":
                flag = (_text(raw, column) or "yes").lower() if not isinstance(raw, bool) else ("yes" if raw else "no")
                if flag not in YES | NO:
                    raise InputProblem("yes or no")
                values[column] = flag in YES
            else:
                values[column] = _text(raw, column)
        except InputProblem as problem:
            errors.append(RecordError(row, column, str(problem)))
    errors += [RecordError(row, c, "required") for c in REQUIRED
               if values.get(c) is None and not any(e.column == c for e in errors)]  # fmt: skip
    if values.get("license_state"):
        values["license_state"] = values["license_state"].upper()
    if errors:
        return None, errors
    data = ProviderInput(**values)
    found = provider_field_problem(data)
    if found:
        return None, [RecordError(row, *found)]
    return data, []


def provider_csv_rows(text: str, *, today: date) -> tuple[list[tuple[int, ProviderInput]], list[RecordError]]:
    """Parse a providers CSV (header row with ``PROVIDER_COLUMNS``; order free, unknown columns refused)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [RecordError(0, missing[0], "missing from the header row")]
    rows: list[tuple[int, ProviderInput]] = []
    errors: list[RecordError] = []
    for number, raw in enumerate(reader, start=1):
        if number > MAX_ROWS:
            return [], [RecordError(0, "file", f"more than {MAX_ROWS} rows")]
        if None in raw:
            errors.append(RecordError(number, "file", "more values than columns"))
            continue
        parsed, found = provider_record({k: v for k, v in raw.items() if k}, row=number, today=today)
        errors += found
        if parsed is not None:
            rows.append((number, parsed))
    seen: dict[str, int] = {}
    for number, data in rows:
        if data.npi in seen:
            errors.append(RecordError(number, "npi", f"the same NPI as row {seen[data.npi]}"))
        seen.setdefault(data.npi, number)
    return rows, errors


def provider_as_record(data: ProviderInput) -> dict[str, str]:
    """A provider as one CSV row (the import's own format)."""
    out: dict[str, str] = {}
    for column in PROVIDER_COLUMNS:
        value = getattr(data, column)
        if isinstance(value, bool):
            out[column] = "yes" if value else "no"
        elif isinstance(value, date):
            out[column] = value.isoformat()
        else:
            out[column] = "" if value is None else str(value)
    return out


def providers_csv(inputs: Iterable[ProviderInput]) -> str:
    """The providers CSV: a header and one row per provider."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=PROVIDER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for data in inputs:
        writer.writerow(provider_as_record(data))
    return buffer.getvalue()


ENROLLMENT_DATES = ("submitted_on", "effective_from", "terminated_on", "revalidation_due", "caqh_reattestation_due")


def enrollment_record(record: Mapping[str, Any], *, today: date) -> EnrollmentInput:
    """An enrolment from JSON or a form: raises ValueError("field: why") naming the first bad field."""
    status = record.get("status")
    if not isinstance(status, str) or status_problem(status):
        raise ValueError(f"status: {status_problem(str(status))}")
    values: dict[str, Any] = {"status": status}
    for name in ENROLLMENT_DATES:
        try:
            values[name] = _date(record.get(name), today)
        except InputProblem as problem:
            raise ValueError(f"{name}: {problem}") from None
    try:
        values["payer_provider_id"] = _text(record.get("payer_provider_id"), "payer_provider_id")
    except InputProblem as problem:
        raise ValueError(f"payer_provider_id: {problem}") from None
    return EnrollmentInput(**values)
