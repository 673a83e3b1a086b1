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

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, g, has_request_context, request
from flask_login import current_user

from backoffice import clock
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.services_base import service

P = ParamSpec("P")
R = TypeVar("R")

PHI_ACTIONS = ("phi_view", "pdf", "export")
_PENDING = "_audit_phi_reads"


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
    user_id = getattr(user, "id", None)
    if organization_id is None:
        organization_id = getattr(user, "organization_id", None)
    row = AuditEvent(
        organization_id=organization_id,
        user_id=user_id,
        at=now or clock.utcnow(),
        action=action[:40],
        target_type=target_type,
        target_id=None if target_id is None else str(target_id)[:64],
        practice_id=practice_id,
        patient_id=patient_id,
        endpoint=(request.endpoint or request.path)[:120] if has_request_context() else None,
        remote_addr=(request.remote_addr or None) if has_request_context() else None,
        data=dict(data or {}),
    )
    db.session.add(row)
    return row


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
    pending: list[dict[str, Any]] = g.setdefault(_PENDING, [])
    if entry not in pending:
        pending.append(entry)


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
    """Write the PHI reads a request noted, if it succeeded; a failure to write the trail fails the request."""
    pending = g.pop(_PENDING, None)
    if not pending or response.status_code >= 400:
        return response
    user = g.get("api_user") or (current_user if current_user.is_authenticated else None)
    now = clock.utcnow()
    for entry in pending:
        audit_event(user=user, now=now, **entry)
    db.session.commit()
    return response


def init_app(app: Flask) -> None:
    app.after_request(_flush_phi_reads)
