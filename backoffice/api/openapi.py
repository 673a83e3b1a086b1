"""The OpenAPI 3.1 document of /api/v1, built as a plain dict (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from backoffice.api.rules import SCOPES
from backoffice.appointments.rules import COLUMNS as APPOINTMENT_COLUMNS
from backoffice.appointments.rules import OPTIONAL_COLUMNS as APPOINTMENT_OPTIONAL
from backoffice.onboarding import openapi as onboarding
from backoffice.sessions.rules import COLUMNS, OPTIONAL_COLUMNS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _secured(scope: str, operation: dict[str, Any]) -> dict[str, Any]:
    """An operation that needs a bearer token with ``scope`` (adds the 401/403 answers)."""
    operation["security"] = [{"bearerToken": [scope]}]
    operation["description"] = (operation.get("description", "") + f" Requires the `{scope}` scope.").strip()
    operation["responses"]["401"] = _error("Missing, unknown or revoked token")
    operation["responses"]["403"] = _error("The token lacks the scope")
    return operation


ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "RowError": {
        "type": "object", "required": ["row", "column", "message"],
        "properties": {"row": {"type": "integer", "description": "1-based index in `sessions` (0: the whole body)"},
                       "column": {"type": "string"}, "message": {"type": "string"}},
    },
    "ImportRefused": {
        "type": "object", "required": ["error", "errors"],
        "properties": {"error": {"type": "string"}, "errors": {"type": "array", "items": _ref("RowError")}},
    },
    "SessionRecord": {
        "type": "object", "additionalProperties": False,
        "description": "One session with the CSV import's columns and rules (docs/import-format.md).",
        "required": [c for c in COLUMNS if c not in ("start_time", "em_code", "interactive_complexity", "screenings",
                                                      "auth_number", "member_id")],
        "properties": {c: {"type": ["string", "integer", "null"]} for c in (*COLUMNS, *OPTIONAL_COLUMNS)},
    },
    "AppointmentRecord": {
        "type": "object", "additionalProperties": False,
        "description": "One appointment with the appointment CSV's columns and rules (README \"Appointments\"): "
                       "scheduled_start is YYYY-MM-DD HH:MM at the practice; status scheduled (default), cancelled "
                       "or no_show; cancelled_at only for a cancellation.",
        "required": [c for c in APPOINTMENT_COLUMNS if c != "member_id"],
        "properties": {c: {"type": ["string", "null"]} for c in (*APPOINTMENT_COLUMNS, *APPOINTMENT_OPTIONAL)},
    },
    "AppointmentsImport": {
        "type": "object", "required": ["appointments"],
        "properties": {"appointments": {"type": "array", "minItems": 1, "items": _ref("AppointmentRecord")}},
    },
    "AppointmentsImported": {
        "type": "object", "required": ["created", "updated", "unchanged"],
        "properties": {
            "created": {"type": "array", "items": {"type": "integer"}},
            "updated": {"type": "array", "items": {"type": "integer"},
                        "description": "rescheduled, changed, cancelled or marked no-show"},
            "unchanged": {"type": "integer"}, "cancelled": {"type": "integer"}, "no_shows": {"type": "integer"},
            "fees": {"type": "integer", "description": "late-cancel / no-show fees charged to self-pay patients"},
        },
    },
    "SessionsImport": {
        "type": "object", "required": ["sessions"],
        "properties": {"sessions": {"type": "array", "minItems": 1, "items": _ref("SessionRecord")}},
    },
    "SessionsImported": {
        "type": "object", "required": ["created", "unchanged", "planned_items", "planning"],
        "properties": {
            "created": {"type": "array", "items": {"type": "integer"}},
            "unchanged": {"type": "integer"},
            "planned_items": {"type": "integer", "description": "items planned in this request (inline planning)"},
            "coverage_changes": {"type": "array", "items": {"type": "string"},
                                 "description": "each row that replaced a patient's coverage of a priority, and how"},
            "planning": {
                "type": "object", "required": ["mode", "flow_run_id"],
                "description": "flow: an intake flow run plans the new sessions; inline: planned here (Prefect "
                               "not reachable); none: nothing new",
                "properties": {"mode": {"enum": ["flow", "inline", "none"]},
                               "flow_run_id": {"type": ["string", "null"]}},
            },
        },
    },
    "WorkItem": {
        "type": "object",
        "required": ["id", "kind", "queue", "state", "mode", "priority", "practice_id"],
        "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "queue": {"type": "string"},
            "state": {"type": "string"}, "mode": {"type": "string"}, "priority": {"type": "integer"},
            "practice_id": {"type": "integer"}, "session_id": {"type": ["integer", "null"]},
            "claim_id": {"type": ["integer", "null"]}, "assignee_id": {"type": ["integer", "null"]},
            "due_at": NULLABLE_TIME, "created_at": NULLABLE_TIME, "started_at": NULLABLE_TIME,
            "completed_at": NULLABLE_TIME,
        },
    },
    "WorkItems": {
        "type": "object", "required": ["mine", "team"],
        "properties": {"mine": {"type": "array", "items": _ref("WorkItem")},
                       "team": {"type": "array", "items": _ref("WorkItem")}},
    },
    "Claimed": {"type": "object", "required": ["item"], "properties": {"item": {"oneOf": [_ref("WorkItem"),
                                                                                           {"type": "null"}]}}},
    "Completion": {
        "type": "object",
        "properties": {"outcome": {"type": "string", "enum": ["resolved", "not_needed", "handed_off"]},
                       "note": {"type": "string"}},
    },
    "Completed": {
        "type": "object", "required": ["item", "released"],
        "properties": {"item": _ref("WorkItem"), "released": {"type": "array", "items": {"type": "integer"}}},
    },
    "Claim": {
        "type": "object",
        "required": ["id", "status", "account_number", "total_charge", "paid_amount"],
        "properties": {
            "id": {"type": "integer"}, "practice_id": {"type": "integer"}, "session_id": {"type": ["integer", "null"]},
            "account_number": {"type": "string"}, "status": {"type": "string"},
            "status_category": {"type": ["string", "null"], "description": "The last 277 category code (A1, F1…)"},
            "status_at": NULLABLE_TIME, "payer_claim_number": {"type": ["string", "null"]},
            "total_charge": MONEY, "paid_amount": MONEY, "adjustment_amount": MONEY,
            "patient_responsibility": MONEY, "submitted_at": NULLABLE_TIME, "adjudicated_at": NULLABLE_TIME,
        },
    },
}  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """The whole document; every route of the blueprint appears under ``paths``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "backoffice API", "version": "1.0.0",
                 "description": "Per-user bearer tokens (`backoffice users token`), scoped; a token acts as its user."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer",
                                                "description": "Scopes: " + ", ".join(SCOPES)}},
            "schemas": {**SCHEMAS, **onboarding.SCHEMAS},
        },
        "paths": {
            "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                      "responses": {"200": {"description": "The OpenAPI document",
                                                            "content": {"application/json": {}}}}}},
            "/sessions": {"post": _secured("sessions:write", {
                "operationId": "importSessions", "summary": "Import sessions, all or nothing",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SessionsImport")}}},
                "responses": {"201": _json(_ref("SessionsImported"), "Imported; work chains planned"),
                              "400": _error("The body is not a JSON object"),
                              "413": _error("The body is larger than the upload limit (16 MB by default)"),
                              "422": _json(_ref("ImportRefused"), "Nothing was imported")},
            })},
            "/appointments": {"post": _secured("appointments:write", {
                "operationId": "importAppointments", "summary": "Import upcoming appointments, all or nothing",
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("AppointmentsImport")}}},
                "responses": {"201": _json(_ref("AppointmentsImported"), "Imported"),
                              "400": _error("The body is not a JSON object"),
                              "422": _json(_ref("ImportRefused"), "Nothing was imported")},
            })},
            "/work-items": {"get": _secured("work:read", {
                "operationId": "listWorkItems", "summary": "My open items and my queues' waiting items",
                "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string"}},
                               {"name": "queue", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _json(_ref("WorkItems"), "The items")},
            })},
            "/work-items/next": {"post": _secured("work:write", {
                "operationId": "claimNextWorkItem", "summary": "Claim and start the most urgent item",
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"queue": {"type": "string"}}}}}},
                "responses": {"200": _json(_ref("Claimed"), "The claimed item, or null when none is left"),
                              "400": _error("The body is not a JSON object"),
                              "409": _error("Too much contention; try again"),
                              "422": _error("Invalid input")},
            })},
            "/work-items/{item_id}/complete": {"post": _secured("work:write", {
                "operationId": "completeWorkItem", "summary": "Finish an item with an outcome",
                "parameters": [ITEM_ID],
                "requestBody": {"required": False, "content": {"application/json": {"schema": _ref("Completion")}}},
                "responses": {"200": _json(_ref("Completed"), "Completed; released items listed"),
                              "400": _error("The body is not a JSON object"),
                              "404": _error("No such item in your practices"),
                              "409": _error("The item is not in a state that can be completed"),
                              "422": _error("Invalid outcome or note")},
            })},
            "/claims/{claim_id}": {"get": _secured("claims:read", {
                "operationId": "getClaim", "summary": "A claim's status and amounts",
                "parameters": [{"name": "claim_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": _json(_ref("Claim"), "The claim"),
                              "404": _error("No such claim in your practices")},
            })},
            **credentialing_paths(),
            **onboarding.PATHS,
        },
    }  # fmt: skip


# --- providers and payer enrolment (issue 16) ---

SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
DAY = {"type": ["string", "null"], "format": "date"}
SCHEMAS.update({
    "RefusedField": {"type": "object", "required": ["error"],
                   "properties": {"error": {"type": "string", "description": "`field: why`"},
                                  "field": {"type": "string"}, "errors": {"type": "array"}}},
    "ProviderInput": {
        "type": "object", "required": ["first_name", "last_name", "npi", "credential", "taxonomy"],
        "properties": {
            "first_name": {"type": "string"}, "last_name": {"type": "string"},
            "npi": {"type": "string", "pattern": "^1[0-9]{9}$", "description": "Individual (type 1) NPI, check digit"},
            "credential": {"type": "string", "enum": ["MD", "DO", "NP", "PA", "PhD", "PsyD", "LCSW", "LPC", "LMFT",
                                                      "LMHC"]},
            "taxonomy": {"type": "string"}, "license_type": {"type": ["string", "null"]},
            "license_number": {"type": ["string", "null"]}, "license_state": {"type": ["string", "null"]},
            "license_expires_on": DAY, "active_from": DAY, "active_to": DAY,
            "supervising_npi": {"type": ["string", "null"],
                                "description": "An associate's supervisor: active, licensed, same practice"},
            "active": {"type": ["boolean", "string"]},
        },
    },
    "Provider": {"type": "object", "required": ["id", "npi", "first_name", "last_name", "credential", "active"],
                 "properties": {"id": {"type": "integer"}, "npi": {"type": "string"}, "first_name": {"type": "string"},
                                "last_name": {"type": "string"}, "credential": {"type": "string"},
                                "taxonomy": {"type": "string"}, "supervising_npi": {"type": "string"},
                                "active": {"type": "boolean"}}},
    "Providers": {"type": "object", "required": ["providers"],
                  "properties": {"providers": {"type": "array", "items": {"$ref": "#/components/schemas/Provider"}}}},
    "EnrollmentInput": {
        "type": "object", "required": ["provider_npi", "payer_id", "status"],
        "properties": {
            "provider_npi": {"type": "string"}, "payer_id": {"type": "string"},
            "status": {"type": "string", "enum": ["not_started", "submitted", "pending", "effective", "denied",
                                                  "terminated"]},
            "effective_from": DAY, "submitted_on": DAY, "terminated_on": DAY,
            "payer_provider_id": {"type": ["string", "null"]}, "revalidation_due": DAY, "caqh_reattestation_due": DAY,
        },
    },
    "Enrollment": {"type": "object", "required": ["id", "provider_npi", "payer_id", "status"],
                   "properties": {"id": {"type": "integer"}, "provider_npi": {"type": "string"},
                                  "payer_id": {"type": "string"}, "status": {"type": "string"},
                                  "effective_from": DAY, "submitted_on": DAY, "terminated_on": DAY,
                                  "payer_provider_id": {"type": ["string", "null"]}, "revalidation_due": DAY,
                                  "caqh_reattestation_due": DAY}},
    "Enrollments": {"type": "object", "required": ["enrollments"],
                    "properties": {"enrollments": {"type": "array",
                                                   "items": {"$ref": "#/components/schemas/Enrollment"}}}},
})  # fmt: skip


def credentialing_paths() -> dict[str, Any]:
    """The providers and enrolment endpoints of a practice."""
    not_found = _error("No such practice among yours")
    return {
        "/practices/{slug}/providers": {
            "get": _secured("admin:read", {
                "operationId": "listProviders", "summary": "A practice's providers", "parameters": [SLUG],
                "responses": {"200": _json(_ref("Providers"), "The providers"), "404": not_found}}),
            "post": _secured("admin:write", {
                "operationId": "createProvider", "summary": "Add a provider (admins)", "parameters": [SLUG],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ProviderInput")}}},
                "responses": {"201": _json(_ref("Provider"), "Created"), "404": not_found,
                              "409": _error("A provider with this NPI is already in the practice"),
                              "422": _json(_ref("RefusedField"), "Refused; the message names the field")}}),
        },
        "/practices/{slug}/enrollments": {
            "get": _secured("admin:read", {
                "operationId": "listEnrollments", "summary": "A practice's payer enrolments", "parameters": [SLUG],
                "responses": {"200": _json(_ref("Enrollments"), "The enrolments"), "404": not_found}}),
            "post": _secured("admin:write", {
                "operationId": "saveEnrollment", "parameters": [SLUG],
                "summary": "Create (201) or update (200) an enrolment; effective releases held claims",
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("EnrollmentInput")}}},
                "responses": {"200": _json(_ref("Enrollment"), "Updated"), "201": _json(_ref("Enrollment"), "Created"),
                              "404": not_found, "422": _error("Refused; the message names the field")}}),
        },
    }  # fmt: skip
