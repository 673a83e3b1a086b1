"""The onboarding CSV files (payer directory, fee schedule, contracted rates) as a codec: text in, records out, and
back. Import and export use the same columns, so an import of an export changes nothing. Pure: no models."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from backoffice.onboarding.rules import FEE_COLUMNS, PAYER_COLUMNS, RATE_COLUMNS, FieldError, join_list

KINDS: dict[str, tuple[str, ...]] = {"payers": PAYER_COLUMNS, "fees": FEE_COLUMNS, "rates": RATE_COLUMNS}
REQUIRED: dict[str, tuple[str, ...]] = {
    "payers": ("payer_id", "name", "kind", "filing_limit_days", "appeal_window_days"),
    "fees": ("cpt", "charge"),
    "rates": ("payer_id", "cpt", "allowed", "effective_from"),
}
MAX_ROWS = 20_000


def read(text: str, kind: str) -> tuple[list[dict[str, str]], list[FieldError]]:
    """The data rows of a ``kind`` file as column → text (row 2 is the first after the header), or errors naming
    the row and column: a missing required column, an unknown column, a row with too many cells."""
    columns = KINDS[kind]
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    errors = [FieldError(h or "(blank)", "unknown column; expected " + ", ".join(columns), 1)
              for h in header if h not in columns]  # fmt: skip
    errors += [FieldError(c, "required column is missing", 1) for c in REQUIRED[kind] if c not in header]
    if not header:
        errors.append(FieldError("(header)", "the file is empty; the first line names the columns", 1))
    if errors:
        return [], errors
    rows: list[dict[str, str]] = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            errors.append(FieldError("(row)", f"{len(cells)} cells but the header has {len(header)}", number))
            continue
        record = {column: cells[i].strip() if i < len(cells) else "" for i, column in enumerate(header)}
        record["_row"] = str(number)
        rows.append(record)
        if len(rows) > MAX_ROWS:
            return [], [FieldError("(file)", f"at most {MAX_ROWS} rows per file", number)]
    return rows, errors


def write(kind: str, records: Iterable[Mapping[str, Any]]) -> str:
    """A ``kind`` file with every column, lists joined by semicolons, booleans as yes/no, objects as JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns: Sequence[str] = KINDS[kind]
    writer.writerow(columns)
    for record in records:
        writer.writerow([cell(record.get(column)) for column in columns])
    return out.getvalue()


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return join_list(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else ""
    return str(value)
