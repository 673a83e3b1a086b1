"""The interaction log and the audit trail are append-only in the database itself (migration 0009)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from backoffice.audit.models import AuditEvent
from backoffice.audit.services import record_event
from backoffice.extensions import db
from backoffice.work.models import Interaction
from tests import factories as f


def _seed() -> tuple[int, int]:
    org = f.make_org()
    f.make_ready_items(f.make_practice(org), 1)
    event = record_event(action="login", organization_id=org.id, data={"why": "test"})
    return db.session.scalar(select(func.min(Interaction.id))), event.id


def _refused(statement: str, **params: object) -> str:
    with pytest.raises(DBAPIError) as refused, db.engine.begin() as conn:
        conn.execute(text(statement), params)
    return str(refused.value.orig)


@pytest.mark.parametrize("table", ["interactions", "audit_events"])
def test_the_database_refuses_to_update_a_logged_row(ctx, table: str) -> None:
    ids = dict(zip(("interactions", "audit_events"), _seed(), strict=True))
    message = _refused(f"UPDATE {table} SET data = '{{}}' WHERE id = :id", id=ids[table])  # noqa: S608
    assert f"{table} is append-only: UPDATE refused" in message


def test_orm_edits_of_an_interaction_are_refused_and_change_nothing(ctx) -> None:
    interaction_id, _ = _seed()
    row = db.session.get(Interaction, interaction_id)
    before = row.body
    row.body = "rewritten history"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(Interaction.body).where(Interaction.id == interaction_id)) == before


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["interactions", "audit_events"])
def test_postgres_refuses_to_delete_a_logged_row(ctx, table: str) -> None:
    ids = dict(zip(("interactions", "audit_events"), _seed(), strict=True))
    message = _refused(f"DELETE FROM {table} WHERE id = :id", id=ids[table])  # noqa: S608
    assert f"{table} is append-only: DELETE refused" in message
    assert db.session.scalar(select(func.count()).select_from(text(table))) >= 1  # noqa: S608


@pytest.mark.postgres
def test_postgres_refuses_a_bulk_delete_too_but_truncate_stays_possible(ctx) -> None:
    _seed()
    assert "DELETE refused" in _refused("DELETE FROM audit_events")
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_events"))
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_appending_still_works(ctx) -> None:
    _seed()
    record_event(action="logout")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2
