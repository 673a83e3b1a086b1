"""The billing staff's side of requests to the practice: the item-page panel (the requests sent from the item and
the form to send one) and its POST."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.portal import queries, services
from backoffice.portal.forms import ACCEPT, SendRequestForm
from backoffice.portal.rules import TYPE_LABELS
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.models import WorkItem
from backoffice.work.panels import Panel, register
from backoffice.work.rules import OPEN_STATES, ExceptionKind, ItemState

bp = Blueprint("practice_requests", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Staff only (practice users are confined to the portal before this runs)."""


@bp.route("/items/<int:item_id>/practice-request", methods=["POST"])
def send(item_id: int) -> ResponseReturnValue:
    item = get_item_for_user_or_404(item_id, current_user)
    form = SendRequestForm()
    if not form.validate_on_submit():
        for field, problems in form.errors.items():
            flash(f"{field}: {'; '.join(problems)}", "error")
        return redirect(url_for("work.item", item_id=item.id))
    data = form.file.data
    upload = (data.filename, data.read()) if data is not None and getattr(data, "filename", "") else None
    try:
        request = services.send_request(
            origin=item, actor=current_user, now=utcnow(), request_type=form.request_type.data or "",
            message=form.message.data or "", blocks_submission=bool(form.blocks_submission.data), upload=upload,
        )  # fmt: skip
    except ServiceError as error:
        flash(str(error), "error")
    else:
        flash(f"Request #{request.work_item_id} sent to the practice; this item's SLA is paused until it answers.",
              "ok")  # fmt: skip
    return redirect(url_for("work.item", item_id=item.id))


def _applies(item: WorkItem) -> bool:
    return item.kind != ExceptionKind.PRACTICE_REQUEST


def _panel(item: WorkItem) -> dict[str, Any]:
    can_send = item.state in OPEN_STATES and (item.state != ItemState.BLOCKED or _paused(item))
    return {"requests": queries.requests_from(item.id), "form": SendRequestForm(formdata=None), "can_send": can_send,
            "labels": TYPE_LABELS, "accept": ACCEPT}  # fmt: skip


def _paused(item: WorkItem) -> bool:
    return any(r.answered_at is None for r in queries.requests_from(item.id))


def _request_panel(item: WorkItem) -> dict[str, Any]:
    return {"request": queries.request_of_item(item.id), "labels": TYPE_LABELS}


register(Panel("practice_request", "portal/_staff_panel.html", applies=_applies, context=_panel, order=95))
register(
    Panel(
        "practice_request_facts",
        "portal/_request_facts.html",
        applies=lambda item: item.kind == ExceptionKind.PRACTICE_REQUEST,
        context=_request_panel,
        order=5,
    )
)
