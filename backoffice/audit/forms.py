"""The audit page's filter form (a GET form: filtering changes nothing, so it carries no CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    user_id = SelectField("User", coerce=int, validators=[Optional()])
    patient_id = IntegerField("Patient id", validators=[Optional(), NumberRange(min=1)])
    action = SelectField("Action", validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
