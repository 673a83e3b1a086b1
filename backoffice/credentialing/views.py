"""/admin/credentialing: a practice's providers (create, edit, deactivate; CSV import/export) and its payer
enrolments with the claims held for them. Admins edit; supervisors read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from backoffice.accounts.access import can_supervise, is_admin, practice_ids_for
from backoffice.clock import utcnow
from backoffice.credentialing import access, queries
from backoffice.credentialing.forms import EnrollmentForm, ProviderForm, ProvidersImportForm
from backoffice.credentialing.records import RecordRefused
from backoffice.credentialing.rules import STATUS_LABELS, EnrollmentStatus
from backoffice.credentialing.services import (
    create_provider,
    export_providers,
    import_providers,
    provider_input,
    save_enrollment,
    update_provider,
)
from backoffice.extensions import db
from backoffice.form_actions import run_form
from backoffice.orgs.models import Payer, Practice
from backoffice.sessions.models import Session
from backoffice.work.panels import Panel
from backoffice.work.panels import register as register_panel
from backoffice.work.rules import WorkKind

bp = Blueprint("credentialing", __name__, url_prefix="/admin/credentialing")


@bp.before_request
@login_required
def _require_supervisor() -> None:
    if not can_supervise(current_user):
        abort(403)


def _require_admin() -> None:
    if not is_admin(current_user):
        abort(403)


@bp.route("/")
def index():
    practices = db.session.scalars(
        select(Practice).where(Practice.id.in_(practice_ids_for(current_user))).order_by(Practice.name)
    ).all()
    return render_template("credentialing/index.html", practices=practices)


def _supervisor_choices(practice: Practice, exclude: int | None = None) -> list[tuple[str, str]]:
    return [("", "— none (independently licensed) —")] + [
        (p.npi, f"{p.display_name} · {p.npi}")
        for p in queries.providers_of(practice)
        if p.active and p.license_number and p.id != exclude
    ]


@bp.route("/<slug>/providers", methods=["GET", "POST"])
def providers(slug: str):
    practice = access.get_practice_or_404(slug, current_user)
    form = ProviderForm()
    form.supervising_npi.choices = _supervisor_choices(practice)
    if form.is_submitted():
        _require_admin()
        done = run_form(form, lambda f: create_provider(practice=practice, data=f.values(), actor=current_user,
                                                        now=utcnow()), "Provider added.")  # fmt: skip
        if done:
            return redirect(url_for("credentialing.providers", slug=slug))
    return render_template("credentialing/providers.html", practice=practice, form=form,
                           rows=queries.providers_of(practice), import_form=ProvidersImportForm(),
                           can_edit=is_admin(current_user))  # fmt: skip


@bp.route("/<slug>/providers/<int:provider_id>", methods=["GET", "POST"])
def edit_provider(slug: str, provider_id: int):
    practice = access.get_practice_or_404(slug, current_user)
    provider = access.get_provider_or_404(practice, provider_id)
    current = provider_input(provider)
    form = ProviderForm(data={**current.__dict__, "supervising_npi": current.supervising_npi or ""})
    form.supervising_npi.choices = _supervisor_choices(practice, exclude=provider.id)
    if form.is_submitted():
        _require_admin()
        done = run_form(form, lambda f: update_provider(provider=provider, data=f.values(), actor=current_user,
                                                        now=utcnow()), "Provider saved.")  # fmt: skip
        if done:
            return redirect(url_for("credentialing.providers", slug=slug))
    return render_template("credentialing/provider.html", practice=practice, provider=provider, form=form,
                           can_edit=is_admin(current_user))  # fmt: skip


@bp.route("/<slug>/providers.csv")
def providers_csv(slug: str) -> Response:
    practice = access.get_practice_or_404(slug, current_user)
    return Response(export_providers(practice), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={practice.slug}-providers.csv"})  # fmt: skip


@bp.route("/<slug>/providers/import", methods=["POST"])
def import_csv(slug: str):
    _require_admin()
    practice = access.get_practice_or_404(slug, current_user)
    form = ProvidersImportForm()

    def run(f: Any) -> None:
        try:
            counts = import_providers(practice=practice, text=f.csv_text.data, actor=current_user, now=utcnow())
        except RecordRefused as refused:
            for error in refused.errors[:50]:
                flash(str(error), "error")
            flash(str(refused), "error")
            return
        flash(f"Providers imported: {counts['created']} created, {counts['updated']} updated, "
              f"{counts['unchanged']} unchanged.", "success")  # fmt: skip

    if form.validate_on_submit():
        run(form)
    else:
        run_form(form, lambda f: None, "")
    return redirect(url_for("credentialing.providers", slug=slug))


@bp.route("/<slug>/enrollments", methods=["GET", "POST"])
def enrollments(slug: str):
    practice = access.get_practice_or_404(slug, current_user)
    form = EnrollmentForm()
    providers_ = queries.providers_of(practice)
    payers = access.payers_of(practice)
    form.provider_id.choices = [(p.id, f"{p.display_name} · {p.npi}") for p in providers_]
    form.payer_id.choices = [(p.id, f"{p.name} ({p.payer_id})") for p in payers]
    if form.is_submitted():
        _require_admin()

        def save(f: EnrollmentForm) -> None:
            provider = access.get_provider_or_404(practice, f.provider_id.data)
            payer = db.session.get(Payer, f.payer_id.data)
            if payer is None or payer.organization_id != practice.organization_id:
                abort(404)
            save_enrollment(practice=practice, provider=provider, payer=payer, data=f.values(), actor=current_user,
                            now=utcnow())  # fmt: skip

        if run_form(form, save, "Enrolment saved."):
            return redirect(url_for("credentialing.enrollments", slug=slug))
    held = queries.held_items(practice.id)
    sessions = {s.id: s for s in _sessions_of(held)}
    return render_template(
        "credentialing/enrollments.html", practice=practice, form=form, rows=queries.enrollments_of(practice),
        held=held, sessions=sessions, providers={p.id: p for p in providers_}, payers={p.id: p for p in payers},
        labels=STATUS_LABELS, statuses=EnrollmentStatus, now=utcnow(), can_edit=is_admin(current_user),
    )  # fmt: skip


def _held_panel(item: Any) -> dict[str, Any]:
    session = db.session.get(Session, item.session_id) if item.session_id else None
    payer = db.session.get(Payer, item.payer_id) if item.payer_id else None
    record = queries.enrollment_for(session.provider_id, payer.id) if session and payer else None
    practice = db.session.get(Practice, item.practice_id)
    return {"enrollment": record, "payer": payer, "labels": STATUS_LABELS, "now": utcnow(),
            "slug": practice.slug if practice else None}  # fmt: skip


register_panel(Panel("held-for-enrolment", "credentialing/_held_panel.html", order=20,
                     applies=lambda item: item.kind == WorkKind.AWAIT_ENROLLMENT, context=_held_panel))  # fmt: skip


def _sessions_of(items: list[Any]) -> list[Session]:
    ids = [i.session_id for i in items if i.session_id]
    return list(db.session.scalars(select(Session).where(Session.id.in_(ids)))) if ids else []
