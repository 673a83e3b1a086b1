"""Appeal forms: they check shape only; services check the rules (deadline, amounts, sandbox)."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.appeals import rules
from backoffice.appeals.rendering import MAX_BODY, MAX_LETTER
from backoffice.forms import Form, MoneyField, PlausibleDateField
from backoffice.remits.rules import Family
from backoffice.work.forms import choices

FAMILY_CHOICES = choices((f.value, f.value.replace("_", " ").capitalize()) for f in Family)
LEVEL_CHOICES = choices([(1, "Level 1"), (2, "Level 2"), (3, "Level 3 (external review)")])


class ActionForm(Form):
    """A button that posts nothing but its CSRF token."""


class LetterForm(Form):
    letter = TextAreaField("Letter", validators=[DataRequired(), Length(max=MAX_LETTER)])
    base = HiddenField()  # SHA-256 of the letter the edit started from
    from_item = HiddenField()


class RegenerateForm(Form):
    template_id = SelectField("Template", coerce=int, validators=[Optional()])
    from_item = HiddenField()


class SentForm(Form):
    sent_on = PlausibleDateField("Sent on", validators=[DataRequired()])
    method = SelectField("Method", choices=choices((m, m.capitalize()) for m in rules.SEND_METHODS),
                         validators=[DataRequired()])  # fmt: skip
    reference = StringField("Reference #", validators=[Optional(), Length(max=rules.MAX_REFERENCE)])
    late_reason = TextAreaField("Reason for a late send", validators=[Optional(), Length(max=rules.MAX_LATE_REASON)])


class WithdrawForm(Form):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=rules.MAX_LATE_REASON)])


class OutcomeForm(Form):
    outcome = SelectField("Outcome", choices=choices((o, o.capitalize()) for o in rules.OUTCOMES),
                          validators=[DataRequired()])  # fmt: skip
    decided_on = PlausibleDateField("Decision date", validators=[DataRequired()])
    recovered = MoneyField("Recovered $", validators=[Optional()])


class TemplateForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    denial_family = SelectField("Denial family", choices=FAMILY_CHOICES, validators=[DataRequired()])
    payer_id = SelectField("Payer", coerce=int, validators=[Optional()])
    level = SelectField("Level", coerce=int, choices=LEVEL_CHOICES, validators=[DataRequired()])
    body = TextAreaField("Body", validators=[DataRequired(), Length(max=MAX_BODY)])
    active = BooleanField("Active", default=True)


def errors_of(form: Form) -> str:
    """Shape errors as one message naming each field."""
    return "; ".join(f"{form[name].label.text}: {' '.join(msgs)}" for name, msgs in form.errors.items()
                     if name != "csrf_token") or "the form has expired; reload the page"  # fmt: skip
