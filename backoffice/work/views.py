"""Work-queue screens: my queue, Get next, the item page and its actions, the supervisor board."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from backoffice.accounts.access import can_supervise
from backoffice.accounts.models import User
from backoffice.audit.services import record_phi_reads
from backoffice.clock import utcnow
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.form_actions import keep, run_form
from backoffice.work import claiming, queries, services
from backoffice.work.access import get_item_for_user_or_404
from backoffice.work.forms import (
    ActionForm,
    CallForm,
    CompleteForm,
    EscalateForm,
    NoteForm,
    ReassignForm,
    SnoozeForm,
)
from backoffice.work.pages import assignee_choices, payer_choices, render_item

bp = Blueprint("work", __name__)


@bp.before_request
@login_required
def _require_login() -> None:
    """Every work screen needs a signed-in user."""


@bp.route("/")
def index():
    return redirect(url_for("work.queue"))


@bp.route("/queue")
def queue():
    now = utcnow()
    tz = ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)
    filters, errors = queries.parse_filter(request.args, current_user)
    for error in errors:
        flash(f"Filter ignored: {error}", "error")
    choices_ = queries.filter_choices(current_user)
    # A short page renders fast (rows are most of the page's cost); "show more" asks for the full 200.
    limit = queries.QUEUE_PAGE_LIMIT if request.args.get("more") == "1" else queries.QUEUE_PAGE_SHORT
    mine = queries.my_items(current_user, filters=filters, now=now, tz=tz, limit=limit)
    team = queries.team_items(current_user, filters=filters, now=now, tz=tz, limit=limit)
    row_ctx = queries.row_context([*mine, *team])
    practice_of = {item.id: item.practice_id for item in [*mine, *team]}
    # The rows name patients: on the audit trail like any list of patients (HIPAA 164.312(b)).
    record_phi_reads(((ctx[0], practice_of[item_id]) for item_id, ctx in row_ctx.items() if ctx[0]),
                     action="phi_view", target_type="queue")  # fmt: skip
    return render_template(
        "work/queue.html",
        mine=mine,
        team=team,
        row_ctx=row_ctx,
        limit=limit,
        more_url=url_for("work.queue", **filters.args(), more="1"),
        choices=choices_,
        payer_names=dict(choices_["payers"]),
        filters=filters,
        selected_queue=filters.queue,
        action_form=ActionForm(),
        now=now,
    )


@bp.route("/items/next", methods=["POST"])
def get_next():
    if not ActionForm().validate_on_submit():
        abort(400)
    queue_name = (request.form.get("queue") or "").strip()[:64] or None
    return _next_item(queue_name)


@bp.route("/items/<int:item_id>")
def item(item_id: int):
    return render_item(get_item_for_user_or_404(item_id, current_user), older=request.args.get("older", type=int))


@bp.route("/items/<int:item_id>/start", methods=["POST"])
def start(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    return _act(
        work_item,
        ActionForm(),
        lambda f: services.start_item(item=work_item, actor=current_user, now=utcnow()),
        "Started.",
    )


@bp.route("/items/<int:item_id>/complete", methods=["POST"])
def complete(item_id: int):
    """Complete the item; with ``then=next`` ("Complete and next") go straight to the next item of its queue."""
    work_item = get_item_for_user_or_404(item_id, current_user)
    form = CompleteForm()
    done = run_form(
        form,
        lambda f: services.complete_item(
            item=work_item, actor=current_user, now=utcnow(), outcome=f.outcome.data, note=f.note.data
        ),
        "Completed.",
    )
    if not done:
        keep(form)
        return render_item(work_item, 422)
    if request.form.get("then") != "next":
        return redirect(url_for("work.item", item_id=work_item.id), 303)
    return _next_item(work_item.queue)


def _next_item(queue_name: str | None):
    """Claim the next item (of ``queue_name``, else of the user's queues) and open it; the queue when none waits."""
    back = url_for("work.queue", queue=queue_name) if queue_name else url_for("work.queue")
    try:
        item = claiming.claim_next_item(user=current_user, now=utcnow(), queue=queue_name)
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(back, 303)
    if item is None:
        where = f"queue {queue_name}" if queue_name else "your queues"
        flash(f"Nothing is waiting in {where}. Nice work.", "info")
        return redirect(back, 303)
    return redirect(url_for("work.item", item_id=item.id), 303)


@bp.route("/items/<int:item_id>/snooze", methods=["POST"])
def snooze(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    tz = ZoneInfo(work_item.practice.timezone)
    return _act(
        work_item,
        SnoozeForm(),
        lambda f: services.snooze_item(
            item=work_item, actor=current_user, now=utcnow(), until=_aware(f.until.data, tz), reason=f.reason.data
        ),
        "Snoozed.",
    )


@bp.route("/items/<int:item_id>/escalate", methods=["POST"])
def escalate(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    return _act(
        work_item,
        EscalateForm(),
        lambda f: services.escalate_item(item=work_item, actor=current_user, now=utcnow(), reason=f.reason.data),
        "Escalated to a supervisor.",
    )


@bp.route("/items/<int:item_id>/notes", methods=["POST"])
def note(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    return _act(
        work_item,
        NoteForm(),
        lambda f: services.add_note(item=work_item, actor=current_user, now=utcnow(), body=f.body.data),
        "Note added.",
    )


@bp.route("/items/<int:item_id>/calls", methods=["POST"])
def call(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    form = _call_form()
    return _act(
        work_item,
        form,
        lambda f: services.log_call(
            item=work_item,
            actor=current_user,
            now=utcnow(),
            outcome=f.outcome.data,
            payer_id=f.payer_id.data or None,
            phone_line=f.phone_line.data,
            representative=f.representative.data,
            reference_number=f.reference_number.data,
            next_action=f.next_action.data,
            duration_minutes=f.duration_minutes.data,
            body=f.body.data,
        ),
        "Call logged.",
    )


@bp.route("/items/<int:item_id>/reassign", methods=["POST"])
def reassign(item_id: int):
    work_item = get_item_for_user_or_404(item_id, current_user)
    form = _reassign_form(work_item)

    def do(f: ReassignForm) -> Any:
        assignee = db.session.get(User, f.assignee_id.data) if f.assignee_id.data else None
        return services.reassign_item(
            item=work_item, actor=current_user, now=utcnow(), assignee=assignee, reason=f.reason.data
        )

    return _act(work_item, form, do, "Reassigned.")


@bp.route("/supervisor")
def supervisor():
    if not can_supervise(current_user):
        abort(403)
    now = utcnow()
    tz = ZoneInfo(current_app.config["BACKOFFICE_SETTINGS"].timezone)
    escalations = request.args.get("escalations", "people")
    if escalations not in queries.ESCALATION_SOURCES:
        escalations = "people"
    queues = queries.queue_overview(current_user, now)
    known = {*(q for q, _ in queries.filter_choices(current_user)["queues"]), *(row.queue for row in queues)}
    return render_template(
        "supervisor/board.html",
        queues=queues,
        unworked=queries.unworked_queues(current_user, known),
        billers=queries.biller_workload(current_user, now, tz),
        escalated=queries.escalated_items(current_user, source=escalations),
        escalations=escalations,
        breached=queries.breached_items(current_user, now),
        now=now,
    )


def _call_form() -> CallForm:
    return payer_choices(CallForm())


def _reassign_form(work_item: Any) -> ReassignForm:
    return assignee_choices(ReassignForm(), work_item)


def _act(work_item: Any, form: FlaskForm, action: Callable[[Any], Any], done: str):
    """Validate ``form``, run one service, flash the outcome, go back to the item; when the form is refused, the
    page comes back at once (422) with what the user typed still in it."""
    if run_form(form, action, done):
        return redirect(url_for("work.item", item_id=work_item.id), 303)
    keep(form)
    return render_item(work_item, 422)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value.replace(tzinfo=tz)
