"""/api/v1/practices/{slug}/providers and /enrollments (scopes admin:read / admin:write; the token's user must be an
admin to write, an admin or supervisor to read). Routes join the API blueprint when the app imports this module."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from backoffice.accounts.access import can_supervise, is_admin
from backoffice.api.rules import ADMIN_READ, ADMIN_WRITE
from backoffice.api.views import _body, _user, bp, requires
from backoffice.clock import utcnow
from backoffice.credentialing import access, queries
from backoffice.credentialing.models import Enrollment
from backoffice.credentialing.records import enrollment_record, provider_as_record, provider_record
from backoffice.credentialing.services import create_provider, provider_input, save_enrollment
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.orgs.models import Provider


def provider_json(provider: Provider) -> dict[str, Any]:
    """A provider as the API shows it: the import's columns plus its id."""
    return {"id": provider.id, **provider_as_record(provider_input(provider)), "active": provider.active}


def enrollment_json(row: Enrollment) -> dict[str, Any]:
    def day(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id, "provider_npi": row.provider.npi, "payer_id": row.payer.payer_id, "status": str(row.status),
        "submitted_on": day(row.submitted_on), "effective_from": day(row.effective_from),
        "terminated_on": day(row.terminated_on), "payer_provider_id": row.payer_provider_id,
        "revalidation_due": day(row.revalidation_due), "caqh_reattestation_due": day(row.caqh_reattestation_due),
    }  # fmt: skip


def _reader() -> None:
    if not can_supervise(_user()):
        raise NotAllowed("only admins and supervisors may read the practice set-up")


def _writer() -> None:
    if not is_admin(_user()):
        raise NotAllowed("only admins may change the practice set-up")


@bp.get("/practices/<slug>/providers")
@requires(ADMIN_READ)
def list_providers(slug: str) -> Any:
    """The practice's providers (active and inactive)."""
    _reader()
    practice = access.get_practice_or_404(slug, _user())
    return jsonify(providers=[provider_json(p) for p in queries.providers_of(practice)])


@bp.post("/practices/<slug>/providers")
@requires(ADMIN_WRITE)
def post_provider(slug: str) -> Any:
    """Add a provider: 201 with it, 422 naming the field, 409 when its NPI is already in the practice."""
    _writer()
    user, now = _user(), utcnow()
    practice = access.get_practice_or_404(slug, user)
    data, errors = provider_record(_body(), row=0, today=now.date())
    if data is None:
        first = errors[0]
        return jsonify(error=f"{first.column}: {first.message}", field=first.column,
                       errors=[{"field": e.column, "message": e.message} for e in errors]), 422  # fmt: skip
    provider = create_provider(practice=practice, data=data, actor=user, now=now)
    return jsonify(provider_json(provider)), 201


@bp.get("/practices/<slug>/enrollments")
@requires(ADMIN_READ)
def list_enrollments(slug: str) -> Any:
    """The practice's enrolments, provider × payer."""
    _reader()
    practice = access.get_practice_or_404(slug, _user())
    return jsonify(enrollments=[enrollment_json(e) for e in queries.enrollments_of(practice)])


@bp.post("/practices/<slug>/enrollments")
@requires(ADMIN_WRITE)
def post_enrollment(slug: str) -> Any:
    """Create (201) or update (200) the enrolment of ``provider_npi`` with ``payer_id``; an effective one releases
    the claims held for it. 422 names the field."""
    _writer()
    user, now, body = _user(), utcnow(), _body()
    practice = access.get_practice_or_404(slug, user)
    provider = access.provider_by_npi(practice, body.get("provider_npi"))
    payer = access.payer_by_code(practice, body.get("payer_id"))
    try:
        data = enrollment_record(body, today=now.date())
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    existed = queries.enrollment_for(provider.id, payer.id) is not None
    row = save_enrollment(practice=practice, provider=provider, payer=payer, data=data, actor=user, now=now)
    return jsonify(enrollment_json(row)), 200 if existed else 201
