"""Claiming under contention: many billers pressing Get next at once never get the same item."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from flask import Flask

from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.work import claiming
from tests import factories as f
from tests.factories import NOW


def _claim_until_empty(
    app: Flask, user_ids: list[int], barrier: threading.Barrier
) -> tuple[list[int], list[BaseException]]:
    claimed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def biller(user_id: int) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            db.session.commit()  # hand the connection back before waiting for the others
            barrier.wait()
            try:
                while (item := claiming.claim_next_item(user=user, now=NOW)) is not None:
                    with lock:
                        claimed.append(item.id)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=biller, args=(uid,)) for uid in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return claimed, errors


def _setup(app: Flask, billers: int, items: int) -> tuple[list[int], list[int]]:
    with app.app_context():
        org = f.make_org()
        practice = f.make_practice(org)
        user_ids = [f.make_user(org, practices=[practice]).id for _ in range(billers)]
        item_ids = [i.id for i in f.make_ready_items(practice, items)]
        return user_ids, item_ids


@pytest.mark.postgres
def test_sixteen_billers_claiming_at_once_on_postgres_never_share_an_item(app: Flask) -> None:
    user_ids, item_ids = _setup(app, billers=16, items=200)
    claimed, errors = _claim_until_empty(app, user_ids, threading.Barrier(16, timeout=60))
    assert errors == []
    duplicates = [item for item, count in Counter(claimed).items() if count > 1]
    assert duplicates == []
    assert sorted(claimed) == sorted(item_ids)  # and none was lost


def test_concurrent_claimers_never_share_an_item_on_any_database(app: Flask) -> None:
    """The guarded UPDATE alone (no row locks, as on SQLite) still gives each item to one biller."""
    user_ids, item_ids = _setup(app, billers=4, items=40)
    claimed, errors = _claim_until_empty(app, user_ids, threading.Barrier(4, timeout=60))
    assert errors == []
    assert len(claimed) == len(set(claimed)) == len(item_ids)
