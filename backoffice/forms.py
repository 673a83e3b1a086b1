"""The base of every form, and the fields for numbers, money and dates: the edge checks of ``backoffice.inputs`` as
WTForms pieces, so that no form can take a NUL, a Unicode digit, ``NaN`` or a date in year 1.

``Form`` (a FlaskForm) and ``SubForm`` (for ``FormField`` rows) put a text check first on every field: a control
character is a field error before any other validator (or the view) sees the value. A test walks every form class
of the app and fails on one that does not derive from them (tests/test_inputs.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, DecimalField, Field, IntegerField, TextAreaField
from wtforms import Form as _PlainForm
from wtforms.meta import DefaultMeta
from wtforms.validators import StopValidation

from backoffice import inputs
from backoffice.clock import utcnow


class TextCheck:
    """Refuse control characters in every value a field received (line breaks only in a multi-line field)."""

    field_flags: dict[str, Any] = {}

    def __init__(self, multiline: bool) -> None:
        self.multiline = multiline

    def __call__(self, form: Any, field: Field) -> None:
        for raw in field.raw_data or ():
            problem = inputs.control_problem(raw, multiline=self.multiline) if isinstance(raw, str) else None
            if problem:
                field.errors[:] = []  # a process error ("not a valid integer") would only repeat the problem
                raise StopValidation(problem)


class _CheckedMeta(DefaultMeta):
    def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Field:
        field = super().bind_field(form, unbound_field, options)
        field.validators = [TextCheck(multiline=isinstance(field, TextAreaField)), *field.validators]
        return field


class Form(FlaskForm):
    """Every page form's base: CSRF (Flask-WTF) and the text check on every field."""

    class Meta(_CheckedMeta):
        pass


class SubForm(_PlainForm):
    """The base of rows inside a ``FormField``/``FieldList``: the same text check, no CSRF of its own."""

    class Meta(_CheckedMeta):
        pass


class _Parsed:
    """A field whose value failed to parse keeps its own message: ``DataRequired`` would replace it with "This
    field is required." (it clears the errors before it stops)."""

    process_errors: list[Any]

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()


class WholeNumberField(_Parsed, IntegerField):
    """An integer in ASCII digits only (``int`` takes ``٣``; ``²`` and ``①`` made the old field raise), within
    ``low``–``high`` (a PostgreSQL integer unless narrower): a named field error otherwise."""

    def __init__(self, label: str | None = None, validators: Any = None, *, low: int = 0, high: int = inputs.INT_MAX,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(label, validators, **kwargs)
        self.low, self.high = low, high

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = inputs.whole_number(str(valuelist[0]), low=self.low, high=self.high)
        except inputs.InputProblem as problem:
            self.data = None
            raise ValueError(str(problem)) from None


class MoneyField(_Parsed, DecimalField):
    """An amount as a ``Decimal`` (never a float): plain digits, finite, at most ``places`` decimals, within
    ``low``–``high``. ``NaN``, ``Infinity`` and ``1e30`` are field errors, not a 500 at the comparison or the
    database."""

    def __init__(self, label: str | None = None, validators: Any = None, *, low: Decimal = Decimal("0"),
                 high: Decimal = inputs.MONEY_MAX, places: int = 2, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(label, validators, places=places, **kwargs)
        self.low, self.high, self.decimal_places = low, high, places

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = inputs.money(str(valuelist[0]), low=self.low, high=self.high, places=self.decimal_places)
        except inputs.InputProblem as problem:
            self.data = None
            raise ValueError(str(problem)) from None


class PlausibleDateField(_Parsed, DateField):
    """A ``YYYY-MM-DD`` date in ASCII digits, from 1900 (or ``earliest``) to ``future_days`` ahead of today
    (20 years unless narrower; 0: not in the future). Today is the app clock's, in UTC."""

    def __init__(self, label: str | None = None, validators: Any = None, *, earliest: date = inputs.EARLIEST_DATE,
                 future_days: int | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(label, validators, **kwargs)
        self.earliest, self.future_days = earliest, future_days

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not " ".join(str(v) for v in valuelist).strip():
            self.data = None
            return
        try:
            self.data = inputs.iso_date(" ".join(str(v) for v in valuelist), today=utcnow().date(),
                                        earliest=self.earliest, future_days=self.future_days)  # fmt: skip
        except inputs.InputProblem as problem:
            self.data = None
            raise ValueError(str(problem)) from None
