"""Work-item forms: they check shape only; services check the business rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form, WholeNumberField
from backoffice.work.rules import CallOutcome, CompletionOutcome


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """WTForms choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def _choices(enum: type) -> list[SelectChoice]:
    return choices((m.value, m.value.replace("_", " ").capitalize()) for m in enum)


class NoteForm(Form):
    body = TextAreaField("Note", validators=[DataRequired(), Length(max=10_000)])


class CallForm(Form):
    payer_id = SelectField("Payer", coerce=int, validators=[Optional()])
    phone_line = StringField("Phone line", validators=[Optional(), Length(max=40)])
    representative = StringField("Representative", validators=[Optional(), Length(max=120)])
    reference_number = StringField("Reference #", validators=[Optional(), Length(max=80)])
    # Explicit ids: the complete and note forms on the same page have fields with the same names.
    outcome = SelectField("Outcome", choices=_choices(CallOutcome), validators=[DataRequired()], id="call-outcome")
    next_action = StringField("Next action", validators=[Optional(), Length(max=2000)])
    duration_minutes = WholeNumberField("Minutes", validators=[Optional()], low=0, high=600)
    body = TextAreaField("Notes", validators=[Optional(), Length(max=10_000)], id="call-body")


class CompleteForm(Form):
    outcome = SelectField("Outcome", choices=_choices(CompletionOutcome), validators=[DataRequired()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=10_000)])


class SnoozeForm(Form):
    until = DateTimeLocalField("Until", format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])


class EscalateForm(Form):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])


class ReassignForm(Form):
    assignee_id = SelectField("Assign to", coerce=int, validators=[Optional()])
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])


class ActionForm(Form):
    """A form with only the CSRF token, for one-click actions (start, get next, release)."""
