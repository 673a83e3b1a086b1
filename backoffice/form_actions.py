"""The one way a POST view runs a form: validate it, call one service, flash what happened (errors name their
field), so that every screen reports bad input and refused actions alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import flash, g
from flask_wtf import FlaskForm

from backoffice.errors import ServiceError


def _flat(errors: Any) -> Iterable[str]:
    """Messages of a field, of a field list or of a form field (nested lists and dicts)."""
    if isinstance(errors, dict):
        for nested in errors.values():
            yield from _flat(nested)
    elif isinstance(errors, list | tuple):
        for nested in errors:
            yield from _flat(nested)
    elif errors:
        yield str(errors)


def flash_form_errors(form: FlaskForm) -> None:
    """One error message per invalid field, led by the field's label."""
    for name, errors in form.errors.items():
        field = getattr(form, name, None)
        label = field.label.text if field is not None and hasattr(field, "label") else name
        flash(f"{label}: {'; '.join(_flat(errors))}", "error")


def run_form(form: FlaskForm, action: Callable[[FlaskForm], Any], done: str) -> bool:
    """Validate ``form`` and run ``action(form)``; flash ``done``, the service's refusal or the field errors.
    True when the action ran."""
    if not form.validate_on_submit():
        flash_form_errors(form)
        return False
    try:
        action(form)
    except ServiceError as error:
        flash(str(error), "error")
        return False
    flash(done, "success")
    return True


def keep(form: FlaskForm) -> None:
    """Hold a form that failed so the page rendered again in this request shows what the user typed."""
    g.kept_form = form


def kept_or_new(form_class: type[FlaskForm]) -> tuple[FlaskForm, bool]:
    """The form of this class that failed in this request (what the user typed, with its errors) and True; else a
    new empty one (``formdata=None``: a page rendered after a failed POST must not fill other forms from it)."""
    held = g.get("kept_form")
    if isinstance(held, form_class):
        return held, True
    return form_class(formdata=None), False
