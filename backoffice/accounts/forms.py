"""Sign-in, second-factor, password and account-admin forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, HiddenField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange

from backoffice.accounts.rules import MAX_PASSWORD_LENGTH, MAX_REMEMBER_DAYS
from backoffice.forms import Form


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    next = HiddenField()


class CodeForm(Form):
    """The second step: a 6-digit code from the authenticator app, or a recovery code."""

    code = StringField("Code", validators=[DataRequired(), Length(max=40)])
    remember = BooleanField("Remember this browser")


class EnrolForm(Form):
    code = StringField("Code from the app", validators=[DataRequired(), Length(max=12)])


class PasswordChangeForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    # InputRequired, not DataRequired: a password of spaces reaches the policy, which says why it is refused.
    new_password = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)])
    confirm = PasswordField("New password again", validators=[InputRequired(), EqualTo("new_password", "must match")])


class ActionForm(Form):
    """A button that changes something: only the CSRF token."""


class MfaPolicyForm(Form):
    admin = BooleanField("Admins")
    supervisor = BooleanField("Supervisors")
    biller = BooleanField("Billers")
    remember_days = IntegerField(
        "Remember a browser for (days, 0: never)", validators=[NumberRange(min=0, max=MAX_REMEMBER_DAYS)]
    )
