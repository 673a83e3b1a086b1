"""Sign in and out."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from backoffice.accounts.access import load_user_with_scope
from backoffice.accounts.forms import LoginForm
from backoffice.accounts.idle import mark_active
from backoffice.accounts.models import User
from backoffice.accounts.rules import is_safe_next
from backoffice.accounts.services import LoginRefused, authenticate
from backoffice.audit.services import record_event
from backoffice.clock import utcnow
from backoffice.extensions import login_manager

bp = Blueprint("accounts", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = load_user_with_scope(int(user_id)) if user_id.isdigit() and len(user_id) < 12 else None
    return user if user is not None and user.active else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("work.queue"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        settings = current_app.config["BACKOFFICE_SETTINGS"]
        try:
            user = authenticate(
                email=form.email.data,
                password=form.password.data,
                now=utcnow(),
                remote_addr=request.remote_addr,
                max_failures=settings.login_max_failures,
                window=timedelta(minutes=settings.login_window_minutes),
            )
        except LoginRefused as refused:
            flash(str(refused), "error")
            return render_template("accounts/login.html", form=form), 429
        if user is None:
            flash("Email or password is wrong.", "error")
            return render_template("accounts/login.html", form=form), 401
        session.clear()  # no session fixation
        session.permanent = True
        login_user(user)
        mark_active()
        target = form.next.data
        return redirect(target if is_safe_next(target) else url_for("work.queue"))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    record_event(action="logout", user=current_user)
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("accounts.login"))
