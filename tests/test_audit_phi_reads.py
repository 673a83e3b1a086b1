"""Every page that shows a patient's data writes a PHI-read audit event (HIPAA 164.312(b)), enumerated from the URL
map: each GET endpoint is opened by each role on the seeded objects, and any response that contains a seeded
patient's name must have added an audit row for that request's endpoint, user and patient."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import func, select

from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.patients.models import Patient
from tests.test_authorization_matrix import (
    EXPECT,
    ROLES,
    build_url,
    build_world,
    scopes_for,
    signed_in_clients,
    url_args,
)


def _latest_id() -> int:
    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def test_every_page_showing_a_patient_logs_who_saw_which_patient(app: Flask) -> None:
    world = build_world(app)
    clients = signed_in_clients(app, world)
    with app.app_context():
        names = {p.last_name: p.id for p in db.session.scalars(select(Patient))}
    unlogged: list[str] = []
    shown = 0
    for url_rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        rule = EXPECT.get(url_rule.endpoint)
        if "GET" not in (url_rule.methods or set()) or rule is None or rule.api or rule.roles is None:
            continue
        for scope in scopes_for(rule):
            url = build_url(app, url_rule.endpoint, url_args(rule, world, scope))
            for role in ROLES:
                with app.app_context():
                    before = _latest_id()
                response = clients[role].get(url)
                if response.status_code != 200 or not response.mimetype.startswith("text/"):
                    continue  # PDFs are compressed: their views are checked by their own tests
                patients = {pid for name, pid in names.items() if re.search(rf"\b{name}\b", response.text)}
                if not patients:
                    continue
                shown += 1
                with app.app_context():
                    logged = set(
                        db.session.scalars(
                            select(AuditEvent.patient_id).where(
                                AuditEvent.id > before,
                                AuditEvent.endpoint == url_rule.endpoint,
                                AuditEvent.action.in_(("phi_view", "pdf", "export")),
                            )
                        )
                    )
                if patients - logged:
                    unlogged.append(f"GET {url} as {role} shows patient(s) {sorted(patients - logged)} unlogged")
    assert shown >= 3, "no page showed a seeded patient: the check checked nothing"
    assert not unlogged, "pages show patients without an audit row (call record_phi_read):\n" + "\n".join(unlogged)
