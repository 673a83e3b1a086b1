"""Appeals: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("appeals", __name__)


@bp.route("/appeals")
@login_required
def index():
    return render_template("placeholder.html", title="Appeals")


@bp.route("/admin/appeal-templates")
@login_required
def templates():
    return render_template("placeholder.html", title="Appeal templates")
