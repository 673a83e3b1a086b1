"""Shared shape of every use-case function: it owns its transaction and leaves nothing behind on error."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import ARRAY, any_, cast

from backoffice.extensions import db

P = ParamSpec("P")
R = TypeVar("R")


def service(fn: Callable[P, R]) -> Callable[P, R]:
    """Roll the session back (dropping any pending after-commit jobs) if ``fn`` raises."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except BaseException:
            db.session.rollback()
            raise

    return wrapper


def is_postgres() -> bool:
    """Whether the bound database is PostgreSQL (row locks, SKIP LOCKED)."""
    return db.session.get_bind().dialect.name == "postgresql"


def statement_is_transaction() -> bool:
    """On PostgreSQL, when the session holds no transaction (nothing read or written since its last commit), make
    its next statement a transaction of its own (autocommit) and return True; else change nothing and return False.

    For a read, or a write done in one statement (Get next's claim and its log row), a statement of its own is the
    same transaction, minus the BEGIN and COMMIT round trips psycopg sends around it. The caller still calls
    ``db.session.commit()`` (no round trip then), which hands the connection back with its usual isolation level.
    """
    if not is_postgres() or db.session().in_transaction():
        return False
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


def in_ids(column: Any, values: Iterable[Any]) -> Any:
    """``column IN values`` for thousands of ids or numbers: one array parameter on PostgreSQL (``= ANY(:values)``:
    a short statement to send, parse and plan, where an expanding IN sends one parameter per value), an expanding
    IN elsewhere."""
    values = sorted(set(values))
    if is_postgres():
        return column == any_(cast(values, ARRAY(column.type)))
    return column.in_(values)
