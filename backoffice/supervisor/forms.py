"""Supervisor forms: they check shape only; the services check the rules."""

from __future__ import annotations

from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from backoffice.forms import Form, MoneyField, WholeNumberField
from backoffice.inputs import MONEY_MAX
from backoffice.supervisor.rules import WRITE_OFF_LABELS, Balance, SlaFilter, Target
from backoffice.work.forms import choices
from backoffice.work.rules import KIND_LABELS

SLA_LABELS = {
    SlaFilter.BREACHED: "Breached",
    SlaFilter.DUE_SOON: "Due within 4 hours",
    SlaFilter.OK: "On time",
    SlaFilter.NONE: "No deadline",
}


class FilterForm(Form):
    """The bulk-reassign and breach filters (GET: no CSRF, nothing changes)."""

    class Meta:
        csrf = False

    kind = SelectField("Kind", validators=[Optional()], choices=choices([("", "Any")] + list(KIND_LABELS.items())))
    reason_code = StringField("CARC / reason code", validators=[Optional(), Length(max=16)])
    payer_id = SelectField("Payer", coerce=str, validators=[Optional()])
    practice_id = SelectField("Practice", coerce=str, validators=[Optional()])
    queue = SelectField("Queue", validators=[Optional()])
    min_age_days = WholeNumberField("Older than (days)", validators=[Optional()], low=0, high=3650)
    max_age_days = WholeNumberField("Newer than (days)", validators=[Optional()], low=0, high=3650)
    min_amount = MoneyField("Amount from", validators=[Optional()])
    max_amount = MoneyField("Amount to", validators=[Optional()])
    assignee = SelectField("Owner", validators=[Optional()])
    sla = SelectField("SLA", validators=[Optional()], choices=choices([("", "Any")] + list(SLA_LABELS.items())))


class ConfirmForm(Form):
    token = HiddenField(validators=[DataRequired()])
    target = RadioField(
        "Move to",
        choices=choices(
            [
                (Target.PERSON.value, "One person"),
                (Target.QUEUE.value, "Back to the queue (unassigned)"),
                (Target.SPREAD.value, "Spread evenly (least loaded first)"),
            ]
        ),
        default=Target.PERSON.value,
        validators=[DataRequired()],
    )
    assignee_id = SelectField("Person", coerce=int, validators=[Optional()])
    spread_to = SelectMultipleField(
        "Spread across", coerce=int, validators=[Optional()], widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )  # fmt: skip
    reason = StringField("Reason", validators=[DataRequired(), Length(max=2000)])


class WriteOffRequestForm(Form):
    balance = SelectField(
        "Balance",
        choices=choices([(Balance.INSURANCE.value, "Insurance (payer)"), (Balance.PATIENT.value, "Patient")]),
        validators=[DataRequired()], id="write-off-balance",
    )  # fmt: skip
    amount = MoneyField("Amount", validators=[InputRequired()], low=-MONEY_MAX, id="write-off-amount")
    reason = SelectField(
        "Reason", choices=choices(WRITE_OFF_LABELS.items()), validators=[DataRequired()], id="write-off-reason"
    )
    note = TextAreaField(
        "Note (hardship: the documented determination)", validators=[Optional(), Length(max=2000)], id="write-off-note"
    )


class DecisionForm(Form):
    decision = StringField("Decision", validators=[DataRequired(), AnyOf(["approve", "reject"])])  # the clicked button
    note = StringField("Note", validators=[Optional(), Length(max=2000)])
