"""EDI control numbers (ISA13, GS06, ST02): persisted per organization and series, handed out in blocks by one
guarded UPDATE … RETURNING, never reused.

Allocation joins the caller's transaction: the row stays locked (PostgreSQL) until the caller commits, so two
submitters of one organization take turns, and a rolled-back allocation gave its numbers to no committed file.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backoffice.errors import ValidationFailed
from backoffice.exchange.models import ControlNumber
from backoffice.extensions import db

SERIES = ("interchange", "group", "transaction")
# ISA13 and GS06 are 9 digits; ST02 is 4-9 characters (the writer pads to 4).
MAX_VALUE = 999_999_999


def allocate(organization_id: int, series: str, count: int = 1) -> int:
    """The first number of a fresh block of ``count`` in ``series``; no other caller ever gets these numbers."""
    return allocate_blocks(organization_id, {series: count})[series]


def allocate_blocks(organization_id: int, counts: Mapping[str, int]) -> dict[str, int]:
    """A fresh block in each series of ``counts`` (series -> how many), in one statement: per series its block's
    first number. The first use inserts a series' row with its block, later ones add to it; the rows stay locked
    until the caller commits, taken in one order (so two allocations never wait on each other crosswise)."""
    for series, count in counts.items():
        if series not in SERIES:
            raise ValidationFailed(f"control number series: one of {', '.join(SERIES)} (got {series!r})")
        if count < 1:
            raise ValidationFailed("control number count: at least 1")
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    blocks = [{"organization_id": organization_id, "series": s, "last_value": counts[s]} for s in sorted(counts)]
    statement = insert(ControlNumber).values(blocks)
    rows = db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "series"],
            set_={"last_value": ControlNumber.last_value + statement.excluded.last_value},
        )
        .returning(ControlNumber.series, ControlNumber.last_value)
        .execution_options(synchronize_session=False)
    ).all()
    first: dict[str, int] = {}
    for series, last in rows:
        if last > MAX_VALUE:
            # Wrapping around would reuse numbers the clearinghouse has seen: refuse (the caller rolls back).
            raise ValidationFailed(
                f"control numbers ({series}) of organization {organization_id} are exhausted (ISA13/GS06 have 9 digits)"
            )
        first[series] = last - counts[series] + 1
    return first
