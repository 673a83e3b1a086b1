"""Provider and enrolment forms: shape only (the services check NPIs, licences, supervision and dates)."""

from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.credentialing.rules import STATUS_LABELS, EnrollmentInput, ProviderInput
from backoffice.forms import Form, PlausibleDateField
from backoffice.orgs.rules import Credential

FAR = 365 * 20


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class ProviderForm(Form):
    first_name = StringField("First name", validators=[DataRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[DataRequired(), Length(max=100)])
    npi = StringField("Individual NPI", validators=[DataRequired(), Length(max=10)])
    credential = SelectField("Credential", choices=[(c.value, c.value) for c in Credential])
    taxonomy = StringField("Taxonomy", validators=[DataRequired(), Length(max=10)])
    license_type = StringField("Licence type", validators=[Optional(), Length(max=20)])
    license_number = StringField("Licence number", validators=[Optional(), Length(max=40)])
    license_state = StringField("Licence state", validators=[Optional(), Length(max=2)])
    license_expires_on = PlausibleDateField("Licence expires", validators=[Optional()], future_days=FAR)
    active_from = PlausibleDateField("Active from", validators=[Optional()], future_days=FAR)
    active_to = PlausibleDateField("Active to", validators=[Optional()], future_days=FAR)
    supervising_npi = SelectField("Supervisor (for an associate)", default="")
    active = BooleanField("Active", default=True)

    def values(self) -> ProviderInput:
        return ProviderInput(
            first_name=self.first_name.data.strip(), last_name=self.last_name.data.strip(),
            npi=self.npi.data.strip(), credential=self.credential.data, taxonomy=self.taxonomy.data.strip().upper(),
            license_type=_text(self.license_type.data), license_number=_text(self.license_number.data),
            license_state=(_text(self.license_state.data) or "").upper() or None,
            license_expires_on=self.license_expires_on.data, active_from=self.active_from.data,
            active_to=self.active_to.data, supervising_npi=self.supervising_npi.data or None,
            active=bool(self.active.data),
        )  # fmt: skip


class ProvidersImportForm(Form):
    csv_text = TextAreaField("Providers CSV", validators=[DataRequired(), Length(max=2_000_000)])


class EnrollmentForm(Form):
    provider_id = SelectField("Provider", coerce=int)
    payer_id = SelectField("Payer", coerce=int)
    status = SelectField("Status", choices=[(s.value, label) for s, label in STATUS_LABELS.items()])
    submitted_on = PlausibleDateField("Submitted", validators=[Optional()], future_days=FAR)
    effective_from = PlausibleDateField("Effective from", validators=[Optional()], future_days=FAR)
    terminated_on = PlausibleDateField("Terminated on", validators=[Optional()], future_days=FAR)
    payer_provider_id = StringField("Payer provider ID", validators=[Optional(), Length(max=40)])
    revalidation_due = PlausibleDateField("Revalidation due", validators=[Optional()], future_days=FAR)
    caqh_reattestation_due = PlausibleDateField("CAQH re-attestation due", validators=[Optional()], future_days=FAR)

    def values(self) -> EnrollmentInput:
        return EnrollmentInput(
            status=self.status.data, submitted_on=self.submitted_on.data, effective_from=self.effective_from.data,
            terminated_on=self.terminated_on.data, payer_provider_id=_text(self.payer_provider_id.data),
            revalidation_due=self.revalidation_due.data, caqh_reattestation_due=self.caqh_reattestation_due.data,
        )  # fmt: skip
