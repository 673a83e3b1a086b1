"""Patient-balance forms: they check shape only (types, ranges, required); services check the rules."""

from __future__ import annotations

from decimal import Decimal

from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from backoffice.balances import rules
from backoffice.balances.services import PAUSE_REASONS
from backoffice.forms import Form, MoneyField, PlausibleDateField, SubForm, WholeNumberField
from backoffice.work.forms import choices

TIER_ROWS = 6
GFE_SERVICE_ROWS = 3


class TierRow(SubForm):
    name = StringField("Name", validators=[Optional(), Length(max=80)])
    max_fpl_percent = WholeNumberField("Up to % of FPL", validators=[Optional()], low=1, high=rules.MAX_FPL_PERCENT)
    discount_percent = MoneyField("Discount %", validators=[Optional()], high=Decimal(100))
    flat_fee = MoneyField("Flat fee", validators=[Optional()], high=Decimal(100_000))

    def is_blank(self) -> bool:
        return not any(f.data not in (None, "") for f in (self.name, self.max_fpl_percent, self.discount_percent,
                                                          self.flat_fee))  # fmt: skip


class SlidingScaleForm(Form):
    tiers = FieldList(FormField(TierRow), min_entries=TIER_ROWS, max_entries=20)

    def validate_tiers(self, field: FieldList) -> None:
        for n, row in enumerate(field.entries, start=1):
            if not row.form.is_blank() and (not row.form.name.data or row.form.max_fpl_percent.data is None):
                raise ValidationError(f"tier {n}: a name and an FPL bound are required (or clear the whole row)")

    def rule_tiers(self) -> list[rules.Tier]:
        """The filled rows (a row left wholly blank is not a tier)."""
        return [
            rules.Tier(None, row.form.name.data.strip(), row.form.max_fpl_percent.data, row.form.discount_percent.data,
                       row.form.flat_fee.data)
            for row in self.tiers.entries if not row.form.is_blank()
        ]  # fmt: skip


class DeterminationForm(Form):
    household_size = WholeNumberField("Household size", validators=[DataRequired()], low=1, high=rules.MAX_HOUSEHOLD)
    annual_income = MoneyField(
        "Annual household income", validators=[Optional(strip_whitespace=True)], high=Decimal(100_000_000)
    )
    evidence = StringField("Evidence seen", validators=[DataRequired(), Length(max=200)])

    def validate_annual_income(self, field: MoneyField) -> None:
        if field.data is None:
            raise ValidationError("required (0 when there is no income)")


class PlanForm(Form):
    instalment_count = WholeNumberField("Instalments", validators=[DataRequired()], low=1, high=rules.MAX_INSTALMENTS)
    first_due_on = PlausibleDateField("First due", validators=[DataRequired()])
    interval = SelectField("Every", choices=choices((i, i) for i in rules.INTERVALS), validators=[DataRequired()])
    autopay = BooleanField("Autopay / card on file authorized")
    agreement_signed_on = PlausibleDateField("Agreement signed", validators=[Optional()], future_days=1)
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)])


class PaymentForm(Form):
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(1_000_000))
    paid_on = PlausibleDateField("Paid on", validators=[DataRequired()])  # the service: not after local today


class PauseForm(Form):
    reason = SelectField("Reason", choices=choices(PAUSE_REASONS.items()), validators=[DataRequired()])


class WaiverForm(Form):
    amount = MoneyField("Amount", validators=[DataRequired()], low=Decimal("0.01"), high=Decimal(1_000_000))
    reason = StringField("Reason", validators=[DataRequired(), Length(max=150)])


class ServiceRow(SubForm):
    cpt = SelectField("CPT", validators=[Optional()])
    sessions = WholeNumberField("Sessions", validators=[Optional()], low=1, high=rules.MAX_GFE_SESSIONS)


class GfeForm(Form):
    provider_id = SelectField("Provider", coerce=int, validators=[DataRequired()])
    services = FieldList(FormField(ServiceRow), min_entries=GFE_SERVICE_ROWS, max_entries=GFE_SERVICE_ROWS)
    diagnosis_codes = StringField("Diagnosis codes (comma-separated)", validators=[DataRequired(), Length(max=200)])
    scheduled_on = PlausibleDateField("Scheduled on", validators=[Optional()])
    requested_on = PlausibleDateField("Requested on", validators=[Optional()])
    first_service_on = PlausibleDateField("First session", validators=[Optional()])
    covers_from = PlausibleDateField("Covers from", validators=[DataRequired()])
    covers_to = PlausibleDateField("Covers to", validators=[DataRequired()])
    declines_insurance = BooleanField("Insured, but chose not to bill insurance")

    def validate_services(self, field: FieldList) -> None:
        filled = 0
        for n, row in enumerate(field.entries, start=1):
            cpt, sessions = row.form.cpt.data, row.form.sessions.data
            if cpt and sessions:
                filled += 1
            elif cpt or sessions:
                raise ValidationError(f"service {n}: choose a CPT and a number of sessions (or clear both)")
        if not filled:
            raise ValidationError("at least one expected service")

    def expected(self) -> list[tuple[str, int]]:
        return [(r.form.cpt.data, r.form.sessions.data) for r in self.services.entries if r.form.cpt.data]


class StatementForm(Form):
    period_from = PlausibleDateField("From", validators=[DataRequired()])
    period_to = PlausibleDateField("To", validators=[DataRequired()])
