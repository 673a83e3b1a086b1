"""Patient payments (with receipts), credit balances and refunds, deposits."""

from __future__ import annotations

from flask import Blueprint

from backoffice.money import models  # noqa: F401 - the tables exist for the app

bp = Blueprint("money", __name__, url_prefix="/money")
