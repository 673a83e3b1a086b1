"""The onboarding part of the OpenAPI document (merged by backoffice/api/openapi.py): schemas and paths."""

from __future__ import annotations

from typing import Any

from backoffice.onboarding.rules import OWNABLE_STEPS
from backoffice.orgs.rules import PayerKind

READ, WRITE = "admin:read", "admin:write"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _op(scope: str, operation_id: str, summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    responses = {**responses, "401": _json(_ref("Error"), "Missing, unknown or revoked token"),
                 "403": _json(_ref("Error"), "The token lacks the scope, or its user is not an admin")}  # fmt: skip
    return {"operationId": operation_id, "summary": summary, "security": [{"bearerToken": [scope]}],
            "description": f"Requires the `{scope}` scope.", "responses": responses, **extra}  # fmt: skip


REFUSED = _json(_ref("FieldsRefused"), "Bad input: every field (and array row) named; nothing was written")
DUPLICATE = _json(_ref("Error"), "Duplicate: the slug / payer ID / email is taken")
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
TEXT = {"type": ["string", "null"]}
ADDRESS = {
    "type": "object", "additionalProperties": False, "required": ["line1", "city", "state", "zip"],
    "properties": {"line1": {"type": "string"}, "line2": TEXT, "city": {"type": "string"},
                   "state": {"type": "string", "pattern": "^[A-Z]{2}$"},
                   "zip": {"type": "string", "pattern": "^[0-9]{5}([0-9]{4})?$"}},
}  # fmt: skip
DAYS = {"type": ["integer", "string"], "description": "whole days, 1 to 3650"}

SCHEMAS: dict[str, Any] = {
    "FieldError": {
        "type": "object", "required": ["field", "message"],
        "properties": {"row": {"type": ["integer", "null"], "description": "1-based index in the array, if any"},
                       "field": {"type": "string"}, "message": {"type": "string"}},
    },
    "FieldsRefused": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}, "errors": {"type": "array", "items": _ref("FieldError")}},
    },
    "PracticeInput": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": {"type": "string"}, "slug": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
            "npi": {"type": "string", "description": "group (type 2) NPI with a valid check digit"},
            "tin": {"type": "string", "pattern": "^[0-9]{9}$"}, "taxonomy": TEXT,
            "time_zone": {"type": "string", "description": "IANA, e.g. America/New_York"}, "phone": TEXT,
            "address": ADDRESS, "pay_to": {"oneOf": [ADDRESS, {"type": "null"}]},
            "owned_steps": {"type": "array", "items": {"enum": list(OWNABLE_STEPS)}},
            "sla_overrides": {"type": "object", "additionalProperties": {"type": "integer"}},
            "clearinghouse": {"enum": ["sandbox", "file_drop"]}, "edi_outbox": TEXT, "edi_inbox": TEXT,
        },
    },
    "Practice": {
        "type": "object", "required": ["id", "name", "slug", "npi", "tin", "time_zone", "address", "active"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "slug": {"type": "string"},
                       "npi": {"type": "string"}, "tin": {"type": "string"}, "taxonomy": TEXT,
                       "time_zone": {"type": "string"}, "phone": TEXT, "address": {"type": "object"},
                       "pay_to": {"type": ["object", "null"]}, "owned_steps": {"type": "array"},
                       "sla_overrides": {"type": "object"}, "clearinghouse": {"type": "string"},
                       "active": {"type": "boolean"}},
    },
    "PayerInput": {
        "type": "object", "additionalProperties": False,
        "required": ["payer_id", "name", "kind", "filing_limit_days", "appeal_window_days"],
        "properties": {
            "payer_id": {"type": "string"}, "name": {"type": "string"},
            "kind": {"enum": [k.value for k in PayerKind]},
            "filing_limit_days": DAYS, "corrected_claim_window_days": DAYS, "appeal_window_days": DAYS,
            "clearinghouse_payer_ids": {"type": "array", "items": {"type": "string"}},
            "claims_address": TEXT, "appeals_address": TEXT, "appeals_fax": TEXT, "appeals_portal": TEXT,
            "phone": TEXT, "prior_auth_cpts": {"type": "array", "items": {"type": "string"}},
            "telehealth_policy": {"type": "object"},
            "coding_policy": {"type": "object"},
            "enrollment_required_837": {"type": "boolean", "description": "default true (false for self_pay)"},
            "enrollment_required_270": {"type": "boolean"}, "enrollment_required_835": {"type": "boolean"},
            "active": {"type": "boolean"},
        },
    },
    "Payer": {
        "type": "object", "required": ["id", "payer_id", "name", "kind", "filing_limit_days", "appeal_window_days",
                                       "enrollment_required_837", "enrollment_required_270",
                                       "enrollment_required_835", "active"],
        "properties": {"id": {"type": "integer"}, "payer_id": {"type": "string"}, "name": {"type": "string"},
                       "kind": {"enum": [k.value for k in PayerKind]}, "filing_limit_days": {"type": "integer"},
                       "corrected_claim_window_days": {"type": ["integer", "null"]},
                       "appeal_window_days": {"type": "integer"}, "enrollment_required_837": {"type": "boolean"},
                       "enrollment_required_270": {"type": "boolean"}, "enrollment_required_835": {"type": "boolean"},
                       "active": {"type": "boolean"}},
    },
    "FeeSchedule": {
        "type": "object", "required": ["fees"],
        "properties": {"fees": {"type": "array", "items": {
            "type": "object", "required": ["cpt", "charge"], "additionalProperties": False,
            "properties": {"cpt": {"type": "string"}, "modifier": {"type": "string", "description": "blank only"},
                           "charge": {"type": "string", "description": "a positive amount such as 150.00"}}}}},
    },
    "ContractedRates": {
        "type": "object", "required": ["rates"],
        "properties": {"rates": {"type": "array", "items": {
            "type": "object", "required": ["payer_id", "cpt", "allowed", "effective_from"],
            "additionalProperties": False,
            "properties": {"payer_id": {"type": "string"}, "cpt": {"type": "string"}, "modifier": {"type": "string"},
                           "allowed": {"type": "string", "description": "not negative, such as 98.50"},
                           "effective_from": {"type": "string", "format": "date"},
                           "effective_to": {"type": ["string", "null"], "format": "date"}}}}},
    },
    "UserInput": {
        "type": "object", "additionalProperties": False, "required": ["email", "name", "role"],
        "properties": {"email": {"type": "string"}, "name": {"type": "string"},
                       "role": {"enum": ["biller", "supervisor", "admin"]},
                       "practices": {"type": "array", "items": {"type": "string"}, "description": "slugs"},
                       "queues": {"type": "array", "items": {"type": "string"}},
                       "skills": {"type": "array", "items": {"type": "string"}},
                       "password": {"type": "string", "description": "an initial password the user must change at "
                                    "first sign-in; omit it to get a one-time set_password_url"}},
    },
    "User": {
        "type": "object", "required": ["id", "email", "name", "role", "practices", "active"],
        "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "name": {"type": "string"},
                       "role": {"type": "string"}, "practices": {"type": "array", "items": {"type": "string"}},
                       "queues": {"type": "array"}, "skills": {"type": "array"}, "active": {"type": "boolean"},
                       "password_change_required": {"type": "boolean"}, "set_password_url": {"type": "string"}},
    },
}  # fmt: skip

PATHS: dict[str, Any] = {
    "/practices": {
        "get": _op(READ, "listPractices", "The practices you may see",
                   {"200": _json({"type": "object", "properties": {"practices": {"type": "array",
                                                                                "items": _ref("Practice")}}},
                                 "The practices")}),
        "post": _op(WRITE, "createPractice", "Create a practice",
                    {"201": _json(_ref("Practice"), "Created"), "409": DUPLICATE, "422": REFUSED},
                    requestBody=_body(_ref("PracticeInput"))),
    },
    "/practices/{slug}": {
        "patch": _op(WRITE, "updatePractice", "Change some of a practice's fields",
                     {"200": _json({"type": "object", "properties": {"practice": _ref("Practice"),
                                                                     "changed": {"type": "array"}}}, "Saved"),
                      "404": _json(_ref("Error"), "No such practice"), "409": DUPLICATE, "422": REFUSED},
                     parameters=[SLUG], requestBody=_body(_ref("PracticeInput"))),
    },
    "/payers": {
        "get": _op(READ, "listPayers", "The payer directory",
                   {"200": _json({"type": "object", "properties": {"payers": {"type": "array",
                                                                             "items": _ref("Payer")}}}, "Payers")}),
        "post": _op(WRITE, "createPayer", "Add a payer to the directory",
                    {"201": _json(_ref("Payer"), "Created"), "409": DUPLICATE, "422": REFUSED},
                    requestBody=_body(_ref("PayerInput"))),
    },
    "/practices/{slug}/fee-schedule": {
        "put": _op(WRITE, "putFeeSchedule", "Replace a practice's fee schedule (all or nothing)",
                   {"200": _json({"type": "object", "properties": {"fees": {"type": "array"},
                                                                   "changed": {"type": "array"}}}, "Saved"),
                    "404": _json(_ref("Error"), "No such practice"), "422": REFUSED},
                   parameters=[SLUG], requestBody=_body(_ref("FeeSchedule"))),
    },
    "/practices/{slug}/contracted-rates": {
        "put": _op(WRITE, "putContractedRates", "Replace a practice's contracted rates (all or nothing)",
                   {"200": _json({"type": "object", "properties": {"rates": {"type": "array"},
                                                                   "added": {"type": "integer"},
                                                                   "changed": {"type": "integer"},
                                                                   "removed": {"type": "integer"}}}, "Saved"),
                    "404": _json(_ref("Error"), "No such practice"), "422": REFUSED},
                   parameters=[SLUG], requestBody=_body(_ref("ContractedRates"))),
    },
    "/users": {
        "post": _op(WRITE, "createUser", "Add a user (initial password or one-time set-password link)",
                    {"201": _json(_ref("User"), "Created"), "409": DUPLICATE, "422": REFUSED},
                    requestBody=_body(_ref("UserInput"))),
    },
}  # fmt: skip
