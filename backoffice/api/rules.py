"""Pure token rules: scopes, hashing, the Authorization header, and JSON session records."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date

from backoffice.sessions.rules import COLUMNS, OPTIONAL_COLUMNS, RowError, SessionRow, parse_row

SESSIONS_WRITE = "sessions:write"
WORK_READ = "work:read"
WORK_WRITE = "work:write"
CLAIMS_READ = "claims:read"
ADMIN_READ = "admin:read"  # onboarding: practices, providers, payers, fees, rates, enrolments, users (issue 16)
ADMIN_WRITE = "admin:write"
APPOINTMENTS_WRITE = "appointments:write"  # upcoming appointments, checked before the visit (issue 20.5)
SCOPES = (SESSIONS_WRITE, WORK_READ, WORK_WRITE, CLAIMS_READ, ADMIN_READ, ADMIN_WRITE, APPOINTMENTS_WRITE)
TOKEN_PREFIX = "bo_"  # noqa: S105 - a marker, not a secret
PREFIX_LENGTH = 10
MAX_SESSIONS_PER_REQUEST = 1000


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the database keeps (tokens are random, so no salt or slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def scope_problem(scopes: Iterable[str]) -> str | None:
    """Why a set of scopes cannot be granted, or None."""
    given = list(scopes)
    if not given:
        return "at least one scope is required: " + ", ".join(SCOPES)
    unknown = sorted(set(given) - set(SCOPES))
    if unknown:
        return f"unknown scope(s): {', '.join(unknown)}; expected some of {', '.join(SCOPES)}"
    return None


def bearer_token(header: str | None) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token and " " not in token else None


def parse_records(records: object, *, today: date) -> tuple[list[SessionRow], list[RowError]]:
    """Parse the ``sessions`` array of a JSON body with the CSV import's per-field rules; rows count from 1."""
    if not isinstance(records, list) or not records:
        return [], [RowError(0, "sessions", "expected a non-empty array of session objects")]
    if len(records) > MAX_SESSIONS_PER_REQUEST:
        return [], [RowError(0, "sessions", f"at most {MAX_SESSIONS_PER_REQUEST} sessions per request")]
    rows: list[SessionRow] = []
    errors: list[RowError] = []
    for number, record in enumerate(records, start=1):
        parsed = parse_record(number, record, today=today)
        if isinstance(parsed, SessionRow):
            rows.append(parsed)
        else:
            errors.extend(parsed)
    return rows, errors


def parse_record(row: int, record: object, *, today: date) -> SessionRow | list[RowError]:
    """One JSON object (column → string; whole numbers accepted for numeric columns) as a SessionRow, or errors."""
    if not isinstance(record, Mapping):
        return [RowError(row, "(session)", "expected an object of column: value")]
    known = (*COLUMNS, *OPTIONAL_COLUMNS)
    errors = [RowError(row, str(key) or "(blank name)", "unknown column") for key in record if key not in known]
    values: dict[str, str | None] = {}
    for column, value in record.items():
        if column not in known:
            continue  # reported above
        if value is None or isinstance(value, str):
            values[column] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            values[column] = str(value)
        else:
            errors.append(RowError(row, str(column), "expected a string"))
    parsed = parse_row(row, values, today=today)
    if errors:
        return errors + (parsed if isinstance(parsed, list) else [])
    return parsed
