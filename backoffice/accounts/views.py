"""Sign in (password, then a TOTP or recovery code where the organization requires one or the user enrolled), sign
out, and the signed-in user's own account page (password, two-step sign-in, sessions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

from backoffice.accounts import mfa
from backoffice.accounts.access import active_user, live_session, load_user_with_scope
from backoffice.accounts.forms import ActionForm, CodeForm, EnrolForm, LoginForm, PasswordChangeForm
from backoffice.accounts.idle import mark_active
from backoffice.accounts.models import User
from backoffice.accounts.rules import PENDING_SIGN_IN, ThrottleLimits, home_endpoint, is_safe_next
from backoffice.accounts.services import authenticate, change_password
from backoffice.accounts.signins import (
    end_session,
    live_sessions,
    remember_device,
    sign_out_everywhere,
    start_session,
    token_digest,
    use_remembered_device,
)
from backoffice.accounts.throttle import LoginThrottled
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import login_manager
from backoffice.form_actions import flash_form_errors

bp = Blueprint("accounts", __name__)

SESSION_TOKEN = "sid"  # noqa: S105 - a key name. The server-side session's random id, next to Flask-Login's user id in the signed cookie
PENDING = "pending_sign_in"  # a right password waiting for its second factor: user id, when, where to go next
DEVICE_COOKIE = "bo_device"
DEVICE_SALT = "remembered-device"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Signed in only while the session the cookie names is live (one query with the user and their scope)."""
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str) or not user_id.isdigit() or len(user_id) >= 12:
        return None
    user = load_user_with_scope(int(user_id), token_digest(token))
    return user if user is not None and user.active else None


def throttle_limits() -> ThrottleLimits:
    settings = current_app.config["BACKOFFICE_SETTINGS"]
    return ThrottleLimits(
        account_address=settings.login_max_failures, address=settings.login_address_max_failures,
        account=settings.login_account_max_failures, window=timedelta(minutes=settings.login_window_minutes),
    )  # fmt: skip


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("accounts/login.html", form=form)
    now = utcnow()
    try:
        user = authenticate(email=form.email.data, password=form.password.data, now=now,
                            remote_addr=request.remote_addr, limits=throttle_limits())  # fmt: skip
    except LoginThrottled as throttled:
        flash(str(throttled), "error")
        return render_template("accounts/login.html", form=form), 429
    if user is None:
        flash("Email or password is wrong.", "error")
        return render_template("accounts/login.html", form=form), 401
    target = form.next.data if is_safe_next(form.next.data) else None
    if user.mfa_enrolled:
        device = _remembered_device_token()
        if device and use_remembered_device(user=user, token=device, now=now):
            return _signed_in(user, now, "remembered_device", target)
        _pend(user, now, target)
        return redirect(url_for("accounts.second_factor"))
    if mfa.must_use_mfa(user):
        _pend(user, now, target)
        return redirect(url_for("accounts.enrol_at_sign_in"))
    return _signed_in(user, now, None, target)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    now = utcnow()
    user = _pending_user(now)
    if user is None or not user.mfa_enrolled:
        return _start_over()
    form = CodeForm()
    remember_days = mfa.organization_of(user).mfa_remember_days
    if form.validate_on_submit():
        try:
            method = mfa.verify_second_factor(user=user, code=form.code.data, now=now,
                                              remote_addr=request.remote_addr, limits=throttle_limits())  # fmt: skip
        except LoginThrottled as throttled:
            flash(str(throttled), "error")
            return render_template("accounts/code.html", form=form, remember_days=remember_days), 429
        if method is None:
            flash("That code is not right (or was already used).", "error")
            return render_template("accounts/code.html", form=form, remember_days=remember_days), 401
        response = _signed_in(user, now, method, session.get(PENDING, {}).get("next"))
        if form.remember.data and remember_days > 0:
            device = remember_device(user=user, now=now, days=remember_days, user_agent=request.user_agent.string)
            _set_device_cookie(response, device, remember_days)
        if method == "recovery_code":
            flash(f"Recovery code used: {mfa.recovery_codes_left(user)} left. Make new ones on your account page "
                  "if you are running out.", "info")  # fmt: skip
        return response
    return render_template("accounts/code.html", form=form, remember_days=remember_days)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol_at_sign_in():
    """A role that must use a second factor and has none yet: set it up before going in."""
    now = utcnow()
    user = _pending_user(now)
    if user is None or user.mfa_enrolled:
        return _start_over()
    form = EnrolForm()
    if form.validate_on_submit():
        codes = _confirm(user, form, now)
        if isinstance(codes, list):
            target = session.get(PENDING, {}).get("next") or url_for(home_endpoint(user.role))
            _signed_in(user, now, "totp", target)
            return render_template("accounts/recovery_codes.html", codes=codes, continue_to=target)
        if codes is not None:
            return codes
    return _enrol_page(user, form, now, url_for("accounts.enrol_at_sign_in"), required=True)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    live = live_session()
    if live is not None:
        end_session(session_id=live.id, user=current_user, now=utcnow(), reason="logout")
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account")
@login_required
def account():
    return _account_page(PasswordChangeForm())


@bp.route("/account/password", methods=["POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _account_page(form), 400
    user, now = current_user._get_current_object(), utcnow()
    try:
        change_password(user=user, current_password=form.current_password.data, new_password=form.new_password.data,
                        now=now, remote_addr=request.remote_addr, limits=throttle_limits())  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
        return _account_page(form), 429 if isinstance(error, LoginThrottled) else 400
    flash("Password changed. Every other session of yours was signed out.", "success")
    return _signed_in(user, now, None, url_for("accounts.account"), audit=False)


@bp.route("/account/mfa", methods=["GET", "POST"])
@login_required
def enrol():
    user, now = current_user._get_current_object(), utcnow()
    if user.mfa_enrolled:
        flash("Two-step sign-in is already set up.", "info")
        return redirect(url_for("accounts.account"))
    form = EnrolForm()
    if form.validate_on_submit():
        codes = _confirm(user, form, now)
        if isinstance(codes, list):
            return render_template("accounts/recovery_codes.html", codes=codes,
                                   continue_to=url_for("accounts.account"))  # fmt: skip
        if codes is not None:
            return codes
    return _enrol_page(user, form, now, url_for("accounts.enrol"), required=False)


@bp.route("/account/mfa/recovery-codes", methods=["POST"])
@login_required
def new_recovery_codes():
    if not ActionForm().validate_on_submit():
        return redirect(url_for("accounts.account"))
    try:
        codes = mfa.regenerate_recovery_codes(user=current_user._get_current_object(), now=utcnow())
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("accounts.account"))
    return render_template("accounts/recovery_codes.html", codes=codes, continue_to=url_for("accounts.account"))


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_my_sessions():
    if ActionForm().validate_on_submit():
        sign_out_everywhere(user=current_user._get_current_object(), now=utcnow())
        logout_user()
        session.clear()
        flash("Signed out everywhere, this browser included.", "info")
    return redirect(url_for("accounts.login"))


# --- helpers --------------------------------------------------------------------------------------------------------


def _signed_in(user: User, now: datetime, method: str | None, target: str | None, *, audit: bool = True) -> Any:
    """Start a server-side session for ``user`` in a fresh cookie (no fixation) and go on to ``target``."""
    token = start_session(user=user, now=now, remote_addr=request.remote_addr, user_agent=request.user_agent.string,
                          mfa=method, audit=audit)  # fmt: skip
    session.clear()
    session.permanent = True
    session[SESSION_TOKEN] = token
    login_user(user)
    mark_active(now.timestamp())
    return redirect(target if is_safe_next(target) else url_for(home_endpoint(user.role)))


def _pend(user: User, now: datetime, target: str | None) -> None:
    session.clear()
    session[PENDING] = {"uid": user.id, "at": int(now.timestamp()), "next": target}


def _pending_user(now: datetime) -> User | None:
    """The user whose password was right in this browser in the last few minutes, if any."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int):
        return None
    if now.timestamp() - float(pending.get("at", 0)) > PENDING_SIGN_IN.total_seconds():
        session.pop(PENDING, None)
        return None
    return active_user(pending["uid"])


def _start_over() -> Any:
    session.pop(PENDING, None)
    flash("Sign in again.", "info")
    return redirect(url_for("accounts.login"))


def _confirm(user: User, form: EnrolForm, now: datetime) -> Any:
    """Recovery codes when the code confirmed enrolment; a response for a refusal; None to show the page again."""
    try:
        codes = mfa.confirm_enrolment(user=user, code=form.code.data, now=now, remote_addr=request.remote_addr,
                                      limits=throttle_limits())  # fmt: skip
    except LoginThrottled as throttled:
        flash(str(throttled), "error")
        return None
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("accounts.login"))
    if codes is None:
        flash("That code is not right: check the app shows backoffice and try the newest code.", "error")
    return codes


def _enrol_page(user: User, form: EnrolForm, now: datetime, action: str, *, required: bool) -> Any:
    secret = mfa.begin_enrolment(user=user, now=now)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("accounts/enrol.html", form=form, qr=mfa.enrolment_qr(user, secret), secret=grouped,
                           action=action, required=required)  # fmt: skip


def _account_page(form: PasswordChangeForm) -> Any:
    user = current_user._get_current_object()
    live = live_session()
    return render_template(
        "accounts/account.html", form=form, action_form=ActionForm(), sessions=live_sessions(user),
        current_session_id=live.id if live else None, required=mfa.must_use_mfa(user),
        codes_left=mfa.recovery_codes_left(user) if user.mfa_enrolled else 0,
    )  # fmt: skip


def _device_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_SALT)


def _remembered_device_token() -> str | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        token = _device_serializer().loads(raw)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def _set_device_cookie(response: Any, token: str, days: int) -> None:
    response.set_cookie(
        DEVICE_COOKIE, _device_serializer().dumps(token), max_age=days * 86400, httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"], path="/login",
    )  # fmt: skip
