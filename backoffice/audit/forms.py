"""The audit page's filter form (a GET form: filtering changes nothing, so it carries no CSRF token)."""

from __future__ import annotations

from datetime import date

from wtforms import SelectField
from wtforms.validators import Optional

from backoffice.forms import Form, PlausibleDateField, WholeNumberField

EARLIEST_AUDIT = date(2000, 1, 1)  # the audit trail is younger than this


class AuditFilterForm(Form):
    class Meta:
        csrf = False

    user_id = SelectField("User", coerce=int, validators=[Optional()])
    patient_id = WholeNumberField("Patient id", validators=[Optional()], low=1)
    action = SelectField("Action", validators=[Optional()])
    date_from = PlausibleDateField("From", validators=[Optional()], earliest=EARLIEST_AUDIT, future_days=1)
    date_to = PlausibleDateField("To", validators=[Optional()], earliest=EARLIEST_AUDIT, future_days=1)
