"""Audit trail: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("audit", __name__)


@bp.route("/admin/audit")
@login_required
def index():
    return render_template("placeholder.html", title="Audit trail")
