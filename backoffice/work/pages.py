"""The work-item page as a function: the item view renders it, and so does any POST whose form was refused (the
page comes back at once with what the user typed, instead of a redirect that would lose it). Features' item forms
(``itemforms``) use it the same way."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from backoffice.accounts.access import can_supervise
from backoffice.audit.services import record_phi_read
from backoffice.clock import utcnow
from backoffice.extensions import db
from backoffice.form_actions import kept_or_new
from backoffice.orgs.models import Payer
from backoffice.work import queries
from backoffice.work.forms import (
    ActionForm,
    CallForm,
    CompleteForm,
    EscalateForm,
    NoteForm,
    ReassignForm,
    SnoozeForm,
    choices,
)
from backoffice.work.models import WorkItem
from backoffice.work.panels import panels_for


def payer_choices(form: CallForm) -> CallForm:
    payers = db.session.scalars(
        select(Payer).where(Payer.organization_id == current_user.organization_id).order_by(Payer.name)
    )
    form.payer_id.choices = choices([(0, "—")] + [(p.id, p.name) for p in payers])
    return form


def assignee_choices(form: ReassignForm, work_item: Any) -> ReassignForm:
    people = queries.assignable_users(work_item, current_user)
    form.assignee_id.choices = choices(
        [(0, "Back to queue (unassigned)")] + [(u.id, f"{u.name} ({u.role.value})") for u in people]
    )
    return form


def render_item(work_item: WorkItem, status: int = 200, *, older: int | None = None) -> Any:
    """The item page. After a form failed (``form_actions.keep``), that form shows what the user typed with its
    errors (status 422); every other form starts empty. ``older``: the timeline's page after that entry."""
    call_form, call_kept = kept_or_new(CallForm)
    payer_choices(call_form)
    reassign_form, _ = kept_or_new(ReassignForm)
    assignee_choices(reassign_form, work_item)
    session, coverages = queries.session_of(work_item)
    patient_id = work_item.patient_id or (session.patient_id if session is not None else None)
    if patient_id is not None:  # the page shows the patient: on the audit trail (HIPAA 164.312(b))
        record_phi_read(patient_id=patient_id, practice_id=work_item.practice_id, target_type="work_item",
                        target_id=work_item.id)  # fmt: skip
    if coverages and not call_kept and call_form.payer_id.data is None:
        call_form.payer_id.data = coverages[0].payer_id  # the payer a biller calls first: the primary
    now = utcnow()
    page = render_template(
        "work/item.html",
        item=work_item,
        session=session,
        coverages=coverages,
        chain=queries.chain_of(work_item),
        timeline=queries.timeline(work_item, before=older),
        panels=panels_for(work_item),
        header_panels=panels_for(work_item, "header"),
        note_form=kept_or_new(NoteForm)[0],
        call_form=call_form,
        complete_form=kept_or_new(CompleteForm)[0],
        snooze_form=kept_or_new(SnoozeForm)[0],
        escalate_form=kept_or_new(EscalateForm)[0],
        reassign_form=reassign_form,
        action_form=ActionForm(formdata=None),
        can_supervise=can_supervise(current_user),
        now=now,
        sla_pause=queries.sla_pause_note(work_item, now),
    )
    return page, status
