"""The connection form: every field but the secrets is shown back; the secrets are write-only (blank keeps)."""

from __future__ import annotations

from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.clearinghouse.models import KINDS
from backoffice.clearinghouse.profiles import PROFILES
from backoffice.forms import Form, WholeNumberField
from backoffice.work.forms import choices


class ConnectionForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    practice_id = SelectField("Practice", coerce=str, default="")
    kind = SelectField("Kind", choices=choices((k, k.replace("_", " ")) for k in KINDS))
    profile = SelectField("Clearinghouse profile", choices=choices((p.key, p.name) for p in PROFILES.values()))
    usage = SelectField("Usage (ISA15)", choices=choices([("T", "T – test"), ("P", "P – production")]), default="T")
    submitter_id = StringField("Submitter ID (blank: the organization's)", validators=[Optional(), Length(max=20)])
    receiver_id = StringField("Receiver ID (blank: the profile's)", validators=[Optional(), Length(max=15)])
    receiver_name = StringField("Receiver name (blank: the profile's)", validators=[Optional(), Length(max=60)])
    host = StringField("Host", validators=[Optional(), Length(max=255)])
    port = WholeNumberField("Port", validators=[Optional()], low=1, high=65535)
    username = StringField("Username", validators=[Optional(), Length(max=100)])
    host_key = StringField("Pinned host key (ssh-keyscan line)", validators=[Optional(), Length(max=1000)])
    base_url = StringField("API base URL", validators=[Optional(), Length(max=500)])
    upload_folder = StringField("Upload folder (blank: the profile's)", validators=[Optional(), Length(max=500)])
    download_folder = StringField("Download folder (blank: the profile's)", validators=[Optional(), Length(max=500)])
    poll_minutes = WholeNumberField("Poll every (minutes)", default=15, low=1, high=1440)
    timeout_seconds = WholeNumberField("Timeout (seconds)", default=30, low=1, high=600)
    active = BooleanField("Active", default=True)
    password = PasswordField("Password (write-only)", validators=[Optional(), Length(max=200)])
    private_key = TextAreaField("Private key (write-only)", validators=[Optional(), Length(max=10000)])
    private_key_passphrase = PasswordField("Key passphrase (write-only)", validators=[Optional(), Length(max=200)])
    api_key = PasswordField("API key (write-only)", validators=[Optional(), Length(max=500)])
    clear_secrets = BooleanField("Forget the stored secrets")

    VALUE_FIELDS = (
        "name", "kind", "profile", "usage", "submitter_id", "receiver_id", "receiver_name", "host", "port", "username",
        "host_key", "base_url", "upload_folder", "download_folder", "poll_minutes", "timeout_seconds", "active",
    )  # fmt: skip
    SECRET_FIELDS = ("password", "private_key", "private_key_passphrase", "api_key")

    def values(self) -> dict[str, object]:
        """The connection's values (blank text as None, the practice as an id or None)."""
        out: dict[str, object] = {}
        for name in self.VALUE_FIELDS:
            value = getattr(self, name).data
            out[name] = (value.strip() or None) if isinstance(value, str) and name != "name" else value
        out["practice_id"] = int(self.practice_id.data) if self.practice_id.data else None
        return out

    def secrets(self) -> dict[str, str]:
        return {name: getattr(self, name).data or "" for name in self.SECRET_FIELDS}
