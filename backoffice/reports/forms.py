"""The month-end filters: a date range and a practice (GET: no CSRF, nothing changes)."""

from __future__ import annotations

from wtforms import SelectField
from wtforms.validators import Optional

from backoffice.forms import Form, PlausibleDateField


class PeriodForm(Form):
    class Meta:
        csrf = False

    start = PlausibleDateField("From", validators=[Optional()], future_days=0)
    end = PlausibleDateField("To (inclusive)", validators=[Optional()], future_days=0)
    practice_id = SelectField("Practice", coerce=str, validators=[Optional()])
