"""Get next over HTTP on PostgreSQL is two statements, each its own transaction (no BEGIN or COMMIT round trips,
no ping), and a claim inside an open transaction still joins it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.work import claiming
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.conftest import AuthActions, csrf_token


@contextmanager
def statements_seen(app: Flask) -> Iterator[list[dict[str, Any]]]:
    """Every statement the app's engine sends while inside, with whether the driver had a transaction block open."""
    seen: list[dict[str, Any]] = []
    with app.app_context():
        engine = db.engine

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        raw = conn.connection.dbapi_connection
        seen.append({"sql": statement.split()[0], "autocommit": raw.autocommit,
                     "in_block": raw.info.transaction_status != raw.info.transaction_status.IDLE})  # fmt: skip

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.postgres
def test_get_next_on_postgresql_is_two_statements_each_its_own_transaction(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        f.make_user(org, practices=[practice], email="biller@example.test")
        item_ids = [i.id for i in f.make_ready_items(practice, 2)]
    assert auth.login("biller@example.test").status_code == 302
    token = csrf_token(client.get("/queue").get_data(as_text=True))

    with statements_seen(app) as seen:
        response = client.post("/items/next", data={"csrf_token": token})

    assert response.status_code == 303
    claimed = int(response.headers["Location"].rsplit("/", 1)[1])
    assert claimed in item_ids
    # The signed-in user (with session and scope), then the claim with its log row: no ping, no BEGIN, no COMMIT.
    assert [s["sql"] for s in seen] == ["SELECT", "WITH"]
    assert all(s["autocommit"] and not s["in_block"] for s in seen)
    with app.app_context():
        item = db.session.get(WorkItem, claimed)
        assert item.state == ItemState.IN_PROGRESS
        logged = db.session.scalars(select(Interaction).where(Interaction.work_item_id == claimed)).all()
        claims = [i.actor_user_id for i in logged if (i.data or {}).get("reason") == "get_next"]
        assert claims == [item.assignee_id]  # who claimed it is on the item's log, once
        # The connection went back to the pool as it came: the next service's statements are in a transaction.
        db.session.execute(select(WorkItem.id).limit(1))
        raw = db.session.connection().connection.dbapi_connection
        assert raw.autocommit is False
        db.session.rollback()


def test_a_claim_inside_an_open_transaction_joins_it(app: Flask) -> None:
    """A caller that has written in its transaction (not committed yet) claims within it: it sees its own item."""
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        user_id = f.make_user(org, practices=[practice]).id
        f.make_ready_items(practice, 1)
        existing = db.session.scalar(select(WorkItem.id))
        db.session.execute(  # the only ready item waits behind this uncommitted change
            WorkItem.__table__.update().where(WorkItem.id == existing).values(priority=5)
        )
        item = claiming.claim_next_item(user=db.session.get(User, user_id), now=f.NOW)
        assert item is not None and item.id == existing and item.priority == 5
