"""The portal's forms and the staff's request form (shape only; the services decide)."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from backoffice.forms import Form
from backoffice.portal.rules import MAX_MESSAGE, TYPE_LABELS
from backoffice.work.forms import choices

FILE_LABEL = "File (PDF, PNG, JPEG or TIFF, up to 10 MB)"
ACCEPT = ".pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff"


class SendRequestForm(Form):
    request_type = SelectField("Type", choices=choices(TYPE_LABELS.items()), validators=[DataRequired()])
    message = TextAreaField("Message to the practice", validators=[DataRequired(), Length(max=MAX_MESSAGE)])
    blocks_submission = BooleanField("Hold the claim's submission until the practice answers")
    file = FileField(f"Attach a file (optional; {FILE_LABEL})")


class AnswerForm(Form):
    answer = TextAreaField("Your answer", validators=[DataRequired(), Length(max=MAX_MESSAGE)])
    file = FileField(f"Attach a file (optional; {FILE_LABEL})")


class SessionFileForm(Form):
    file = FileField("Session file (CSV)", validators=[FileRequired()])


class DocumentForm(Form):
    claim_id = SelectField("Claim", coerce=str, validators=[DataRequired()])
    file = FileField(FILE_LABEL, validators=[FileRequired()])
    note = StringField("What it is", validators=[Optional(), Length(max=200)])
