"""Upload and download attached documents, the documents panel on every item, and the appeal packet PDF."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from backoffice import inputs
from backoffice.accounts.access import practice_ids_for
from backoffice.appeals import queries as appeal_queries
from backoffice.appeals.pdf import appeal_pdf
from backoffice.clock import utcnow
from backoffice.documents import rules, services
from backoffice.documents.models import Document
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.forms import Form
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register

bp = Blueprint("documents", __name__)


class UploadForm(Form):
    target_type = HiddenField(validators=[DataRequired()])
    target_id = HiddenField(validators=[DataRequired()])
    file = FileField("File (PDF, PNG, JPEG or TIFF, up to 10 MB)", validators=[FileRequired()])
    note = StringField("What it is", validators=[Optional(), Length(max=200)])


@bp.before_request
@login_required
def _require_login() -> None:
    """Documents are PHI: every route needs a signed-in user."""


def _back(target: services.Target) -> ResponseReturnValue:
    endpoints = {"item": ("work.item", "item_id"), "appeal": ("appeals.detail", "appeal_id"),
                 "patient": ("balances.patient", "patient_id")}  # fmt: skip
    if target.kind in endpoints:
        endpoint, name = endpoints[target.kind]
        return redirect(url_for(endpoint, **{name: target.id}))
    return redirect(request.referrer or url_for("work.queue"))


@bp.route("/documents/upload", methods=["POST"])
def upload() -> ResponseReturnValue:
    form = UploadForm()
    try:  # ASCII digits only: "²" passes str.isdigit() and then int() fails
        target_id = inputs.whole_number(str(form.target_id.data or ""), low=1)
    except inputs.InputProblem:
        abort(404)
    target = services.target(form.target_type.data or "", target_id, practice_ids_for(current_user))
    if target is None:
        abort(404)
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(errors)}", "error")
        return _back(target)
    upload_file = form.file.data
    try:
        document = services.attach(to=target, filename=upload_file.filename or "", data=upload_file.read(),
                                   user=current_user, now=utcnow(), note=form.note.data)  # fmt: skip
        db.session.commit()
    except ServiceError as error:
        flash(str(error), "error")
    else:
        flash(f"Attached {document.filename}.", "ok")
    return _back(target)


def _document_or_404(document_id: int) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or document.practice_id not in practice_ids_for(current_user):
        abort(404)
    return document


@bp.route("/documents/<int:document_id>")
def download(document_id: int) -> ResponseReturnValue:
    document = _document_or_404(document_id)
    body = services.read(document)
    name = f"{document.filename.rsplit('.', 1)[0] or 'document'}.{rules.extension(document.content_type)}"
    return Response(body, mimetype=document.content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})  # fmt: skip


@bp.route("/appeals/<int:appeal_id>/packet.pdf")
def appeal_packet(appeal_id: int) -> ResponseReturnValue:
    """The appeal letter followed by the chosen documents (``?doc=ID``, in the order given), as one PDF."""
    appeal = appeal_queries.get_appeal_for_user_or_404(appeal_id, current_user)
    target = services.target("appeal", appeal.id, practice_ids_for(current_user))
    if target is None:
        abort(404)
    related = {d.id: d for d in services.related_documents(target)}
    chosen = [related[i] for i in dict.fromkeys(request.args.getlist("doc", type=int)) if i in related]
    body = services.packet(appeal_pdf(appeal), chosen)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="appeal-{appeal.id}-packet.pdf"'})  # fmt: skip


def _item_panel(item: WorkItem) -> dict[str, Any]:
    target = services.target("item", item.id, {item.practice_id})
    form = UploadForm(formdata=None, target_type="item", target_id=str(item.id))
    return {"documents": services.related_documents(target) if target else [], "form": form}


register(Panel("documents", "documents/_panel.html", applies=lambda item: True, context=_item_panel, order=90))


def upload_form(kind: str, target_id: int) -> UploadForm:
    """An upload form for a page that is not an item (the appeal and patient pages)."""
    return UploadForm(formdata=None, target_type=kind, target_id=str(target_id))


@bp.app_context_processor
def _document_helpers() -> dict[str, Any]:
    """``attached(kind, id)`` and ``upload_form(kind, id)`` for pages of other features (the appeal and patient
    pages) without those features importing this one."""

    def attached(kind: str, target_id: int) -> list[Document]:
        target = services.target(kind, target_id, practice_ids_for(current_user))
        return services.related_documents(target) if target else []

    return {"attached": attached, "upload_form": upload_form}
