"""Routing configuration forms: shape only (the services check the rules, e.g. a person serves the practice)."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from backoffice.forms import Form, WholeNumberField
from backoffice.routing.rules import DISTRIBUTION_LABELS
from backoffice.work.forms import choices

WORD = Regexp(r"^[A-Za-z0-9_-]*$", message="letters, digits, - or _ only")


class RuleForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    position = WholeNumberField("Position", default=100, validators=[Optional()], low=0, high=100_000)
    active = BooleanField("Active", default=True)
    practice_id = SelectField("Practice", coerce=int, default=0)
    payer_id = SelectField("Payer", coerce=int, default=0)
    kind = SelectField("Step", default="")
    denial_family = SelectField("Denial family", default="")
    required_skill = SelectField("Required skill", default="")  # choices: the skills list (routing/views.py)
    target_queue = SelectField("Target queue", default="")  # choices: every known queue
    distribution = SelectField("Distribution", choices=choices(DISTRIBUTION_LABELS.items()), default="none")
    target_user_id = SelectField("Person", coerce=int, default=0)
    user_ids = SelectMultipleField("Pool (none = everyone qualified)", coerce=int, default=[])

    def values(self) -> dict[str, object]:
        """The fields as the service takes them (0 / '' = any)."""
        return {
            "name": self.name.data,
            "position": self.position.data if self.position.data is not None else 100,
            "active": self.active.data,
            "practice_id": self.practice_id.data or None,
            "payer_id": self.payer_id.data or None,
            "kind": self.kind.data or None,
            "denial_family": self.denial_family.data or None,
            "required_skill": self.required_skill.data,
            "target_queue": self.target_queue.data,
            "distribution": self.distribution.data,
            "target_user_id": self.target_user_id.data or None,
            "user_ids": self.user_ids.data or [],
        }


class MoveForm(Form):
    direction = HiddenField("Direction", validators=[DataRequired(), AnyOf(["up", "down"])])


class ActiveForm(Form):
    active = HiddenField("Active", validators=[DataRequired(), AnyOf(["0", "1"])])


class PersonForm(Form):
    queues = StringField("Queues (comma-separated; empty = every queue)", validators=[Optional(), Length(max=1000)])
    skills = StringField("Skills (comma-separated)", validators=[Optional(), Length(max=1000)])

    def split(self, field: StringField) -> list[str]:
        return [part for part in (field.data or "").replace(";", ",").split(",") if part.strip()]
