"""Patient demographics and coverage-change forms: shape only (the services check dates, overlaps, subscribers)."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.coverage.rules import RELATIONSHIPS
from backoffice.forms import Form, PlausibleDateField

SEXES = [("F", "F"), ("M", "M"), ("U", "U")]


class PatientForm(Form):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=100)])
    date_of_birth = PlausibleDateField("Date of birth", validators=[DataRequired()], future_days=0)
    sex = SelectField("Sex", choices=SEXES)
    address_line1 = StringField("Address", validators=[Optional(), Length(max=200)])
    city = StringField("City", validators=[Optional(), Length(max=100)])
    state = StringField("State", validators=[Optional(), Length(max=2)])
    zip_code = StringField("ZIP", validators=[Optional(), Length(max=9)])
    phone = StringField("Phone", validators=[Optional(), Length(max=20)])


class CoverageForm(Form):
    payer_id = SelectField("Payer", coerce=int)
    member_id = StringField("Member ID", validators=[DataRequired(), Length(max=40)])
    group_number = StringField("Group number", validators=[Optional(), Length(max=40)])
    priority = SelectField("Priority", choices=[(p, p) for p in ("primary", "secondary", "tertiary")])
    relationship = SelectField("Patient is the subscriber's", choices=[(r, r) for r in RELATIONSHIPS])
    effective_from = PlausibleDateField("Effective from", validators=[DataRequired()])
    effective_to = PlausibleDateField("Effective to", validators=[Optional()])
    subscriber_first_name = StringField("Subscriber first name", validators=[Optional(), Length(max=100)])
    subscriber_last_name = StringField("Subscriber last name", validators=[Optional(), Length(max=100)])
    subscriber_date_of_birth = PlausibleDateField("Subscriber date of birth", validators=[Optional()], future_days=0)
    subscriber_sex = SelectField("Subscriber sex", choices=[("", "—"), *SEXES], default="")
