"""The authorization matrix: every endpoint in ``app.url_map`` × every role × own / sibling / foreign practice.

``EXPECT`` has one line per endpoint: who may reach it, which URL arguments name a seeded object (whose practice
matters) or a constant, and whether it is the JSON API (bearer tokens, 401) or a page (302 to /login). An endpoint
in the URL map without a line fails ``test_every_endpoint_has_a_declared_expectation``: add its line here.

Scopes: ``own`` is the biller's practice; ``sibling`` is another practice of the same organization (billers do
not serve it, supervisors and admins see it); ``foreign`` belongs to another organization (nobody here sees it).
An object out of scope is a 404, never a 200 or a 403 that would confirm it exists.

The ``practice`` role (issue 20) is a user of the own practice: it reaches its account and the client portal
(``PORTAL``) and nothing else (403 on every route of the company, 404 for a sibling's or a foreign request).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer
from sqlalchemy import select

from backoffice.api.services import issue_token
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.balances.models import GoodFaithEstimate, PatientStatement, PaymentPlan
from backoffice.clearinghouse.models import Connection
from backoffice.contracts.models import Invoice
from backoffice.documents import services as document_services
from backoffice.documents.models import Document
from backoffice.exchange.models import EdiFile
from backoffice.extensions import db
from backoffice.portal import services as portal_services
from backoffice.routing.models import RoutingRule
from backoffice.safe_worker import SimpleWorker
from backoffice.supervisor.models import WriteOffRequest
from backoffice.tasks import get_queue, get_redis, job_meta
from backoffice.work import chains
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.factories_edi_posting import make_claim

BILLER, SUPERVISOR, ADMIN, PRACTICE = "biller", "supervisor", "admin", "practice"
ROLES = (BILLER, SUPERVISOR, ADMIN, PRACTICE)
ALL = frozenset({BILLER, SUPERVISOR, ADMIN})  # the billing company's staff
EVERYONE = ALL | {PRACTICE}
PORTAL = frozenset({PRACTICE})
SUP = frozenset({SUPERVISOR, ADMIN})
ADM = frozenset({ADMIN})
SCOPES = ("own", "sibling", "foreign")
API_SCOPES = [
    "sessions:write",
    "work:read",
    "work:write",
    "claims:read",
    "admin:read",
    "admin:write",
    "appointments:write",
]


@dataclass(frozen=True)
class Rule:
    """Who may reach an endpoint. ``roles=None``: public. ``args``: URL argument → object kind or ``=constant``."""

    roles: frozenset[str] | None
    args: Mapping[str, str] = field(default_factory=dict)
    api: bool = False
    ok: int = 200  # what an allowed GET answers
    signed_in: int | None = None  # what a public GET answers a signed-in user, when not ``ok``

    @property
    def has_object(self) -> bool:
        return any(not kind.startswith("=") for kind in self.args.values())


ITEM = {"item_id": "item"}
APPEAL = {"appeal_id": "appeal"}
PATIENT = {"patient_id": "patient"}
PLAN = {"plan_id": "plan"}
TEMPLATE = {"template_id": "template"}
CLAIM = {"claim_id": "claim"}
SLUG = {"slug": "practice_slug"}
PAYER = {"payer_id": "payer"}

EXPECT: dict[str, Rule] = {
    # sign-in, static files, the API's document
    "accounts.login": Rule(None, signed_in=302),  # a signed-in user goes on to the queue
    "accounts.second_factor": Rule(None, ok=302),  # without a right password just before: back to /login
    "accounts.enrol_at_sign_in": Rule(None, ok=302),
    "accounts.logout": Rule(EVERYONE),
    # the signed-in user's own account: password, two-step sign-in, sessions
    "accounts.account": Rule(EVERYONE),
    "accounts.password": Rule(EVERYONE),
    "accounts.enrol": Rule(EVERYONE),
    "accounts.new_recovery_codes": Rule(EVERYONE),
    "accounts.end_my_sessions": Rule(EVERYONE),
    "static": Rule(None, {"filename": "=app.css"}),
    "api.openapi": Rule(None, api=True),
    "healthz": Rule(None),  # load balancers: 200 or 503, no details
    # the JSON API (bearer tokens with every scope, acting as the token's user)
    "api.list_work_items": Rule(ALL, api=True),
    "api.claim_next": Rule(ALL, api=True),
    "api.complete": Rule(ALL, ITEM, api=True),
    "api.get_claim": Rule(ALL, {"claim_id": "claim"}, api=True),
    "api.post_sessions": Rule(ALL, api=True),
    "api.post_appointments": Rule(ALL, api=True),
    # work queue and item page
    "work.index": Rule(ALL, ok=302),
    "work.queue": Rule(ALL),
    "work.get_next": Rule(ALL),
    "work.item": Rule(ALL, ITEM),
    "work.start": Rule(ALL, ITEM),
    "work.complete": Rule(ALL, ITEM),
    "work.snooze": Rule(ALL, ITEM),
    "work.escalate": Rule(ALL, ITEM),
    "work.note": Rule(ALL, ITEM),
    "work.call": Rule(ALL, ITEM),
    "work.reassign": Rule(ALL, ITEM),  # billers may release their own item to the queue
    "work.supervisor": Rule(SUP),
    # item-page forms
    "itemforms.benefits": Rule(ALL, ITEM),
    "itemforms.check_eligibility": Rule(ALL, ITEM),
    "itemforms.authorization": Rule(ALL, ITEM),
    "itemforms.lines": Rule(ALL, ITEM),
    "itemforms.scrub": Rule(ALL, ITEM),
    # supervisor screens and write-offs (dual control: billers request, supervisors decide)
    "supervisor.bulk_reassign": Rule(SUP),
    "supervisor.bulk_reassign_confirm": Rule(SUP),
    "supervisor.breaches": Rule(SUP),
    "supervisor.write_offs": Rule(SUP),
    "supervisor.decide_write_off": Rule(SUP, {"request_id": "write_off"}),
    "supervisor.request_write_off": Rule(ALL, ITEM),
    "routing.rules": Rule(SUP),
    "routing.new_rule": Rule(SUP),
    "routing.edit_rule": Rule(SUP, {"rule_id": "routing_rule"}),
    "routing.preview": Rule(SUP, {"rule_id": "routing_rule"}),
    "routing.set_active": Rule(SUP, {"rule_id": "routing_rule"}),
    "routing.move": Rule(SUP, {"rule_id": "routing_rule"}),
    "routing.person": Rule(SUP, {"user_id": "user"}),
    "reports.index": Rule(SUP),
    "reports.table_csv": Rule(SUP, {"name": "=aging_practice"}),
    "reports.month_end_page": Rule(SUP),
    "reports.month_end_csv": Rule(SUP, {"name": "=rollforward"}),
    "reports.month_end_drill": Rule(SUP, {"figure": "=charges"}),
    "reports.month_end_drill_csv": Rule(SUP, {"figure": "=charges"}),
    "reports.client_page": Rule(SUP),
    "reports.client_pdf": Rule(SUP, {"practice_id": "practice", "month": "=2026-11"}),
    "money.patient_payments": Rule(ALL, PATIENT),
    "money.receipt": Rule(ALL, {"payment_id": "=0"}, ok=404),  # no payment 0: a 404 for everyone
    "money.credits": Rule(ALL),
    "money.request_patient_refund": Rule(ALL, PATIENT),
    "money.request_payer_refund": Rule(ALL, {"claim_id": "claim"}),
    "money.decide": Rule(ALL, {"request_id": "=0"}),
    "money.post": Rule(ALL, {"request_id": "=0"}),
    "money.deposits_page": Rule(ALL),
    # appeals
    "claims.index": Rule(ALL),
    "claims.detail": Rule(ALL, CLAIM),
    "claims.correct": Rule(ALL, CLAIM),
    "claims.replace": Rule(ALL, CLAIM),
    "claims.void": Rule(ALL, CLAIM),
    "claims.fix_coverage": Rule(ALL, CLAIM),
    "claims.rebill": Rule(ALL, CLAIM),
    "appeals.index": Rule(ALL),
    "appeals.detail": Rule(ALL, APPEAL),
    "appeals.pdf": Rule(ALL, APPEAL),
    "appeals.save_letter": Rule(ALL, APPEAL),
    "appeals.regenerate": Rule(ALL, APPEAL),
    "appeals.mark_sent": Rule(ALL, APPEAL),
    "appeals.outcome": Rule(ALL, APPEAL),
    "appeals.next_level": Rule(ALL, APPEAL),
    "appeals.withdraw": Rule(ALL, APPEAL),
    "appeals.draft_for_item": Rule(ALL, ITEM),
    "appeals.report": Rule(SUP),
    "appeals.report_csv": Rule(SUP),
    "appeals.templates": Rule(SUP),
    "appeals.new_template": Rule(SUP),  # GET for supervisors (read-only form); POST: admins (see POST_ROLES)
    "appeals.edit_template": Rule(SUP, TEMPLATE),
    "appeals.toggle_template": Rule(ADM, TEMPLATE),
    # patient balances, plans, estimates, statements
    "balances.index": Rule(ALL),
    "balances.patient": Rule(ALL, PATIENT),
    "balances.determine": Rule(ALL, PATIENT),
    "balances.create_plan": Rule(ALL, PATIENT),
    "balances.waive": Rule(ALL, PATIENT),
    "balances.create_gfe": Rule(ALL, PATIENT),
    "balances.create_statement": Rule(ALL, PATIENT),
    "balances.pay": Rule(ALL, PLAN),
    "balances.pause": Rule(ALL, PLAN),
    "balances.resume": Rule(ALL, PLAN),
    "balances.issue_gfe": Rule(ALL, {"gfe_id": "gfe"}),
    "balances.gfe_pdf": Rule(ALL, {"gfe_id": "gfe"}),
    "balances.statement_pdf": Rule(ALL, {"statement_id": "statement"}),
    "balances.sliding_scale": Rule(SUP, {"practice_id": "practice"}),
    "contracts.invoices": Rule(SUP),
    "contracts.close": Rule(SUP),
    "contracts.invoice": Rule(SUP, {"invoice_id": "invoice"}),
    "contracts.move": Rule(SUP, {"invoice_id": "invoice"}),
    "contracts.credit": Rule(SUP, {"invoice_id": "invoice"}),
    "contracts.invoice_pdf": Rule(SUP, {"invoice_id": "invoice"}),
    "contracts.invoice_csv": Rule(SUP, {"invoice_id": "invoice"}),
    "contracts.contract": Rule(SUP, {"practice_id": "practice"}),
    "documents.upload": Rule(ALL),
    "documents.download": Rule(ALL, {"document_id": "document"}),
    "documents.appeal_packet": Rule(ALL, {"appeal_id": "appeal"}),
    "remits.index": Rule(ALL),
    "remits.era": Rule(ALL),
    "remits.eob_lookup": Rule(ALL, ok=302),  # finds the claim by account number, then its EOB page
    "remits.paper_eob": Rule(ALL, {"claim_id": "claim"}),
    # An unmatched payment belongs to no practice (it matched no claim): organization-scoped, no seeded object.
    "remits.apply": Rule(ALL, {"payment_id": "=0"}),
    "remits.apply_lines": Rule(ALL, {"payment_id": "=0"}, ok=404),  # payment 0 does not exist
    "balances.charge_self_pay": Rule(ALL, ITEM),
    # admin
    "automation.overview": Rule(ADM),
    "automation.retry": Rule(ADM, {"job_id": "job"}),  # a real failed RQ job of each scope's organization
    "clearinghouse.connections": Rule(ADM),
    "clearinghouse.edit_connection": Rule(ADM, {"connection_id": "connection"}),
    "clearinghouse.exchange": Rule(SUP),
    "clearinghouse.poll_now": Rule(SUP, {"connection_id": "connection"}),
    "clearinghouse.report": Rule(SUP, {"edi_file_id": "report"}),
    "audit.index": Rule(ADM),
    "audit.export": Rule(ADM),
    "users.index": Rule(ADM),
    "users.sign_out": Rule(ADM, {"user_id": "user"}),
    "users.reset_mfa": Rule(ADM, {"user_id": "user"}),
    "users.set_active": Rule(ADM, {"user_id": "user"}),
    "users.mfa_policy": Rule(ADM),
    # credentialing (issue 16): supervisors read, admins change (POST_ROLES)
    "credentialing.index": Rule(SUP),
    "credentialing.providers": Rule(SUP, {"slug": "practice_slug"}),
    "credentialing.edit_provider": Rule(SUP, {"slug": "practice_slug", "provider_id": "provider"}),
    "credentialing.providers_csv": Rule(SUP, {"slug": "practice_slug"}),
    "credentialing.import_csv": Rule(ADM, {"slug": "practice_slug"}),
    "credentialing.enrollments": Rule(SUP, {"slug": "practice_slug"}),
    "coverage.page": Rule(ALL, PATIENT),
    "coverage.demographics": Rule(ALL, PATIENT),
    "coverage.add_coverage": Rule(ALL, PATIENT),
    "api.list_providers": Rule(SUP, {"slug": "practice_slug"}, api=True),
    "api.post_provider": Rule(ADM, {"slug": "practice_slug"}, api=True),
    "api.list_enrollments": Rule(SUP, {"slug": "practice_slug"}, api=True),
    "api.post_enrollment": Rule(ADM, {"slug": "practice_slug"}, api=True),
    # onboarding: the setup pages (supervisors read, admins change), its files, and its API
    "onboarding.index": Rule(SUP),
    "onboarding.organization": Rule(SUP),
    "onboarding.practices": Rule(SUP),
    "onboarding.new_practice": Rule(SUP),
    "onboarding.practice": Rule(SUP, SLUG),
    "onboarding.practice_active": Rule(ADM, SLUG),
    "onboarding.fees": Rule(SUP, SLUG),
    "onboarding.fees_csv": Rule(SUP, SLUG),
    "onboarding.fees_upload": Rule(ADM, SLUG),
    "onboarding.rates": Rule(SUP, SLUG),
    "onboarding.rates_csv": Rule(SUP, SLUG),
    "onboarding.rates_upload": Rule(ADM, SLUG),
    "onboarding.payers": Rule(SUP),
    "onboarding.payers_csv": Rule(SUP),
    "onboarding.payers_upload": Rule(ADM),
    "onboarding.new_payer": Rule(SUP),
    "onboarding.payer": Rule(SUP, PAYER),
    "onboarding.payer_active": Rule(ADM, PAYER),
    "onboarding.invite": Rule(SUP),
    "onboarding.edit_user": Rule(SUP, {"user_id": "user"}),
    "onboarding.deactivate": Rule(ADM, {"user_id": "user"}),
    "onboarding.reset_password": Rule(ADM, {"user_id": "user"}),
    "onboarding.set_password": Rule(None, {"token": "=not-a-token"}, ok=302),  # a bad link: back to sign-in
    "api.list_practices": Rule(SUP, api=True),
    "api.post_practice": Rule(ADM, api=True),
    "api.patch_practice": Rule(ADM, SLUG, api=True),
    "api.list_payers": Rule(SUP, api=True),
    "api.post_payer": Rule(ADM, api=True),
    "api.put_fee_schedule": Rule(ADM, SLUG, api=True),
    "api.put_contracted_rates": Rule(ADM, SLUG, api=True),
    "api.post_user": Rule(ADM, api=True),
    # the client portal (practice users only) and the staff's requests to the practice
    "portal.dashboard": Rule(PORTAL),
    "portal.claims": Rule(PORTAL),
    "portal.sessions": Rule(PORTAL),
    "portal.upload_document": Rule(PORTAL),
    "portal.document": Rule(PORTAL, {"document_id": "request_document"}),
    "portal.inbox": Rule(PORTAL),
    "portal.request_page": Rule(PORTAL, {"request_id": "request"}),
    "portal.invoice_pdf": Rule(PORTAL, {"invoice_id": "issued_invoice"}),
    "portal.report": Rule(PORTAL),
    "portal.report_pdf": Rule(PORTAL, {"practice_id": "practice", "month": "=2026-11"}),  # B's: 404
    "portal.appointments": Rule(PORTAL),
    # the appointments screen (the company's staff; scoped to their practices)
    "appointments.index": Rule(ALL),
    "practice_requests.send": Rule(ALL, ITEM),
}

# Where a POST is narrower than the GET of the same endpoint.
POST_ROLES: dict[str, frozenset[str]] = {
    "appeals.new_template": ADM,
    "appeals.edit_template": ADM,
    "credentialing.providers": ADM,
    "credentialing.edit_provider": ADM,
    "credentialing.enrollments": ADM,
} | {
    f"onboarding.{name}": ADM
    for name in (
        "organization",
        "new_practice",
        "practice",
        "fees",
        "rates",
        "new_payer",
        "payer",
        "invite",
        "edit_user",
    )
}
# POSTs whose allowed answer is a 404 although the role may use them (the constant argument names nothing).
# documents.upload: the target is in the form, a bare POST names nothing; remits.apply: payment 0 does not exist.
POST_OK_404: set[str] = {"documents.upload", "remits.apply", "money.decide", "money.post"}
# Allowed POSTs that sign someone out or deactivate them: run after every other, so they take nobody's session early.
SIGNS_OUT = {
    "accounts.logout",
    "accounts.end_my_sessions",
    "accounts.password",
    "users.sign_out",
    "users.reset_mfa",
    "users.set_active",
    "onboarding.deactivate",
    "onboarding.edit_user",
    "onboarding.practice_active",
    "onboarding.payer_active",
}  # fmt: skip (also the onboarding posts that take a biller's practice away)


@dataclass
class World:
    """Ids of one object of each kind per scope, the users of the first organization, and their API tokens."""

    objects: dict[str, dict[str, Any]]
    emails: dict[str, str]
    tokens: dict[str, str]


def _request(practice: Any, claim: Any, requester: Any) -> tuple[int, int]:
    """A request to the practice (with the biller's file) from a denial of the claim: (request id, document id)."""
    origin, _ = chains.add_item(practice_id=practice.id, kind="work_denial", now=NOW, reason="CO-50", claim_id=claim.id)
    request = portal_services.send_request(origin=origin, actor=requester, now=NOW, request_type="signature",
                                           message="Sign the plan", upload=("plan.pdf", b"%PDF-1.4 test"))  # fmt: skip
    document = db.session.scalar(select(Document.id).where(Document.target_type == "item",
                                                           Document.target_id == request.work_item_id))  # fmt: skip
    return request.id, document


def _practice_objects(org: Any, practice: Any, requester: Any) -> dict[str, int]:
    payer = f.make_payer(org)
    patient = f.make_patient(practice, payer)
    session = f.make_session(practice, patient=patient)
    item = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW)[0]
    claim = make_claim(practice, patient)
    provider_id = session.provider_id
    rows: dict[str, Any] = {
        "appeal": Appeal(organization_id=org.id, practice_id=practice.id, claim_id=claim.id, payer_id=payer.id,
                         work_item_id=item.id, level=1, denial_family="medical_necessity", letter="To the payer",
                         amount=Decimal("150.00"), deadline=date(2027, 5, 1), status="draft", created_at=NOW,
                         updated_at=NOW),
        "gfe": GoodFaithEstimate(practice_id=practice.id, patient_id=patient.id, provider_id=provider_id,
                                 covers_from=date(2026, 12, 1), covers_to=date(2027, 11, 30), lines=[],
                                 diagnosis_codes=["F33.1"], total=Decimal("1200.00"), due_on=date(2026, 12, 1),
                                 state="draft", created_at=NOW),
        "statement": PatientStatement(practice_id=practice.id, patient_id=patient.id, period_from=date(2026, 10, 1),
                                      period_to=date(2026, 10, 31), balance=Decimal("40.00"),
                                      due_on=date(2026, 12, 15), issued_on=date(2026, 11, 15), created_at=NOW),
        "plan": PaymentPlan(practice_id=practice.id, patient_id=patient.id, total=Decimal("300.00"),
                            instalment_count=3, first_due_on=(NOW + timedelta(days=10)).date(), state="active",
                            created_at=NOW),
        "invoice": Invoice(organization_id=org.id, practice_id=practice.id, kind="invoice",
                           number=f"INV-T{practice.id}", period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                           status="draft", total=Decimal("500.00"), created_at=NOW),
        "issued_invoice": Invoice(organization_id=org.id, practice_id=practice.id, kind="invoice",
                                  number=f"INV-A{practice.id}", period_start=date(2026, 9, 1),
                                  period_end=date(2026, 9, 30), status="approved", total=Decimal("400.00"),
                                  created_at=NOW, approved_at=NOW),
        "write_off": WriteOffRequest(organization_id=org.id, practice_id=practice.id, claim_id=claim.id,
                                     work_item_id=item.id, amount=Decimal("20.00"), reason="small_balance",
                                     state="pending", requested_by_id=requester.id, requested_at=NOW),
    }  # fmt: skip
    db.session.add_all(rows.values())
    db.session.commit()
    rows["document"] = document_services.attach(
        to=document_services.target("claim", claim.id, {practice.id}), filename="eob.pdf", data=b"%PDF-1.4 test",
        user=None, now=NOW)  # fmt: skip
    db.session.commit()
    ids: dict[str, Any] = {kind: row.id for kind, row in rows.items()}
    ids["request"], ids["request_document"] = _request(practice, claim, requester)
    return ids | {"item": item.id, "claim": claim.id, "patient": patient.id, "practice": practice.id,
                  "job": _failed_job(org.id), "practice_slug": practice.slug, "provider": provider_id,
                  "payer": payer.id}  # fmt: skip


def _failed_job(organization_id: int) -> str:
    """A job of the organization that really failed on a real RQ worker (RQ's queues are shared by every
    organization: the automation page and its Retry must tell them apart)."""
    conn = get_redis()
    queue = get_queue("default", conn)
    job = queue.enqueue("builtins.int", "not a number", meta=job_meta(organization_id))
    SimpleWorker([queue], connection=conn, serializer=JSONSerializer).work(burst=True)
    assert job.id in FailedJobRegistry(queue=queue)
    return job.id


def build_world(app: Flask) -> World:
    """Organization A (practices own and sibling, a biller serving own, a supervisor, an admin) and B (foreign)."""
    with app.app_context():
        org, other_org = f.make_org(), f.make_org()
        own, sibling, foreign = f.make_practice(org), f.make_practice(org), f.make_practice(other_org)
        users = {
            BILLER: f.make_user(org, practices=[own], email="biller@matrix.test", queues=["eligibility"]),
            SUPERVISOR: f.make_user(org, role=SUPERVISOR, email="supervisor@matrix.test"),
            ADMIN: f.make_user(org, role=ADMIN, email="admin@matrix.test"),
        }
        users[PRACTICE] = f.make_user(org, role=PRACTICE, practices=[own], email="practice@matrix.test")
        outsider = f.make_user(other_org, role=SUPERVISOR)
        objects = {
            "own": _practice_objects(org, own, users[BILLER]),
            "sibling": _practice_objects(org, sibling, users[BILLER]),
            "foreign": _practice_objects(other_org, foreign, outsider),
        }
        people = {"own": users[BILLER], "sibling": f.make_user(org, practices=[sibling]), "foreign": outsider}
        for scope, owner in (("own", org), ("sibling", org), ("foreign", other_org)):  # organization-level rows
            template = AppealTemplate(organization_id=owner.id, name=f"T {scope}", denial_family="medical_necessity",
                                      level=1, body="Dear payer", active=True, updated_at=NOW)  # fmt: skip
            routing_rule = RoutingRule(organization_id=owner.id, name=f"R {scope}", position=10, active=True,
                                       target_queue="eligibility", distribution="none", user_ids=[],
                                       created_at=NOW, updated_at=NOW)  # fmt: skip
            connection = Connection(
                organization_id=owner.id,
                name=f"C {scope}",
                kind="sandbox",
                profile="sandbox",
                usage="T",
                poll_minutes=5,
                timeout_seconds=5,
                active=True,
                created_at=NOW,
            )
            report = EdiFile(organization_id=owner.id, direction="inbound", kind="report", filename=f"{scope}.txt",
                             sha256=f"{scope:0>64}", status="report", summary={}, problems=[], created_at=NOW,
                             report_text="report")  # fmt: skip
            db.session.add_all([template, routing_rule, connection, report])
            db.session.commit()
            objects[scope] |= {"template": template.id, "routing_rule": routing_rule.id, "user": people[scope].id,
                               "connection": connection.id, "report": report.id}  # fmt: skip
        tokens = {role: issue_token(user=user, scopes=API_SCOPES, now=NOW)[1] for role, user in users.items()}
        return World(objects, {role: user.email for role, user in users.items()}, tokens)


def url_args(rule: Rule, world: World, scope: str) -> dict[str, Any]:
    return {name: kind[1:] if kind.startswith("=") else world.objects[scope][kind] for name, kind in rule.args.items()}


def build_url(app: Flask, endpoint: str, values: Mapping[str, Any]) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def signed_in_clients(app: Flask, world: World) -> dict[str | None, FlaskClient]:
    clients: dict[str | None, FlaskClient] = {None: app.test_client()}
    for role in ROLES:
        clients[role] = app.test_client()
        assert AuthActions(clients[role]).login(world.emails[role]).status_code == 302
    return clients


def csrf_tokens(clients: dict[str | None, FlaskClient]) -> dict[str | None, str]:
    return {role: csrf_token(client.get("/account" if role else "/login").text) for role, client in clients.items()}


def scopes_for(rule: Rule) -> tuple[str, ...]:
    return SCOPES if rule.has_object else ("own",)


def expected_get(rule: Rule, role: str | None, scope: str) -> set[int]:
    if rule.roles is None:
        return {rule.signed_in} if role is not None and rule.signed_in else {rule.ok}
    if role is None:
        return {401} if rule.api else {302}
    allowed = role in rule.roles
    if scope == "foreign" or (scope == "sibling" and role in (BILLER, PRACTICE)):
        return {404} if allowed else {403, 404}
    return {rule.ok} if allowed else {403}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|<style|\sstyle\s*=", re.IGNORECASE)


def _endpoints(app: Flask, method: str) -> list[tuple[str, str]]:
    found = set()
    for url_rule in app.url_map.iter_rules():
        if method in (url_rule.methods or set()):
            found.add((url_rule.endpoint, url_rule.rule))
    return sorted(found)


def test_every_endpoint_has_a_declared_expectation(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = sorted(endpoints - set(EXPECT))
    stale = sorted(set(EXPECT) - endpoints)
    assert not missing, f"add a line to EXPECT in {__name__} for: {missing}"
    assert not stale, f"EXPECT names endpoints that no longer exist: {stale}"
    for endpoint in endpoints:
        arguments = next(r.arguments for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        assert set(arguments) == set(EXPECT[endpoint].args), f"{endpoint}: URL arguments {sorted(arguments)}"


def test_every_get_route_answers_each_role_and_practice_as_declared(app: Flask) -> None:
    world = build_world(app)
    clients = signed_in_clients(app, world)
    wrong: list[str] = []
    checked = 0
    for endpoint, _ in _endpoints(app, "GET"):
        rule = EXPECT.get(endpoint)
        if rule is None:
            continue  # reported by test_every_endpoint_has_a_declared_expectation
        for scope in scopes_for(rule):
            url = build_url(app, endpoint, url_args(rule, world, scope))
            for role in (None, *ROLES):
                if rule.api:
                    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role else {}
                    response = clients[None].get(url, headers=headers)
                else:
                    response = clients[role].get(url)
                checked += 1
                want = expected_get(rule, role, scope)
                if response.status_code not in want:
                    wrong.append(f"GET {url} as {role or 'anonymous'} ({scope}): {response.status_code}, want {want}")
                elif (
                    role is None
                    and not rule.api
                    and rule.roles is not None
                    and not response.headers["Location"].startswith("/login")
                ):
                    wrong.append(f"GET {url} as anonymous: redirects to {response.headers['Location']}")
                if endpoint != "static" and response.headers.get("Cache-Control") != "no-store":
                    wrong.append(f"GET {url} as {role}: Cache-Control {response.headers.get('Cache-Control')!r}")
                if response.status_code == 200 and response.mimetype == "text/html":
                    inline = INLINE_SCRIPT.search(response.text)
                    if inline:
                        wrong.append(f"GET {url} as {role}: inline script or style {inline.group(0)!r} (CSP blocks it)")
    assert not wrong, f"{len(wrong)} of {checked} requests answered wrongly:\n" + "\n".join(wrong)


def test_every_post_route_refuses_anonymous_wrong_roles_and_other_practices(app: Flask) -> None:
    world = build_world(app)
    clients = signed_in_clients(app, world)
    tokens = csrf_tokens(clients)
    wrong: list[str] = []
    allowed: list[tuple[str, str, str, str]] = []
    for endpoint, _ in _endpoints(app, "POST"):
        rule = EXPECT.get(endpoint)
        if rule is None:
            continue
        roles = POST_ROLES.get(endpoint, rule.roles)
        for scope in scopes_for(rule):
            url = build_url(app, endpoint, url_args(rule, world, scope))
            for role in (None, *ROLES):
                visible = scope == "own" or (scope == "sibling" and role not in (BILLER, PRACTICE))
                if role is not None and visible and role in (roles or ALL):
                    allowed.append((endpoint, role, url, scope))  # last: these may change the world
                    continue
                if rule.api:
                    bearer = world.tokens[role] if role else "bo_not-a-token"
                    response = clients[None].post(url, json={}, headers={"Authorization": f"Bearer {bearer}"})
                else:
                    response = clients[role].post(url, data={"csrf_token": tokens[role]})
                if roles is None:
                    continue  # public: nothing to refuse (login's own tests cover it)
                if role is None:
                    want = {401} if rule.api else {302}
                elif not visible:
                    want = {404} if role in roles else {403, 404}
                else:
                    want = {403}
                if response.status_code not in want:
                    wrong.append(f"POST {url} as {role or 'anonymous'} ({scope}): {response.status_code}, want {want}")
                elif role is None and not rule.api and not response.headers["Location"].startswith("/login"):
                    wrong.append(f"POST {url} as anonymous: redirects to {response.headers['Location']}")
    allowed.sort(key=lambda entry: entry[0] in SIGNS_OUT)  # signing out last
    for endpoint, role, url, scope in allowed:
        rule = EXPECT[endpoint]
        if rule.api:
            response = clients[None].post(url, json={}, headers={"Authorization": f"Bearer {world.tokens[role]}"})
        else:
            response = clients[role].post(url, data={"csrf_token": tokens[role]})
        refused = {401, 403, 404, 405, 500} - ({404} if endpoint in POST_OK_404 else set())
        if response.status_code in refused:
            wrong.append(f"POST {url} as {role} ({scope}, allowed): {response.status_code}")
    assert not wrong, f"{len(wrong)} POSTs answered wrongly:\n" + "\n".join(wrong)


# Shared resources outside the database, and the endpoints that show them. RQ's queues are shared by every
# organization (the automation page and Retry filter by the job's organization: the matrix above posts Retry on a
# real failed job of each scope); no endpoint serves files from the instance folder (EDI files, the sandbox
# clearinghouse) or shows Prefect runs. A new endpoint that does must add its line and a scope test here.
SHARED_RESOURCES = {
    "rq_jobs": {"automation.overview", "automation.retry"},
    "instance_files": set(),
    # creates its own import's intake run (session ids only); shows none
    "prefect_runs": {"api.post_sessions", "portal.sessions"},
}


def test_an_admin_sees_the_rq_jobs_of_their_own_organization_only(app: Flask) -> None:
    world = build_world(app)
    clients = signed_in_clients(app, world)
    html = clients[ADMIN].get("/admin/automation").text
    assert world.objects["own"]["job"][:8] in html and world.objects["sibling"]["job"][:8] in html
    assert world.objects["foreign"]["job"][:8] not in html
    with app.app_context():
        assert world.objects["foreign"]["job"] in FailedJobRegistry(queue=get_queue("default", get_redis()))


def test_no_endpoint_serves_files_of_the_instance_folder_or_shows_prefect_runs(app: Flask) -> None:
    """Another organization's EDI file under the instance folder is reachable through no URL, and the only endpoint
    serving files (static) serves the package's own folder."""
    world = build_world(app)
    clients = signed_in_clients(app, world)
    secret = Path(app.instance_path) / "edi" / "sandbox" / "other-practice" / "inbox" / "claim.x12"
    secret.parent.mkdir(parents=True)
    secret.write_text("ISA*00*FOREIGN-ORGANIZATION-FILE~")
    serving = {rule.endpoint for rule in app.url_map.iter_rules() if {"filename", "path"} & set(rule.arguments)}
    assert serving == {"static"}
    assert not Path(app.static_folder).resolve().is_relative_to(Path(app.instance_path).resolve())
    for path in ("edi/sandbox/other-practice/inbox/claim.x12", "../instance/edi/sandbox/other-practice/inbox/claim.x12",
                 "..%2f..%2finstance%2fedi%2fsandbox%2fother-practice%2finbox%2fclaim.x12"):  # fmt: skip
        for role in (None, *ROLES):
            response = clients[role].get(f"/static/{path}")
            assert response.status_code == 404, (path, role)
            assert b"FOREIGN-ORGANIZATION-FILE" not in response.data
    for endpoint, function in app.view_functions.items():
        if not function.__module__.startswith("backoffice"):
            continue  # Flask's own static view: checked above
        module = sys.modules[function.__module__]
        source = inspect.getsource(module if module.__name__.endswith(".views") else function)
        assert "prefect" not in source.lower() or endpoint in SHARED_RESOURCES["prefect_runs"], endpoint
        assert "instance_path" not in source or endpoint in SHARED_RESOURCES["instance_files"], endpoint
