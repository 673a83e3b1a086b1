"""In a real browser: an admin of an organization that requires two-step sign-in enrols with a TOTP code from the
QR page, signs out, signs in with a code, and a recovery code works once."""

from __future__ import annotations

import re

import pyotp
from flask import Flask
from sqlalchemy import select

from backoffice import clock
from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from tests import factories as f
from tests.browser import shot, sign_in


def _code(secret: str) -> str:
    return pyotp.TOTP(secret).at(clock.utcnow())  # the live server runs in this process: same pinned clock


def _sign_out(page) -> None:  # noqa: ANN001
    page.click("header .who button[type=submit]")
    page.wait_for_selector("text=Signed out.")


def test_an_admin_enrols_signs_in_with_a_code_and_a_recovery_code_works_once(app: Flask, page, clock_pin) -> None:  # noqa: ANN001
    with app.app_context():
        org = f.make_org(mfa_required_roles=["admin", "supervisor"])
        admin_id = f.make_user(org, role="admin", email="admin@example.test", name="Sam Admin").id

    sign_in(page, "admin@example.test")
    assert page.url.endswith("/login/enrol")
    qr = page.locator("img.qr")
    assert qr.get_attribute("src").startswith("data:image/svg+xml")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the CSP lets the QR code show
    secret = page.inner_text("#mfa-secret").replace(" ", "")
    shot(page, "mfa-1-enrol")
    page.fill("input[name=code]", _code(secret))
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=Your recovery codes")
    codes = re.findall(r"[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}", page.inner_text("ul.recovery-codes"))
    assert len(codes) == 10
    shot(page, "mfa-2-recovery-codes")
    page.click("text=I saved them: continue")
    page.wait_for_selector("text=Sam Admin")
    _sign_out(page)

    clock_pin.advance(seconds=30)  # a new code (each is good once)
    sign_in(page, "admin@example.test")
    assert page.url.endswith("/login/code")
    page.fill("input[name=code]", _code(secret))
    page.click("button[type=submit].primary")
    page.wait_for_selector("text=Sam Admin")
    assert page.url.endswith("/queue")
    _sign_out(page)

    for attempt in ("first", "second"):
        sign_in(page, "admin@example.test")
        page.fill("input[name=code]", codes[0])
        page.click("button[type=submit].primary")
        page.wait_for_load_state()
        if attempt == "first":
            page.wait_for_selector("text=Recovery code used: 9 left")
            shot(page, "mfa-3-recovery-code-used")
            _sign_out(page)
        else:
            page.wait_for_selector("text=That code is not right (or was already used).")
            assert page.url.endswith("/login/code")
            shot(page, "mfa-4-recovery-code-refused")

    with app.app_context():
        assert db.session.get(User, admin_id).mfa_enrolled
        actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["mfa_enrol", "login", "logout", "mfa_use", "login", "logout", "mfa_use", "login", "logout",
                       "mfa_failed"]  # fmt: skip
