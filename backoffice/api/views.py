"""/api/v1: bearer-token JSON endpoints acting as the token's user (same practice scope and role).

Cookie sessions are never read here: a request without a valid bearer token is 401 even when signed in, and a
write without a bearer header is held to CSRF (400) like any form post. Token requests are exempt from CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, abort, current_app, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from backoffice.accounts.access import practice_ids_for
from backoffice.accounts.models import User
from backoffice.accounts.rules import STAFF_ROLES
from backoffice.api import rules
from backoffice.api.openapi import openapi_document
from backoffice.api.services import TokenExpired, authenticate_token
from backoffice.appointments import rules as appointment_rules
from backoffice.appointments.services import AppointmentsRefused, import_appointments
from backoffice.claims.models import Claim
from backoffice.clock import utcnow
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ServiceError, ValidationFailed
from backoffice.extensions import csrf, db
from backoffice.intake.dispatch import flow_server_url, plan_imported
from backoffice.orgs.models import Practice
from backoffice.sessions.rules import RowError
from backoffice.sessions.services import ImportRefused, import_sessions
from backoffice.work import queries
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.claiming import claim_next_item
from backoffice.work.models import WorkItem
from backoffice.work.services import complete_item

bp = Blueprint("api", __name__, url_prefix="/api/v1")
P = ParamSpec("P")
R = TypeVar("R")
ERROR_STATUS: dict[type[ServiceError], int] = {NotAllowed: 403, InvalidTransition: 409, Conflict: 409}


def _error(status: int, message: str, **extra: Any) -> tuple[Any, int]:
    return jsonify({"error": message, **extra}), status


def _http_error(error: HTTPException) -> tuple[Any, int]:
    status = error.code or 500
    limit = f"{current_app.config['MAX_CONTENT_LENGTH'] // (1024 * 1024)} MB"
    message = {404: "not found", 413: f"the request body is too large: the limit is {limit}"}.get(
        status, error.description or error.name
    )
    return _error(status, message)


# By code as well as by class: the app's HTML 403/404 handlers (by code) would otherwise win.
for _code in (400, 401, 403, 404, 405, 413, 415):
    bp.register_error_handler(_code, _http_error)
bp.register_error_handler(HTTPException, _http_error)


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> tuple[Any, int]:
    return _error(next((s for t, s in ERROR_STATUS.items() if isinstance(error, t)), 422), str(error))


@bp.before_request
def _csrf_unless_bearer() -> None:
    """A write without a bearer header can only be a browser riding a cookie: hold it to CSRF like any form."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and not rules.bearer_token(
        request.headers.get("Authorization")
    ):
        csrf.protect()


def requires(scope: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Authenticate the bearer token (401) and require ``scope`` (403); sets ``g.api_user``."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            token = rules.bearer_token(request.headers.get("Authorization"))
            try:
                row = authenticate_token(token=token, now=utcnow()) if token else None
            except TokenExpired as expired:
                abort(401, str(expired))
            if row is None:
                abort(401, "a valid bearer token is required (Authorization: Bearer <token>)")
            if scope not in row.scopes:
                abort(403, f"this token lacks the {scope} scope")
            if row.user.role not in STAFF_ROLES:
                abort(403, "a practice's users work in the client portal, not the API")
            g.api_user = row.user
            g.api_token_id = row.id
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def _user() -> User:
    return g.api_user


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None and not request.get_data():
        return {}
    if not isinstance(body, dict):
        abort(400, "the body must be a JSON object")
    return body


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str:
    return f"{value or Decimal('0'):.2f}"


def item_json(item: WorkItem) -> dict[str, Any]:
    """A work item as the API shows it (ids and workflow facts; no patient data)."""
    return {
        "id": item.id, "kind": item.kind, "queue": item.queue, "state": str(item.state), "mode": str(item.mode),
        "priority": item.priority, "practice_id": item.practice_id, "session_id": item.session_id,
        "claim_id": item.claim_id, "assignee_id": item.assignee_id, "due_at": _when(item.due_at),
        "created_at": _when(item.created_at), "started_at": _when(item.started_at),
        "completed_at": _when(item.completed_at),
    }  # fmt: skip


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API (public: it holds no data)."""
    return jsonify(openapi_document())


@bp.post("/sessions")
@requires(rules.SESSIONS_WRITE)
def post_sessions() -> Any:
    """Import sessions all-or-nothing with the CSV import's rules, then hand them to an intake flow run (or plan
    them here when the flow server is not reachable: ``intake.dispatch``)."""
    user, now = _user(), utcnow()
    rows, errors = rules.parse_records(_body().get("sessions"), today=now.date())
    served = set(db.session.scalars(select(Practice.slug).where(Practice.id.in_(practice_ids_for(user)))))
    errors += [RowError(r.row, "practice", f"no practice {r.practice!r} that you serve") for r in rows
               if r.practice not in served]  # fmt: skip
    try:
        if errors:
            raise ImportRefused(errors)
        result = import_sessions(rows=rows, organization_id=user.organization_id, now=now, actor=user, source="API")
    except ImportRefused as refused:
        found = [{"row": e.row, "column": e.column, "message": e.message} for e in refused.errors]
        return _error(422, str(refused), errors=found)
    dispatch = plan_imported(result.created, now=now, api_url=flow_server_url())
    planning = {"mode": dispatch.mode, "flow_run_id": dispatch.flow_run_id}
    return jsonify(created=result.created, unchanged=result.unchanged, planned_items=dispatch.items,
                   planning=planning, coverage_changes=result.coverage_changes), 201  # fmt: skip


@bp.post("/appointments")
@requires(rules.APPOINTMENTS_WRITE)
def post_appointments() -> Any:
    """Import upcoming appointments (or their cancellations and no-shows) all-or-nothing with the CSV's rules;
    their eligibility is checked N business days before each visit."""
    user, now = _user(), utcnow()
    rows, errors = appointment_rules.parse_records(_body().get("appointments"), today=now.date())
    served = set(db.session.scalars(select(Practice.slug).where(Practice.id.in_(practice_ids_for(user)))))
    errors += [RowError(r.row, "practice", f"no practice {r.practice!r} that you serve") for r in rows
               if r.practice not in served]  # fmt: skip
    try:
        if errors:
            raise AppointmentsRefused(errors)
        result = import_appointments(rows=rows, organization_id=user.organization_id, now=now, actor=user,
                                     source="API")  # fmt: skip
    except AppointmentsRefused as refused:
        found = [{"row": e.row, "column": e.column, "message": e.message} for e in refused.errors]
        return _error(422, str(refused), errors=found)
    return jsonify(created=result.created, updated=result.updated, unchanged=result.unchanged,
                   cancelled=result.cancelled, no_shows=result.no_shows, fees=len(result.fees)), 201  # fmt: skip


@bp.get("/work-items")
@requires(rules.WORK_READ)
def list_work_items() -> Any:
    """The user's open items and the team items waiting in their queues; filters: kind, queue."""
    user, kind, queue = _user(), request.args.get("kind"), request.args.get("queue")
    mine = [i for i in queries.my_items(user) if (not queue or i.queue == queue)]
    team = queries.team_items(user, queue=queue)
    if kind:
        mine, team = [i for i in mine if i.kind == kind], [i for i in team if i.kind == kind]
    return jsonify(mine=[item_json(i) for i in mine], team=[item_json(i) for i in team])


@bp.post("/work-items/next")
@requires(rules.WORK_WRITE)
def claim_next() -> Any:
    """Claim and start the most urgent item the user may work (``item`` is null when none is left)."""
    queue = _body().get("queue")
    if queue is not None and not isinstance(queue, str):
        raise ValidationFailed("queue: expected a string")
    item = claim_next_item(user=_user(), now=utcnow(), queue=queue or None)
    return jsonify(item=item_json(item) if item else None)


@bp.post("/work-items/<int:item_id>/complete")
@requires(rules.WORK_WRITE)
def complete(item_id: int) -> Any:
    """Finish an item with an outcome and an optional note; returns the items it released."""
    user, body = _user(), _body()
    item = get_item_for_user_or_404(item_id, user)
    outcome, note = body.get("outcome", "resolved"), body.get("note")
    if not isinstance(outcome, str) or not (note is None or isinstance(note, str)):
        raise ValidationFailed("outcome and note: expected strings")
    released = complete_item(item=item, actor=user, now=utcnow(), outcome=outcome, note=note)
    return jsonify(item=item_json(item), released=[i.id for i in released])


@bp.get("/claims/<int:claim_id>")
@requires(rules.CLAIMS_READ)
def get_claim(claim_id: int) -> Any:
    """A claim's status and amounts, within the user's practices (404 otherwise)."""
    claim = db.session.get(Claim, claim_id)
    if claim is None or claim.practice_id not in practice_ids_for(_user()):
        abort(404)
    return jsonify(
        id=claim.id, practice_id=claim.practice_id, session_id=claim.session_id, account_number=claim.account_number,
        status=str(claim.status), status_category=claim.status_category, status_at=_when(claim.status_at),
        payer_claim_number=claim.payer_claim_number, total_charge=_money(claim.total_charge),
        paid_amount=_money(claim.paid_amount), adjustment_amount=_money(claim.adjustment_amount),
        patient_responsibility=_money(claim.patient_responsibility), submitted_at=_when(claim.submitted_at),
        adjudicated_at=_when(claim.adjudicated_at),
    )  # fmt: skip
