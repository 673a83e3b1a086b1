"""/admin/users (admins): the organization's users with their sessions and two-step sign-in; sign a user out
everywhere, reset their second factor, deactivate or reactivate them; which roles must use a second factor."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from backoffice.accounts import mfa, queries
from backoffice.accounts.access import get_user_for_admin_or_404, is_admin
from backoffice.accounts.forms import ActionForm, MfaPolicyForm
from backoffice.accounts.services import set_user_active
from backoffice.accounts.signins import sign_out_everywhere
from backoffice.clock import utcnow
from backoffice.form_actions import run_form

bp = Blueprint("users", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _require_admin() -> None:
    if not is_admin(current_user):
        abort(403)


@bp.route("/users")
def index():
    org = mfa.organization_of(current_user)
    policy = MfaPolicyForm(
        admin="admin" in org.mfa_required_roles, supervisor="supervisor" in org.mfa_required_roles,
        biller="biller" in org.mfa_required_roles, remember_days=org.mfa_remember_days,
    )  # fmt: skip
    return render_template("accounts/users.html", rows=queries.organization_users(org), policy=policy,
                           action_form=ActionForm())  # fmt: skip


@bp.route("/users/<int:user_id>/sign-out", methods=["POST"])
def sign_out(user_id: int):
    user = get_user_for_admin_or_404(user_id, current_user)
    run_form(ActionForm(), lambda _: sign_out_everywhere(user=user, now=utcnow(), actor=current_user),
             f"{user.name} is signed out everywhere.")  # fmt: skip
    return redirect(url_for("users.index"))


@bp.route("/users/<int:user_id>/mfa-reset", methods=["POST"])
def reset_mfa(user_id: int):
    user = get_user_for_admin_or_404(user_id, current_user)
    run_form(ActionForm(), lambda _: mfa.reset_mfa(user=user, now=utcnow(), actor=current_user),
             f"Two-step sign-in of {user.name} was reset; they set it up again at their next sign-in.")  # fmt: skip
    return redirect(url_for("users.index"))


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    user = get_user_for_admin_or_404(user_id, current_user)
    active = not user.active
    done = f"{user.name} is {'reactivated' if active else 'deactivated and signed out everywhere'}."
    run_form(ActionForm(), lambda _: set_user_active(user=user, active=active, now=utcnow(), actor=current_user), done)
    return redirect(url_for("users.index"))


@bp.route("/security", methods=["POST"])
def mfa_policy():
    form = MfaPolicyForm()
    roles = [role for role in ("admin", "supervisor", "biller") if getattr(form, role).data]
    run_form(
        form,
        lambda f: mfa.set_mfa_policy(organization=mfa.organization_of(current_user), roles=roles,
                                     remember_days=f.remember_days.data, now=utcnow(), actor=current_user),
        "Two-step sign-in settings saved.",
    )  # fmt: skip
    return redirect(url_for("users.index"))
