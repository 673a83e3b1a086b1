"""Item-form shapes (CSRF, types, lengths); the services check the billing rules."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form, MoneyField, PlausibleDateField, WholeNumberField
from backoffice.work.forms import choices

TRI_STATE = choices([("", "not stated"), ("yes", "yes"), ("no", "no")])


def tri_state(value: str | None) -> bool | None:
    """A yes / no / not-stated select as True / False / None."""
    return {"yes": True, "no": False}.get(value or "")


class BenefitsForm(Form):
    # Explicit ids: the item page holds the work forms too, whose fields share some names.
    coverage_id = SelectField("Coverage", coerce=int, validators=[Optional()], id="benefits-coverage")
    active = SelectField("Active on the DOS", choices=TRI_STATE, validators=[Optional()], id="benefits-active")
    in_network = SelectField("In network", choices=TRI_STATE, validators=[Optional()], id="benefits-network")
    copay = MoneyField("Copay $", validators=[Optional()], id="benefits-copay")
    coinsurance_percent = MoneyField("Coinsurance %", validators=[Optional()], id="benefits-coinsurance")
    deductible_remaining = MoneyField("Deductible remaining $", validators=[Optional()],
                                        id="benefits-deductible")  # fmt: skip
    out_of_pocket_remaining = MoneyField("Out-of-pocket remaining $", validators=[Optional()],
                                           id="benefits-oop")  # fmt: skip
    visits_allowed = WholeNumberField("Visits allowed", validators=[Optional()], high=10_000,
                                      id="benefits-visits-allowed")  # fmt: skip
    visits_remaining = WholeNumberField("Visits remaining", validators=[Optional()], high=10_000,
                                        id="benefits-visits-remaining")  # fmt: skip
    auth_required = SelectField("Prior auth required", choices=TRI_STATE, validators=[Optional()], id="benefits-auth")
    carve_out_payer_name = StringField("Carve-out payer", validators=[Optional(), Length(max=200)],
                                       id="benefits-carve-name")  # fmt: skip
    carve_out_payer_id = StringField("Carve-out payer ID", validators=[Optional(), Length(max=80)],
                                     id="benefits-carve-id")  # fmt: skip
    reference_number = StringField("Call / portal reference #", validators=[Optional(), Length(max=80)],
                                   id="benefits-reference")  # fmt: skip


class AuthorizationForm(Form):
    coverage_id = SelectField("Coverage", coerce=int, validators=[Optional()], id="auth-coverage")
    number = StringField("Authorization #", validators=[DataRequired(), Length(max=50)], id="auth-number")
    cpt_codes = StringField("CPT codes", validators=[DataRequired(), Length(max=200)], id="auth-cpts")
    counts = SelectField("Counts", choices=choices([("visits", "visits"), ("units", "units")]), id="auth-counts")
    authorized = WholeNumberField("Authorized", validators=[DataRequired()], low=1, high=10_000, id="auth-authorized")
    start_date = PlausibleDateField("Start date", validators=[DataRequired()], id="auth-start")
    end_date = PlausibleDateField("End date", validators=[DataRequired()], id="auth-end")


class LinesForm(Form):
    """Only the CSRF token and the claim version the biller saw: the lines are ``line-N-field`` inputs (a variable
    number), parsed and checked by the service; the pressed button's ``action`` says save or finish."""

    version = HiddenField()
