"""Writing the audit trail (HIPAA 164.312(b)). Rows hold ids, the route and an action, never PHI.

Two ways in:

- ``audit_event(...)`` adds a row to the current SQLAlchemy session without committing, so a service writes
  its audit row in the same transaction as the change it describes (as it does its interaction row);
  ``record_event(...)`` does the same and commits, for callers with nothing else to commit (sign-in, CLI).
- ``record_phi_read(patient_id=..., practice_id=...)`` is what a view calls when the page, PDF or CSV it is
  about to return shows a patient's data. Inside a request the rows are written once the view has produced a
  successful response (a 404 or a 500 shows nothing, so it logs nothing); outside a request they are written at
  once. ``phi_read`` is the decorator form for views whose URL names the patient.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, insert, text

from backoffice import clock
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.services_base import is_postgres, service

P = ParamSpec("P")
R = TypeVar("R")

PHI_ACTIONS = ("phi_view", "pdf", "export")
_PENDING = "_audit_phi_reads"


def _request_origin() -> tuple[str | None, str | None]:
    """The route (endpoint) and the client address of the current request, if any, as an audit row holds them."""
    if not has_request_context():
        return None, None
    return (request.endpoint or request.path)[:120], (request.remote_addr or None)


def audit_event(
    *,
    action: str,
    user: Any = None,
    now: datetime | None = None,
    organization_id: int | None = None,
    target_type: str | None = None,
    target_id: object = None,
    practice_id: int | None = None,
    patient_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one audit row to the session (the caller commits). Route and address come from the request, if any."""
    row = AuditEvent(**_row_values(action=action, user=user, now=now or clock.utcnow(),
                                   organization_id=organization_id, target_type=target_type, target_id=target_id,
                                   practice_id=practice_id, patient_id=patient_id, data=data,
                                   origin=_request_origin()))  # fmt: skip
    db.session.add(row)
    return row


def _row_values(
    *,
    action: str,
    user: Any,
    now: datetime,
    origin: tuple[str | None, str | None],
    organization_id: int | None = None,
    target_type: str | None = None,
    target_id: object = None,
    practice_id: int | None = None,
    patient_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if organization_id is None:
        organization_id = getattr(user, "organization_id", None)
    return {
        "organization_id": organization_id,
        "user_id": getattr(user, "id", None),
        "at": now,
        "action": action[:40],
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id)[:64],
        "practice_id": practice_id,
        "patient_id": patient_id,
        "endpoint": origin[0],
        "remote_addr": origin[1],
        "data": dict(data or {}),
    }


@service
def record_event(**kwargs: Any) -> AuditEvent:
    """``audit_event`` in a transaction of its own (sign-in, sign-out, CLI admin actions)."""
    row = audit_event(**kwargs)
    db.session.commit()
    return row


def record_phi_read(
    *,
    patient_id: int | None,
    practice_id: int | None,
    action: str = "phi_view",
    target_type: str | None = None,
    target_id: object = None,
    user: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Log that the signed-in user is being shown patient ``patient_id``'s data (action phi_view, pdf or export).

    In a request the row is written after the view succeeds (status < 400), once per patient, target and
    action; outside a request it is written now.
    """
    if action not in PHI_ACTIONS:
        raise ValueError(f"action: expected one of {PHI_ACTIONS}")
    entry = {
        "action": action,
        "patient_id": patient_id,
        "practice_id": practice_id,
        "target_type": target_type,
        "target_id": target_id,
        "data": data,
    }
    if not has_request_context():
        record_event(user=user, **entry)
        return
    pending: dict[tuple[Any, ...], dict[str, Any]] = g.setdefault(_PENDING, {})
    key = (action, patient_id, practice_id, target_type, target_id, repr(data))
    pending.setdefault(key, entry)


def record_phi_reads(entries: Iterable[tuple[int | None, int | None]], *, action: str = "export", **kw: Any) -> None:
    """``record_phi_read`` for many (patient_id, practice_id) pairs, e.g. the rows of a CSV export."""
    for patient_id, practice_id in dict.fromkeys(entries):
        record_phi_read(patient_id=patient_id, practice_id=practice_id, action=action, **kw)


def phi_read(
    patient_of: Callable[..., tuple[int | None, int | None]], action: str = "phi_view"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a view: ``patient_of(**view_kwargs)`` gives (patient_id, practice_id) to log for the request."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            result = fn(*args, **kwargs)
            patient_id, practice_id = patient_of(**kwargs)
            record_phi_read(patient_id=patient_id, practice_id=practice_id, action=action)
            return result

        return wrapper

    return decorate


def _flush_phi_reads(response: Any) -> Any:
    """Write the PHI reads a request noted, if it succeeded, in one multi-row INSERT (a queue page names up to a
    hundred patients: one row each, but not one ORM object each); a failure to write the trail fails the request."""
    pending = g.pop(_PENDING, None)
    if not pending or response.status_code >= 400:
        return response
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    now, origin = clock.utcnow(), _request_origin()
    rows = [_row_values(user=user, now=now, origin=origin, **entry) for entry in pending.values()]
    if is_postgres():
        _insert_unnest(rows)
    else:
        db.session.execute(insert(AuditEvent.__table__), rows)
    db.session.commit()
    return response


# PostgreSQL: the rows as one array per column, unnested: one short statement whatever the number of rows (a
# multi-row VALUES list of a hundred rows is eleven hundred parameters psycopg rewrites on every request).
_UNNEST = text(
    "INSERT INTO audit_events (organization_id, user_id, at, action, target_type, target_id, practice_id, patient_id, "
    "endpoint, remote_addr, data) SELECT :organization_id, :user_id, :at, r.action, r.target_type, r.target_id, "
    "r.practice_id, r.patient_id, :endpoint, :remote_addr, CAST(r.data AS JSON) FROM unnest(CAST(:action AS "
    "VARCHAR[]), CAST(:target_type AS VARCHAR[]), CAST(:target_id AS VARCHAR[]), CAST(:practice_id AS INTEGER[]), "
    "CAST(:patient_id AS INTEGER[]), CAST(:data AS TEXT[])) AS r(action, target_type, target_id, practice_id, "
    "patient_id, data)"
).bindparams(bindparam("at", type_=AuditEvent.__table__.c.at.type))


def _insert_unnest(rows: list[dict[str, Any]]) -> None:
    """The rows of one request (same user, time and route) in one INSERT … SELECT FROM unnest(…)."""
    first = rows[0]
    shared = ("organization_id", "user_id", "at", "endpoint", "remote_addr")
    values: dict[str, Any] = {key: first[key] for key in shared}
    for key in ("action", "target_type", "target_id", "practice_id", "patient_id"):
        values[key] = [row[key] for row in rows]
    values["data"] = [json.dumps(row["data"]) for row in rows]
    db.session.execute(_UNNEST, values)


def init_app(app: Flask) -> None:
    app.after_request(_flush_phi_reads)
