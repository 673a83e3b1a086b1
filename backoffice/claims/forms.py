"""Claim correction forms (shapes only: the services check the billing rules)."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form, PlausibleDateField
from backoffice.work.forms import choices

SEXES = choices([("F", "F"), ("M", "M"), ("U", "U")])


class ReasonForm(Form):
    """Why (every correction carries its reason) and the claim version the biller saw."""

    version = HiddenField()
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=400)])


class HeaderForm(ReasonForm):
    """The claim header as the 837P carries it; a blank text field is left as it is."""

    date_of_service = PlausibleDateField("Date of service", validators=[Optional()], future_days=0)
    patient_first_name = StringField("Patient first name", validators=[Optional(), Length(max=100)])
    patient_last_name = StringField("Patient last name", validators=[Optional(), Length(max=100)])
    patient_date_of_birth = PlausibleDateField("Patient date of birth", validators=[Optional()], future_days=0)
    patient_sex = SelectField("Patient sex", choices=SEXES, validators=[Optional()])
    member_id = StringField("Member ID", validators=[Optional(), Length(max=40)])
    group_number = StringField("Group number", validators=[Optional(), Length(max=40)])
    payer_id = SelectField("Payer", coerce=int, validators=[Optional()])
    subscriber_first_name = StringField("Subscriber first name", validators=[Optional(), Length(max=100)])
    subscriber_last_name = StringField("Subscriber last name", validators=[Optional(), Length(max=100)])
    subscriber_date_of_birth = PlausibleDateField("Subscriber date of birth", validators=[Optional()], future_days=0)
    diagnoses = StringField("Diagnoses (ICD-10, in order)", validators=[Optional(), Length(max=120)])
    auth_number = StringField("Authorization number (blank: none)", validators=[Optional(), Length(max=50)])
    rendering_provider_id = SelectField("Rendering provider", coerce=int, validators=[Optional()])


class CoverageForm(ReasonForm):
    """The coverage the claim was billed under, to fix before a rebill."""

    payer_id = SelectField("Payer", coerce=int, validators=[DataRequired()])
    member_id = StringField("Member ID", validators=[DataRequired(), Length(max=40)])
    group_number = StringField("Group number", validators=[Optional(), Length(max=40)])
