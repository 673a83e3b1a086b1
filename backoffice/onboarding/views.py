"""/admin setup pages: the organization, practices, the payer directory, fee schedules, contracted rates and the
team. Admins change things; supervisors see them read-only; billers do not see them. Files (CSV) go in and out in
the same format. /set-password/<token> is the one-time link an invited user follows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.form_actions import flash_form_errors
from backoffice.onboarding import csv_files, people, services
from backoffice.onboarding.forms import (
    ActionForm,
    FeeScheduleForm,
    InviteForm,
    OrganizationForm,
    PayerForm,
    PracticeForm,
    RatesForm,
    SetPasswordForm,
    UploadForm,
    UserEditForm,
    filled_rows,
)
from backoffice.onboarding.rules import OWNABLE_STEPS, Refused, format_pairs, join_list
from backoffice.orgs.models import Organization, Payer, Practice
from backoffice.work.forms import choices

bp = Blueprint("onboarding", __name__)
BLANK_ROWS = 5
OPEN_WHILE_CHANGING = frozenset({"accounts.account", "accounts.password", "accounts.logout", "static",
                                 "onboarding.set_password"})  # fmt: skip


@bp.before_app_request
def _initial_password_first() -> Any:
    """A user given an initial password sets their own before anything else."""
    if (current_user.is_authenticated and current_user.password_change_required
            and request.endpoint not in OPEN_WHILE_CHANGING and not request.path.startswith("/api/")):  # fmt: skip
        flash("Choose your own password before you go on: the one you were given works only once.", "info")
        return redirect(url_for("accounts.account"))
    return None


def _guard() -> None:
    """Supervisors and admins see; only admins change."""
    if not current_user.is_authenticated:
        abort(401)
    if current_user.role not in (Role.ADMIN, Role.SUPERVISOR):
        abort(403)
    if request.method == "POST" and current_user.role != Role.ADMIN:
        abort(403)


def _org() -> Organization:
    return db.session.get(Organization, current_user.organization_id)


def _practice_or_404(slug: str) -> Practice:
    practice = db.session.scalar(select(Practice).where(Practice.slug == slug))
    if practice is None or practice.organization_id != current_user.organization_id:
        abort(404)
    return practice


def _payer_or_404(payer_id: int) -> Payer:
    payer = db.session.get(Payer, payer_id)
    if payer is None or payer.organization_id != current_user.organization_id:
        abort(404)
    return payer


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.organization_id != current_user.organization_id:
        abort(404)
    return user


def _run(action: Any, done: str) -> bool:
    """Call a service; flash what happened or every problem it names (field, and row for tables and files)."""
    try:
        action()
    except Refused as refused:
        for error in refused.errors:
            flash(str(error), "error")
        flash("Nothing was saved.", "error")
        return False
    except ServiceError as error:
        flash(str(error), "error")
        return False
    flash(done, "success")
    return True


def _csv(kind: str, records: list[dict[str, Any]], name: str) -> Response:
    return Response(csv_files.write(kind, records), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})  # fmt: skip


def _uploaded(kind: str) -> list[dict[str, str]] | None:
    """The rows of the uploaded CSV, or None after flashing every problem (row and column)."""
    form = UploadForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return None
    raw = form.file.data.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        flash(f"The file is not UTF-8 text (first bad byte at offset {error.start}). Nothing was saved.", "error")
        return None
    rows, errors = csv_files.read(text, kind)
    if errors:
        for problem in errors:
            flash(str(problem), "error")
        flash("Nothing was saved.", "error")
        return None
    return rows


# --- Overview and organization ---------------------------------------------------------------------------------------


@bp.route("/admin/setup")
@login_required
def index():
    _guard()
    org = _org()
    practices = db.session.scalars(select(Practice).where(Practice.organization_id == org.id).order_by(Practice.name))
    payers = db.session.scalar(select(db.func.count()).select_from(Payer).where(Payer.organization_id == org.id))
    users = db.session.scalars(select(User).where(User.organization_id == org.id).order_by(User.name)).all()
    return render_template("onboarding/index.html", org=org, practices=list(practices), payer_count=payers,
                           users=users, can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/organization", methods=["GET", "POST"])
@login_required
def organization():
    _guard()
    org = _org()
    form = OrganizationForm(data=_defaults(OrganizationForm, org, tin=org.tax_id))
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.update_organization(organization=org, values=_data(form), actor=current_user,
                                                       now=utcnow()), "Organization saved."):  # fmt: skip
            return redirect(url_for("onboarding.organization"))
    return render_template("onboarding/form.html", form=form, title="Organization", back=url_for("onboarding.index"),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


def _defaults(form_class: type, row: Any, **overrides: Any) -> dict[str, Any]:
    """A form's starting values: the row's attribute of each field's name, then ``overrides``."""
    names = [name for name in dir(form_class) if not name.startswith("_") and hasattr(row, name)]
    return {**{name: getattr(row, name) for name in names}, **overrides}


def _data(form: Any) -> dict[str, Any]:
    return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}


# --- Practices ------------------------------------------------------------------------------------------------------


@bp.route("/admin/practices")
@login_required
def practices():
    _guard()
    rows = db.session.scalars(select(Practice).where(Practice.organization_id == current_user.organization_id)
                              .order_by(Practice.name)).all()  # fmt: skip
    return render_template("onboarding/practices.html", practices=rows, action_form=ActionForm(),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/practices/new", methods=["GET", "POST"])
@login_required
def new_practice():
    _guard()
    form = PracticeForm()
    if request.method == "GET":
        form.owned_steps.data = list(OWNABLE_STEPS)
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        else:
            made: list[Practice] = []
            done = _run(lambda: made.append(services.create_practice(
                organization_id=current_user.organization_id, values=form.values(), actor=current_user, now=utcnow())),
                "Practice created.")  # fmt: skip
            if done:
                return redirect(url_for("onboarding.practice", slug=made[0].slug))
    back = url_for("onboarding.practices")
    return render_template("onboarding/form.html", form=form, title="New practice", back=back,
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/practices/<slug>", methods=["GET", "POST"])
@login_required
def practice(slug: str):
    _guard()
    row = _practice_or_404(slug)
    form = PracticeForm(data=_defaults(PracticeForm, row, npi=row.group_npi, tin=row.tax_id, time_zone=row.timezone,
                                       sla_overrides=format_pairs(row.sla_overrides or {})))  # fmt: skip
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.update_practice(practice=row, values=form.values(), actor=current_user,
                                                   now=utcnow()), "Practice saved."):  # fmt: skip
            return redirect(url_for("onboarding.practice", slug=row.slug))
    return render_template("onboarding/form.html", form=form, title=f"Practice: {row.name}", practice=row,
                           back=url_for("onboarding.practices"), can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/practices/<slug>/active", methods=["POST"])
@login_required
def practice_active(slug: str):
    _guard()
    row = _practice_or_404(slug)
    if ActionForm().validate_on_submit():
        done = f"{row.name} is {'active' if not row.active else 'deactivated'}."
        _run(lambda: services.set_practice_active(practice=row, active=not row.active, actor=current_user,
                                                  now=utcnow()), done)  # fmt: skip
    return redirect(url_for("onboarding.practices"))


# --- Fee schedule and contracted rates ------------------------------------------------------------------------------


@bp.route("/admin/practices/<slug>/fees", methods=["GET", "POST"])
@login_required
def fees(slug: str):
    _guard()
    row = _practice_or_404(slug)
    current = services.fee_records(row)
    form = FeeScheduleForm(data={"rows": current + [{}] * BLANK_ROWS} if request.method == "GET" else None)
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.replace_fee_schedule(practice=row, records=filled_rows(form), actor=current_user,
                                                        now=utcnow()), "Fee schedule saved."):  # fmt: skip
            return redirect(url_for("onboarding.fees", slug=slug))
    return render_template("onboarding/fees.html", form=form, practice=row, upload=UploadForm(),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/practices/<slug>/fees.csv")
@login_required
def fees_csv(slug: str):
    _guard()
    row = _practice_or_404(slug)
    return _csv("fees", services.fee_records(row), f"fee-schedule-{row.slug}.csv")


@bp.route("/admin/practices/<slug>/fees/upload", methods=["POST"])
@login_required
def fees_upload(slug: str):
    _guard()
    row = _practice_or_404(slug)
    records = _uploaded("fees")
    if records is not None:
        _run(lambda: services.replace_fee_schedule(practice=row, records=records, actor=current_user, now=utcnow()),
             "Fee schedule imported.")  # fmt: skip
    return redirect(url_for("onboarding.fees", slug=slug))


def _payer_choices() -> list[Any]:
    payers = db.session.scalars(select(Payer).where(Payer.organization_id == current_user.organization_id)
                                .order_by(Payer.name))  # fmt: skip
    return choices([("", "—")] + [(p.payer_id, f"{p.name} ({p.payer_id})") for p in payers])


@bp.route("/admin/practices/<slug>/rates", methods=["GET", "POST"])
@login_required
def rates(slug: str):
    _guard()
    row = _practice_or_404(slug)
    current = services.rate_records(row)
    form = RatesForm(data={"rows": current + [{}] * BLANK_ROWS} if request.method == "GET" else None)
    choices = _payer_choices()
    for entry in form.rows.entries:
        entry.form.payer_id.choices = choices
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.replace_contracted_rates(practice=row, records=filled_rows(form),
                                                            actor=current_user, now=utcnow()),
                  "Contracted rates saved."):  # fmt: skip
            return redirect(url_for("onboarding.rates", slug=slug))
    return render_template("onboarding/rates.html", form=form, practice=row, upload=UploadForm(),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/practices/<slug>/rates.csv")
@login_required
def rates_csv(slug: str):
    _guard()
    row = _practice_or_404(slug)
    return _csv("rates", services.rate_records(row), f"contracted-rates-{row.slug}.csv")


@bp.route("/admin/practices/<slug>/rates/upload", methods=["POST"])
@login_required
def rates_upload(slug: str):
    _guard()
    row = _practice_or_404(slug)
    records = _uploaded("rates")
    if records is not None:
        _run(lambda: services.replace_contracted_rates(practice=row, records=records, actor=current_user,
                                                       now=utcnow()), "Contracted rates imported.")  # fmt: skip
    return redirect(url_for("onboarding.rates", slug=slug))


# --- Payer directory ------------------------------------------------------------------------------------------------


@bp.route("/admin/payers")
@login_required
def payers():
    _guard()
    rows = db.session.scalars(select(Payer).where(Payer.organization_id == current_user.organization_id)
                              .order_by(Payer.name)).all()  # fmt: skip
    return render_template("onboarding/payers.html", payers=rows, upload=UploadForm(), action_form=ActionForm(),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/payers.csv")
@login_required
def payers_csv():
    _guard()
    return _csv("payers", services.payer_records(current_user.organization_id), "payer-directory.csv")


@bp.route("/admin/payers/upload", methods=["POST"])
@login_required
def payers_upload():
    _guard()
    records = _uploaded("payers")
    if records is not None:
        counts: list[tuple[int, int, int]] = []
        _run(lambda: counts.append(services.import_payers(organization_id=current_user.organization_id,
                                                          records=records, actor=current_user, now=utcnow())),
             "Payer directory imported.")  # fmt: skip
        if counts:
            flash("{} added, {} changed, {} unchanged.".format(*counts[0]), "info")
    return redirect(url_for("onboarding.payers"))


def _payer_form_values(form: PayerForm) -> dict[str, Any]:
    return form.values()


@bp.route("/admin/payers/new", methods=["GET", "POST"])
@login_required
def new_payer():
    _guard()
    form = PayerForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.create_payer(organization_id=current_user.organization_id,
                                                values=_payer_form_values(form), actor=current_user, now=utcnow()),
                  "Payer added."):  # fmt: skip
            return redirect(url_for("onboarding.payers"))
    return render_template("onboarding/form.html", form=form, title="New payer", back=url_for("onboarding.payers"),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/payers/<int:payer_id>", methods=["GET", "POST"])
@login_required
def payer(payer_id: int):
    _guard()
    row = _payer_or_404(payer_id)
    numbers = {n: "" if getattr(row, n) is None else str(getattr(row, n))
               for n in ("filing_limit_days", "corrected_claim_window_days", "appeal_window_days")}  # fmt: skip
    form = PayerForm(data=_defaults(PayerForm, row, kind=row.kind.value, **numbers,
                                    clearinghouse_payer_ids=join_list(row.clearinghouse_payer_ids or []),
                                    prior_auth_cpts=join_list(row.prior_auth_cpts or []),
                                    telehealth_policy=csv_files.cell(row.telehealth_policy or {}),
                                    coding_policy=csv_files.cell(row.coding_policy or {})))  # fmt: skip
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: services.update_payer(payer=row, values=_payer_form_values(form), actor=current_user,
                                                now=utcnow()), "Payer saved."):  # fmt: skip
            return redirect(url_for("onboarding.payer", payer_id=row.id))
    return render_template("onboarding/form.html", form=form, title=f"Payer: {row.name}", payer=row,
                           back=url_for("onboarding.payers"), can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/payers/<int:payer_id>/active", methods=["POST"])
@login_required
def payer_active(payer_id: int):
    _guard()
    row = _payer_or_404(payer_id)
    if ActionForm().validate_on_submit():
        done = f"{row.name} is {'active' if not row.active else 'inactive'}."
        _run(lambda: services.update_payer(payer=row, values={"active": not row.active}, actor=current_user,
                                           now=utcnow()), done)  # fmt: skip
    return redirect(url_for("onboarding.payers"))


# --- The team -------------------------------------------------------------------------------------------------------


def _user_choices(form: InviteForm | UserEditForm) -> None:
    org_id = current_user.organization_id
    served = select(Practice).where(Practice.organization_id == org_id, Practice.active.is_(True))
    form.practices.choices = choices((p.slug, p.name) for p in db.session.scalars(served.order_by(Practice.name)))
    form.queues.choices = choices((q, q) for q in people.known_queues())
    form.skills.choices = choices((s, s) for s in people.known_skills(org_id))


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def invite():
    _guard()
    form = InviteForm()
    _user_choices(form)
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        else:
            made: list[tuple[User, str | None]] = []
            done = _run(lambda: made.append(people.invite_user(
                organization_id=current_user.organization_id, email=form.email.data or "", name=form.name.data or "",
                role=form.role.data, practices=form.practices.data or [], queues=form.queues.data or [],
                skills=form.skills.data or [], password=form.password.data or None, actor=current_user,
                now=utcnow())), "User added.")  # fmt: skip
            if done:
                user, token = made[0]
                link = url_for("onboarding.set_password", token=token, _external=True) if token else None
                return render_template("onboarding/invited.html", user=user, link=link)
    return render_template("onboarding/form.html", form=form, title="Add a user", back=url_for("onboarding.index"),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/users/<int:user_id>/edit", methods=["GET", "POST"])
@login_required
def edit_user(user_id: int):
    _guard()
    user = _user_or_404(user_id)
    form = UserEditForm(role=user.role.value, practices=[p.slug for p in user.practices], queues=user.queues or [],
                        skills=user.skills or [])  # fmt: skip
    _user_choices(form)
    if request.method == "POST":
        if not form.validate_on_submit():
            flash_form_errors(form)
        elif _run(lambda: people.update_user(user=user, role=form.role.data, practices=form.practices.data or [],
                                             queues=form.queues.data or [], skills=form.skills.data or [],
                                             actor=current_user, now=utcnow()), f"{user.name} saved."):  # fmt: skip
            return redirect(url_for("onboarding.edit_user", user_id=user.id))
    return render_template("onboarding/user.html", form=form, user=user, action_form=ActionForm(),
                           can_edit=current_user.role == Role.ADMIN)  # fmt: skip


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
@login_required
def deactivate(user_id: int):
    _guard()
    user = _user_or_404(user_id)
    if ActionForm().validate_on_submit():
        returned: list[int] = []
        if _run(lambda: returned.append(people.deactivate_user(user=user, actor=current_user, now=utcnow())),
                f"{user.name} is deactivated."):  # fmt: skip
            flash(f"{returned[0]} open item(s) went back to their queues.", "info")
    return redirect(url_for("onboarding.edit_user", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@login_required
def reset_password(user_id: int):
    _guard()
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        token = people.reset_password_link(user=user, actor=current_user, now=utcnow())
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("onboarding.edit_user", user_id=user.id))
    link = url_for("onboarding.set_password", token=token, _external=True)
    return render_template("onboarding/invited.html", user=user, link=link, reset=True)


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """The one-time link: choose a password, then sign in with it."""
    now = utcnow()
    user = people.user_for_token(token, now)
    if user is None:
        flash("This link is not valid any more (used, expired or replaced); ask an admin for a new one.", "error")
        return redirect(url_for("accounts.login"))
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            people.set_password_with_token(token=token, password=form.password.data or "", now=now)
        except ServiceError as error:
            flash(str(error), "error")
        else:
            flash("Password set. Sign in with it.", "success")
            return redirect(url_for("accounts.login"))
    return render_template("onboarding/set_password.html", form=form, user=user)
