"""Routing rules and queues (supervisors and admins): rules in order, edit/deactivate/reorder, a preview of
what a rule would route now, and who works which queue with which skills."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, practice_ids_for
from backoffice.accounts.models import User
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.form_actions import flash_form_errors, run_form
from backoffice.onboarding.people import known_queues, known_skills
from backoffice.orgs.models import Payer, Practice
from backoffice.remits.rules import Family
from backoffice.routing import queries, services
from backoffice.routing.forms import ActiveForm, MoveForm, PersonForm, RuleForm
from backoffice.routing.rules import DISTRIBUTION_LABELS
from backoffice.work import queries as work_queries
from backoffice.work.forms import choices
from backoffice.work.rules import DEFAULT_QUEUES, KIND_LABELS

bp = Blueprint("routing", __name__)


@bp.before_request
@login_required
def _require_supervisor() -> None:
    """Routing is configured by supervisors and admins; a biller gets 403."""
    if not can_supervise(current_user):
        abort(403)


@bp.route("/supervisor/routing")
def rules():
    now = utcnow()
    users = queries.org_users(current_user)
    return render_template(
        "routing/rules.html",
        rules=queries.rules_of(current_user),
        names=_names(),
        users=users,
        person_forms={u.id: _person_form(u) for u in users},
        queues=work_queries.queue_overview(current_user, now),
        move_form=MoveForm(),
        active_form=ActiveForm(),
        labels=DISTRIBUTION_LABELS,
        now=now,
    )


@bp.route("/supervisor/routing/new", methods=["GET", "POST"])
def new_rule():
    form = _rule_form()
    return _save(form, None, "routing/rule_form.html")


@bp.route("/supervisor/routing/<int:rule_id>/edit", methods=["GET", "POST"])
def edit_rule(rule_id: int):
    rule = queries.get_rule_or_404(rule_id, current_user)
    form = _rule_form(rule)
    return _save(form, rule, "routing/rule_form.html")


@bp.route("/supervisor/routing/<int:rule_id>/preview")
def preview(rule_id: int):
    rule = queries.get_rule_or_404(rule_id, current_user)
    return render_template(
        "routing/preview.html", rule=rule, rows=queries.preview(rule, current_user), names=_names(), now=utcnow()
    )


@bp.route("/supervisor/routing/<int:rule_id>/active", methods=["POST"])
def set_active(rule_id: int):
    rule = queries.get_rule_or_404(rule_id, current_user)
    return _act(
        ActiveForm(),
        lambda f: services.set_rule_active(actor=current_user, now=utcnow(), rule=rule, active=f.active.data == "1"),
        "Rule updated.",
    )


@bp.route("/supervisor/routing/<int:rule_id>/move", methods=["POST"])
def move(rule_id: int):
    rule = queries.get_rule_or_404(rule_id, current_user)
    return _act(
        MoveForm(),
        lambda f: services.move_rule(actor=current_user, now=utcnow(), rule=rule, direction=f.direction.data),
        "Rule moved.",
    )


@bp.route("/supervisor/routing/people/<int:user_id>", methods=["POST"])
def person(user_id: int):
    user = db.session.get(User, user_id)
    if user is None or user.organization_id != current_user.organization_id:
        abort(404)
    return _act(
        PersonForm(),
        lambda f: services.set_user_routing(
            actor=current_user, now=utcnow(), user=user, queues=f.split(f.queues), skills=f.split(f.skills)
        ),
        f"Saved {user.name}'s queues and skills.",
    )


def _names() -> dict[str, dict[Any, str]]:
    org = current_user.organization_id
    return {
        "practices": dict(
            db.session.execute(select(Practice.id, Practice.name).where(Practice.organization_id == org)).all()
        ),
        "payers": dict(db.session.execute(select(Payer.id, Payer.name).where(Payer.organization_id == org)).all()),
        "users": dict(db.session.execute(select(User.id, User.name).where(User.organization_id == org)).all()),
        "kinds": dict(KIND_LABELS),
    }


def _rule_form(rule: Any = None) -> RuleForm:
    form = RuleForm(obj=rule) if rule is not None else RuleForm()
    names = _names()
    scope = practice_ids_for(current_user)
    practices = sorted(((i, n) for i, n in names["practices"].items() if i in scope), key=lambda kv: kv[1])
    form.practice_id.choices = choices([(0, "Any practice"), *practices])
    form.payer_id.choices = choices([(0, "Any payer"), *sorted(names["payers"].items(), key=lambda kv: kv[1])])
    kinds = sorted(((k, KIND_LABELS.get(k, k)) for k in DEFAULT_QUEUES), key=lambda kv: kv[1])
    form.kind.choices = choices([("", "Any step"), *kinds])
    families = [(fam.value, fam.value.replace("_", " ")) for fam in Family]
    form.denial_family.choices = choices([("", "Any (or not a denial)"), *families])
    active_users = [u for u in queries.org_users(current_user) if u.active]
    people = [(u.id, f"{u.name} ({u.role.value})") for u in active_users]
    form.target_user_id.choices = choices([(0, "—"), *people])
    form.user_ids.choices = choices(people)
    form.target_queue.choices = choices([("", "The step's own queue"), *((q, q) for q in known_queues())])
    form.required_skill.choices = choices([("", "None"), *((k, k) for k in known_skills(current_user.organization_id))])
    if rule is not None and not form.is_submitted():
        form.practice_id.data = rule.practice_id or 0
        form.payer_id.data = rule.payer_id or 0
        form.kind.data = rule.kind or ""
        form.denial_family.data = rule.denial_family or ""
        form.target_user_id.data = rule.target_user_id or 0
        form.user_ids.data = list(rule.user_ids or [])
    return form


def _save(form: RuleForm, rule: Any, template: str):
    if form.validate_on_submit():
        try:
            saved = services.save_rule(actor=current_user, now=utcnow(), values=form.values(), rule=rule)
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash(f"Rule '{saved.name}' saved.", "success")
            return redirect(url_for("routing.rules"), 303)
    elif form.is_submitted():
        flash_form_errors(form)
    status = 422 if form.is_submitted() else 200
    return render_template(template, form=form, rule=rule), status


def _act(form: FlaskForm, action: Callable[[Any], Any], done: str):
    run_form(form, action, done)
    return redirect(url_for("routing.rules"), 303)


def _person_form(user: User) -> PersonForm:
    form = PersonForm(formdata=None)
    form.queues.data = ", ".join(user.queues or [])
    form.skills.data = ", ".join(user.skills or [])
    return form
