"""Onboarding forms: shape only. Every business check (NPI check digit, TIN, time zone, overlapping rates...) is in
onboarding/rules.py, which the services apply, so a form, a file and the API refuse the same things the same way."""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from backoffice.forms import Form, SubForm
from backoffice.onboarding.rules import CLEARINGHOUSES, OWNABLE_STEPS
from backoffice.orgs.rules import PayerKind
from backoffice.work.forms import choices

TIME_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
              "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico")  # fmt: skip
KIND_LABELS = {
    "medicare": "Medicare", "medicare_advantage": "Medicare Advantage", "medicaid": "Medicaid fee-for-service",
    "medicaid_managed_care": "Medicaid managed care", "commercial": "Commercial", "tricare": "Tricare",
    "eap": "EAP", "behavioral_health_carve_out": "Behavioral health carve-out", "self_pay": "Self-pay",
}  # fmt: skip


class MultiCheckboxField(SelectMultipleField):
    """A list to choose from, as checkboxes (no free text)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _text(label: str, limit: int = 200) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=limit)])


class OrganizationForm(Form):
    name = _text("Name")
    legal_name = _text("Legal name")
    tin = _text("TIN (EIN, 9 digits)", 20)
    address_line1 = _text("Address")
    city = _text("City", 100)
    state = _text("State", 2)
    zip_code = _text("ZIP code", 10)
    edi_submitter_name = _text("EDI submitter name", 60)
    edi_submitter_id = _text("EDI submitter ID (ETIN)", 20)
    edi_contact_name = _text("EDI contact name", 60)
    edi_contact_phone = _text("EDI contact phone", 20)


class PracticeForm(Form):
    name = _text("Name")
    slug = _text("Slug", 64)
    npi = _text("Group NPI (type 2)", 20)
    tin = _text("TIN (9 digits)", 20)
    taxonomy = _text("Taxonomy", 20)
    time_zone = SelectField("Time zone", choices=choices((z, z) for z in TIME_ZONES), default="America/New_York")
    address_line1 = _text("Service address")
    address_line2 = _text("Address line 2")
    city = _text("City", 100)
    state = _text("State", 2)
    zip_code = _text("ZIP+4 (9 digits: an 837P's billing provider needs them)", 10)
    phone = _text("Phone", 20)
    pay_to_line1 = _text("Pay-to address (blank: the service address)")
    pay_to_city = _text("Pay-to city", 100)
    pay_to_state = _text("Pay-to state", 2)
    pay_to_zip_code = _text("Pay-to ZIP code", 10)
    owned_steps = MultiCheckboxField("Steps we own", choices=choices((s, s.replace("_", " ")) for s in OWNABLE_STEPS))
    sla_overrides = _text("SLA overrides (step=business days; …)", 500)
    clearinghouse = SelectField("Clearinghouse connection", choices=choices((c, c) for c in CLEARINGHOUSES))
    edi_outbox = _text("EDI outbox folder (file drop)", 500)
    edi_inbox = _text("EDI inbox folder (file drop)", 500)

    def values(self) -> dict[str, Any]:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class PayerForm(Form):
    payer_id = _text("Payer ID (clearinghouse)", 20)
    name = _text("Name")
    kind = SelectField("Kind", choices=choices((k.value, KIND_LABELS[k.value]) for k in PayerKind))
    filing_limit_days = _text("Timely filing limit (days)", 5)
    corrected_claim_window_days = _text("Corrected claim limit (days)", 5)
    appeal_window_days = _text("Appeal limit (days)", 5)
    clearinghouse_payer_ids = _text("Other clearinghouse payer IDs (; separated)", 300)
    claims_address = _text("Claims address", 300)
    appeals_address = _text("Appeals address", 300)
    appeals_fax = _text("Appeals fax", 20)
    appeals_portal = _text("Appeals portal", 300)
    phone = _text("Phone", 20)
    prior_auth_cpts = _text("CPTs needing prior authorization (; separated)", 500)
    telehealth_policy = TextAreaField("Telehealth policy (JSON)", validators=[Optional(), Length(max=2000)])
    coding_policy = TextAreaField(
        'Coding policy (JSON, e.g. {"associate_billing": "supervisor_2310d"}; docs/rules.md lists the keys)',
        validators=[Optional(), Length(max=8000)],
    )
    enrollment_required_837 = BooleanField("Enrolment required for claims (837)", default=True)
    enrollment_required_270 = BooleanField("Enrolment required for eligibility (270)", default=True)
    enrollment_required_835 = BooleanField("Enrolment required for remittances (835)", default=True)

    def values(self) -> dict[str, Any]:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class FeeRow(SubForm):
    cpt = _text("CPT", 5)
    modifier = _text("Modifier", 2)
    charge = _text("Charge", 20)


class FeeScheduleForm(Form):
    rows = FieldList(FormField(FeeRow), min_entries=1)


class RateRow(SubForm):
    payer_id = SelectField("Payer", choices=[])
    cpt = _text("CPT", 5)
    modifier = _text("Modifier", 2)
    allowed = _text("Allowed", 20)
    effective_from = _text("From", 10)
    effective_to = _text("To", 10)


class RatesForm(Form):
    rows = FieldList(FormField(RateRow), min_entries=1)


def filled_rows(form: FeeScheduleForm | RatesForm) -> list[dict[str, Any]]:
    """The rows someone typed in, numbered as on the page (1 = the first row); blank rows are skipped."""
    records = []
    for number, entry in enumerate(form.rows.entries, start=1):
        values = {k: v for k, v in entry.data.items() if k != "csrf_token"}
        if any((v or "").strip() for k, v in values.items() if k != "payer_id"):
            records.append({**values, "_row": str(number)})
    return records


class UploadForm(Form):
    file = FileField("CSV file", validators=[FileRequired("choose a CSV file")])


ROLE_CHOICES = choices(
    [
        ("biller", "biller"),
        ("supervisor", "supervisor"),
        ("admin", "admin"),
        ("practice", "practice (a client practice's user: its portal only, one practice)"),
    ]
)


class InviteForm(Form):
    email = _text("Email", 254)
    name = _text("Name")
    role = SelectField("Role", choices=ROLE_CHOICES)
    practices = MultiCheckboxField("Practices served (a practice user: exactly one, their own)", choices=[])
    queues = MultiCheckboxField("Queues (none: every queue)", choices=[])
    skills = MultiCheckboxField("Skills", choices=[])
    password = PasswordField("Initial password (blank: send a set-password link)", validators=[Optional()])


class UserEditForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES)
    practices = MultiCheckboxField("Practices served", choices=[])
    queues = MultiCheckboxField("Queues (none: every queue)", choices=[])
    skills = MultiCheckboxField("Skills", choices=[])


class ActionForm(Form):
    """A button that posts (CSRF only)."""


class SetPasswordForm(Form):
    password = PasswordField("New password", validators=[Length(max=1024)])
