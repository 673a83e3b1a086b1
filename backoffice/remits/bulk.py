"""Bulk writers for posting: COPY or multi-row INSERT … RETURNING, and one UPDATE … FROM VALUES per table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, insert, text, update

from backoffice.extensions import db
from backoffice.remits.posting_run import AMOUNTS
from backoffice.services_base import is_postgres

CHUNK = 5000


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def uniform(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same keys in every row (absent ones None), so a bulk INSERT is one executemany, not one per key set."""
    keys = {key for row in rows for key in row}
    return [{key: row.get(key) for key in keys} for row in rows]


def bulk_insert(model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT ``rows`` in bulk and return their ids in order: COPY on PostgreSQL (ids drawn from the sequence
    first), multi-row INSERT … RETURNING elsewhere. Python-side column defaults are applied as the ORM would."""
    if not rows:
        return []
    if not is_postgres():
        statement = insert(model).execution_options(render_nulls=True)
        return list(db.session.scalars(statement.returning(model.id, sort_by_parameter_order=True), uniform(rows)))
    table = model.__table__
    connection = db.session.connection()
    sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
    query = text("SELECT nextval(:s) FROM generate_series(1, :n)")
    ids = sorted(connection.scalars(query, {"s": sequence, "n": len(rows)}))
    keys = list(dict.fromkeys(key for row in rows for key in row))
    defaults = {c.name: c.default for c in table.columns if c.default is not None and c.name not in keys}
    fixed = [d.arg(None) if d.is_callable else d.arg for d in defaults.values()]
    names = [*keys, *defaults, "id"]
    # Only JSON needs SQLAlchemy's bind processing here; enums are str and datetimes are aware already. None in a
    # nullable JSON column stays SQL NULL (not the JSON text null), and costs no encoding.
    json = {i: table.c[name].type._cached_bind_processor(connection.dialect) for i, name in enumerate(names)
            if isinstance(table.c[name].type, JSON)}  # fmt: skip
    nullable = {i for i in json if table.c[names[i]].nullable}
    quote = connection.dialect.identifier_preparer.quote
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(map(quote, names))}) FROM STDIN") as copy:
        for row, row_id in zip(rows, ids, strict=True):
            values = [row.get(key) for key in keys] + fixed + [row_id]
            for i, process in json.items():
                if process and (values[i] is not None or i not in nullable):
                    values[i] = process(values[i])
            copy.write_row(values)
    return ids


SQL_TYPES = {"id": "integer", "status": "varchar", "payer_claim_number": "varchar", "adjudicated_at": "timestamptz",
             **dict.fromkeys((*AMOUNTS, "expected_allowed", "unapplied_amount"), "numeric")}  # fmt: skip


def bulk_update(model: Any, rows: list[dict[str, Any]]) -> None:
    """UPDATE rows by id: one ``UPDATE … FROM unnest(arrays)`` on PostgreSQL, an executemany elsewhere."""
    if not rows:
        return
    if not is_postgres():
        db.session.execute(update(model), rows)
        return
    names = [name for name in rows[0] if name != "id"]
    columns = ["id", *names]
    arrays = {name: [str(row[name]) if name == "status" else row[name] for row in rows] for name in columns}
    source = ", ".join(f"unnest(CAST(:{name} AS {SQL_TYPES[name]}[])) AS {name}" for name in columns)
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    table = model.__table__.name
    statement = text(f"UPDATE {table} SET {assignments} FROM (SELECT {source}) AS v WHERE {table}.id = v.id")  # noqa: S608 - names come from SQL_TYPES, values are bound
    db.session.execute(statement, arrays)
    ids = set(arrays["id"])  # objects the session already holds must not keep the old amounts
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, model) and obj.id in ids:
            db.session.expire(obj)
