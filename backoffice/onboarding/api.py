"""Onboarding over /api/v1 (scopes admin:read / admin:write): practices, the payer directory, fee schedules,
contracted rates and users. JSON in and out; 201 with the created object; 422 naming every bad field (and array
row); 409 on a duplicate. The routes join the API blueprint when this module is imported (by the app factory)."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, url_for
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.api.rules import ADMIN_READ, ADMIN_WRITE
from backoffice.api.views import _body, _user, bp, requires
from backoffice.clock import utcnow
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.onboarding import people, services
from backoffice.onboarding.rules import FieldError, Refused
from backoffice.orgs.models import Payer, Practice

ADDRESS_KEYS = {"line1": "address_line1", "line2": "address_line2", "city": "city", "state": "state", "zip": "zip_code"}
PAY_TO_KEYS = {"line1": "pay_to_line1", "city": "pay_to_city", "state": "pay_to_state", "zip": "pay_to_zip_code"}
PRACTICE_KEYS = ("name", "slug", "npi", "tin", "taxonomy", "time_zone", "phone", "owned_steps", "sla_overrides",
                 "clearinghouse", "edi_outbox", "edi_inbox")  # fmt: skip


# The columns of a practice's addresses as the API names them (the objects ``address`` and ``pay_to``).
API_FIELD = {**{column: f"address.{key}" for key, column in ADDRESS_KEYS.items()},
             **{column: f"pay_to.{key}" for key, column in PAY_TO_KEYS.items()}}  # fmt: skip


@bp.errorhandler(Refused)
def _refused(error: Refused) -> tuple[Any, int]:
    named = [FieldError(API_FIELD.get(e.field, e.field), e.message, e.row) for e in error.errors]
    found = [{"row": e.row, "field": e.field, "message": e.message} for e in named]
    return jsonify(error=str(Refused(named, error.what)), errors=found), 422


def practice_json(p: Practice) -> dict[str, Any]:
    return {
        "id": p.id, "name": p.name, "slug": p.slug, "npi": p.group_npi, "tin": p.tax_id, "taxonomy": p.taxonomy,
        "time_zone": p.timezone, "phone": p.phone,
        "address": {"line1": p.address_line1, "line2": p.address_line2, "city": p.city, "state": p.state,
                    "zip": p.zip_code},
        "pay_to": ({"line1": p.pay_to_line1, "city": p.pay_to_city, "state": p.pay_to_state, "zip": p.pay_to_zip_code}
                   if p.pay_to_line1 else None),
        "owned_steps": list(p.owned_steps or []), "sla_overrides": dict(p.sla_overrides or {}),
        "clearinghouse": p.clearinghouse, "active": p.active,
    }  # fmt: skip


def payer_json(p: Payer) -> dict[str, Any]:
    return {
        "id": p.id, "payer_id": p.payer_id, "name": p.name, "kind": p.kind.value,
        "filing_limit_days": p.filing_limit_days, "corrected_claim_window_days": p.corrected_claim_window_days,
        "appeal_window_days": p.appeal_window_days, "clearinghouse_payer_ids": list(p.clearinghouse_payer_ids or []),
        "claims_address": p.claims_address, "appeals_address": p.appeals_address, "appeals_fax": p.appeals_fax,
        "appeals_portal": p.appeals_portal, "phone": p.phone, "prior_auth_cpts": list(p.prior_auth_cpts or []),
        "telehealth_policy": dict(p.telehealth_policy or {}), "coding_policy": dict(p.coding_policy or {}),
        "enrollment_required_837": p.enrollment_required_837,
        "enrollment_required_270": p.enrollment_required_270, "enrollment_required_835": p.enrollment_required_835,
        "active": p.active,
    }  # fmt: skip


def user_json(u: User) -> dict[str, Any]:
    return {
        "id": u.id, "email": u.email, "name": u.name, "role": u.role.value,
        "practices": sorted(p.slug for p in u.practices), "queues": list(u.queues or []),
        "skills": list(u.skills or []), "active": u.active, "password_change_required": u.password_change_required,
    }  # fmt: skip


def _practice_values(body: dict[str, Any]) -> dict[str, Any]:
    """The body's fields under the names onboarding.rules takes; an address object is flattened."""
    unknown = sorted(set(body) - {*PRACTICE_KEYS, "address", "pay_to"})
    if unknown:
        raise Refused([FieldError(key, "unknown field") for key in unknown], "practice")
    values = {key: body[key] for key in PRACTICE_KEYS if key in body}
    for name, keys in (("address", ADDRESS_KEYS), ("pay_to", PAY_TO_KEYS)):
        block = body.get(name)
        if block is None:
            continue
        if not isinstance(block, dict):
            raise Refused([FieldError(name, "expected an object")], "practice")
        bad = sorted(set(block) - set(keys))
        if bad:
            raise Refused([FieldError(f"{name}.{key}", "unknown field") for key in bad], "practice")
        values.update({column: block[key] for key, column in keys.items() if key in block})
    return values


def _practice_or_404(slug: str) -> Practice:
    practice = db.session.scalar(select(Practice).where(Practice.slug == slug))
    if practice is None or practice.id not in practice_ids_for(_user()):
        abort(404)
    return practice


def _reader() -> User:
    """The token's user, if they may read the setup (supervisors and admins, as on the pages)."""
    user = _user()
    if not can_supervise(user):
        raise NotAllowed("only supervisors and admins can read the setup")
    return user


def _list(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    records = body.get(key)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise Refused([FieldError(key, "expected an array of objects")], key)
    return records


@bp.get("/practices")
@requires(ADMIN_READ)
def list_practices() -> Any:
    """The practices the token's user may see."""
    rows = db.session.scalars(
        select(Practice).where(Practice.id.in_(practice_ids_for(_reader()))).order_by(Practice.slug)
    )
    return jsonify(practices=[practice_json(p) for p in rows])


@bp.post("/practices")
@requires(ADMIN_WRITE)
def post_practice() -> Any:
    user = _user()
    practice = services.create_practice(organization_id=user.organization_id, values=_practice_values(_body()),
                                        actor=user, now=utcnow())  # fmt: skip
    return jsonify(practice_json(practice)), 201


@bp.patch("/practices/<slug>")
@requires(ADMIN_WRITE)
def patch_practice(slug: str) -> Any:
    practice = _practice_or_404(slug)
    changes = services.update_practice(practice=practice, values=_practice_values(_body()), actor=_user(), now=utcnow())
    return jsonify(practice=practice_json(practice), changed=sorted(changes))


@bp.get("/payers")
@requires(ADMIN_READ)
def list_payers() -> Any:
    rows = db.session.scalars(select(Payer).where(Payer.organization_id == _reader().organization_id)
                              .order_by(Payer.payer_id))  # fmt: skip
    return jsonify(payers=[payer_json(p) for p in rows])


@bp.post("/payers")
@requires(ADMIN_WRITE)
def post_payer() -> Any:
    user = _user()
    payer = services.create_payer(organization_id=user.organization_id, values=_body(), actor=user, now=utcnow())
    return jsonify(payer_json(payer)), 201


@bp.put("/practices/<slug>/fee-schedule")
@requires(ADMIN_WRITE)
def put_fee_schedule(slug: str) -> Any:
    practice = _practice_or_404(slug)
    changes = services.replace_fee_schedule(practice=practice, records=_list(_body(), "fees"), actor=_user(),
                                            now=utcnow())  # fmt: skip
    return jsonify(fees=services.fee_records(practice), changed=sorted(changes))


@bp.put("/practices/<slug>/contracted-rates")
@requires(ADMIN_WRITE)
def put_contracted_rates(slug: str) -> Any:
    practice = _practice_or_404(slug)
    added, changed, removed = services.replace_contracted_rates(practice=practice, records=_list(_body(), "rates"),
                                                                actor=_user(), now=utcnow())  # fmt: skip
    return jsonify(rates=services.rate_records(practice), added=added, changed=changed, removed=removed)


@bp.post("/users")
@requires(ADMIN_WRITE)
def post_user() -> Any:
    user, body = _user(), _body()
    if user.role != Role.ADMIN:
        raise NotAllowed("only an admin can add users")
    for key in ("email", "name", "role"):
        if not isinstance(body.get(key), str):
            raise ValidationFailed(f"{key}: required, a string")
    for key in ("practices", "queues", "skills"):
        if not isinstance(body.get(key, []), list):
            raise ValidationFailed(f"{key}: expected an array of strings")
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise ValidationFailed("password: expected a string")
    created, token = people.invite_user(
        organization_id=user.organization_id, email=body["email"], name=body["name"], role=body["role"],
        practices=body.get("practices", []), queues=body.get("queues", []), skills=body.get("skills", []),
        password=password or None, actor=user, now=utcnow(),
    )  # fmt: skip
    result = user_json(created)
    if token:
        result["set_password_url"] = url_for("onboarding.set_password", token=token, _external=True)
    return jsonify(result), 201
