"""Setting up the Sandbox for an organization: its settings (rates, delay, seed) and its member file from a CSV.
Bad input is refused naming the row and column, and changes nothing (all or nothing). Member data never reaches
an error message or a log: a row is named by its number."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.exc import IntegrityError

from backoffice.clearinghouse.sandbox import enroll_member
from backoffice.clearinghouse.sandbox_models import SandboxSettings
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.services_base import service
from backoffice.x12.inquiry import RELATIONSHIPS, SELF

RATES = ("reject_999_percent", "reject_277ca_percent", "recoupment_percent", "interest_percent", "reversal_percent")
MEMBER_COLUMNS = ("payer_id", "payer_kind", "member_id", "relationship", "first_name", "last_name", "date_of_birth",
                  "sex", "effective_from", "effective_to", "copay", "coinsurance_percent", "deductible_remaining",
                  "visits_allowed", "visits_used", "auth_required", "carve_out_payer_name", "carve_out_payer_id",
                  "crossover_payer_name", "crossover_payer_id")  # fmt: skip
REQUIRED = ("payer_id", "member_id", "first_name", "last_name", "date_of_birth", "effective_from")


@service
def save_settings(*, organization_id: int, values: dict[str, int]) -> SandboxSettings:
    """Change some of the organization's Sandbox settings (the others keep their value): rates 0-100, delay in
    minutes 0-10080, seed any whole number."""
    current = db.session.get(SandboxSettings, organization_id) or SandboxSettings(
        organization_id=organization_id, seed=0, delay_minutes=0, **dict.fromkeys(RATES, 0)
    )
    for name, value in values.items():
        if name in RATES and not 0 <= value <= 100:
            raise ValidationFailed(f"{name}: a percentage from 0 to 100")
        if name == "delay_minutes" and not 0 <= value <= 10080:
            raise ValidationFailed("delay_minutes: from 0 to 10080 (a week)")
        if name not in (*RATES, "delay_minutes", "seed"):
            raise ValidationFailed(f"{name}: not a Sandbox setting")
        setattr(current, name, value)
    db.session.merge(current)
    db.session.commit()
    return db.session.get(SandboxSettings, organization_id)


def _date(row: dict[str, str], column: str, where: str, *, required: bool) -> date | None:
    raw = (row.get(column) or "").strip()
    if not raw:
        if required:
            raise ValidationFailed(f"{where}, column {column}: required")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{where}, column {column}: a date as YYYY-MM-DD") from None


def _number(row: dict[str, str], column: str, where: str, kind: type) -> Any:
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except (ValueError, InvalidOperation):
        raise ValidationFailed(f"{where}, column {column}: a number") from None
    if value < 0:
        raise ValidationFailed(f"{where}, column {column}: zero or more")
    return value


@service
def import_members(*, organization_id: int, text: str) -> int:
    """Add every row of a members CSV (``MEMBER_COLUMNS``; the header names them) to the Sandbox's member file;
    returns how many. Any bad row refuses the whole file."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(f"header: missing column(s) {', '.join(missing)}")
    count = 0
    for number, row in enumerate(reader, start=2):
        where = f"row {number}"
        for column in REQUIRED:
            if not (row.get(column) or "").strip():
                raise ValidationFailed(f"{where}, column {column}: required")
        relationship = (row.get("relationship") or SELF).strip()
        if relationship != SELF and relationship not in RELATIONSHIPS:
            raise ValidationFailed(f"{where}, column relationship: an X12 relationship code (18 self, 19 child…)")
        benefits: dict[str, Any] = {
            "copay": _number(row, "copay", where, Decimal),
            "coinsurance_percent": _number(row, "coinsurance_percent", where, Decimal),
            "deductible_remaining": _number(row, "deductible_remaining", where, Decimal),
            "visits_allowed": _number(row, "visits_allowed", where, int),
            "visits_used": _number(row, "visits_used", where, int) or 0,
            "auth_required": (row.get("auth_required") or "").strip().lower() in ("y", "yes", "true", "1"),
        }
        for column in ("carve_out_payer_name", "carve_out_payer_id", "crossover_payer_name", "crossover_payer_id"):
            benefits[column] = (row.get(column) or "").strip() or None
        given = {k: v for k, v in benefits.items() if v is not None or k.endswith(("_name", "_id"))}
        enroll_member(
            organization_id=organization_id, payer_id=row["payer_id"].strip(),
            payer_kind=(row.get("payer_kind") or "commercial").strip(), member_id=row["member_id"].strip(),
            first_name=row["first_name"].strip(), last_name=row["last_name"].strip(),
            date_of_birth=_date(row, "date_of_birth", where, required=True), sex=(row.get("sex") or "U").strip()[:1],
            effective_from=_date(row, "effective_from", where, required=True),
            effective_to=_date(row, "effective_to", where, required=False), relationship=relationship, **given,
        )  # fmt: skip
        try:
            with db.session.begin_nested():
                db.session.flush()
        except IntegrityError:
            raise ValidationFailed(f"{where}: this person (payer, member ID, first name, birth date) is already in "
                                   "the Sandbox's member file") from None  # fmt: skip
        count += 1
    db.session.commit()
    return count
