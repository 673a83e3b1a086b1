"""Contract and invoice forms: shape only (types, ranges, required); the services check the rules."""

from __future__ import annotations

from decimal import Decimal

from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.contracts.rules import FeeBasis
from backoffice.forms import Form, MoneyField, PlausibleDateField, WholeNumberField
from backoffice.work.forms import choices
from backoffice.work.rules import WorkKind

STEP_CHOICES = choices((str(kind), str(kind).replace("_", " ")) for kind in WorkKind)


class ContractForm(Form):
    effective_from = PlausibleDateField("Effective from", validators=[DataRequired()], future_days=366)
    effective_to = PlausibleDateField("Effective to (blank: open-ended)", validators=[Optional()], future_days=3660)
    owned_steps = SelectMultipleField("Steps we own", choices=STEP_CHOICES, validators=[Optional()])
    percent = MoneyField("Percent of collections", validators=[DataRequired()], high=Decimal(100))
    basis = SelectField("Basis", choices=choices((b.value, b.value) for b in FeeBasis), validators=[DataRequired()])
    monthly_minimum = MoneyField("Monthly minimum", validators=[Optional()], high=Decimal(1_000_000))
    per_claim = MoneyField("Per claim", validators=[Optional()], high=Decimal(10_000))
    per_appeal = MoneyField("Per appeal", validators=[Optional()], high=Decimal(10_000))
    setup_fee = MoneyField("One-time setup fee", validators=[Optional()], high=Decimal(1_000_000))
    late_cancel_fee = MoneyField(
        "Late-cancel / no-show fee (self-pay patients)", validators=[Optional()], high=Decimal(10_000)
    )
    late_cancel_hours = WholeNumberField(
        "Late if cancelled less than (hours before)", validators=[Optional()], low=0, high=720
    )
    sla_verify_benefits = WholeNumberField("SLA verify benefits (hours)", validators=[Optional()], low=1, high=8760)
    sla_enter_charge = WholeNumberField("SLA enter charge (hours)", validators=[Optional()], low=1, high=8760)
    sla_submit = WholeNumberField("SLA submit (hours)", validators=[Optional()], low=1, high=8760)
    sla_follow_up = WholeNumberField("SLA follow up (hours)", validators=[Optional()], low=1, high=8760)
    sla_appeal = WholeNumberField("SLA appeal (hours)", validators=[Optional()], low=1, high=8760)

    SLA_FIELDS = ("verify_benefits", "enter_charge", "submit", "follow_up", "appeal")


class CloseForm(Form):
    practice_id = SelectField("Practice", coerce=int, validators=[DataRequired()])
    month = StringField("Month (YYYY-MM)", validators=[DataRequired(), Length(min=7, max=7)])


class MoveForm(Form):
    status = SelectField("Status", choices=choices([("approved", "approve"), ("sent", "sent"), ("paid", "paid"),
                                                    ("void", "void")]), validators=[DataRequired()])  # fmt: skip
    paid_on = PlausibleDateField("Paid on", validators=[Optional()])


class CreditForm(Form):
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(1_000_000))
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=500)])
