"""Patient balances: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("balances", __name__)


@bp.route("/patients")
@login_required
def index():
    return render_template("placeholder.html", title="Patient balances")
