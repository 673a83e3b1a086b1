"""Forms for patient payments, refunds and deposits (shape only; the services decide)."""

from __future__ import annotations

from decimal import Decimal

from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form, MoneyField, PlausibleDateField
from backoffice.money import rules
from backoffice.work.forms import choices


class PatientPaymentForm(Form):
    method = SelectField("Method", choices=choices(list(rules.METHODS.items())), validators=[DataRequired()])
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(1_000_000))
    received_on = PlausibleDateField("Received on", validators=[DataRequired()], future_days=0)
    reference = StringField("Check / card reference", validators=[Optional(), Length(max=80)])
    batch = StringField("Deposit batch", validators=[Optional(), Length(max=40)])
    claim_ids = SelectMultipleField("Apply to (empty: oldest balance first)", coerce=str, validators=[Optional()])
    note = StringField("Note", validators=[Optional(), Length(max=200)])


class RefundRequestForm(Form):
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(1_000_000))
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])


class RefundDecisionForm(Form):
    decision = SelectField("Decision", choices=choices([("approve", "Approve"), ("reject", "Reject")]))
    note = StringField("Note (required to reject)", validators=[Optional(), Length(max=2000)])


class RefundPostForm(Form):
    reference = StringField("Refund check / card reversal reference", validators=[Optional(), Length(max=80)])


class DepositForm(Form):
    practice_id = SelectField("Practice", coerce=str, validators=[DataRequired()])
    deposited_on = PlausibleDateField("Deposited on", validators=[DataRequired()], future_days=0)
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(100_000_000))
    kind = SelectField("Kind", choices=choices(list(rules.DEPOSIT_KINDS.items())), validators=[DataRequired()])
    trace_number = StringField("EFT trace / check number", validators=[Optional(), Length(max=80)])
    batch = StringField("Patient batch", validators=[Optional(), Length(max=40)])
