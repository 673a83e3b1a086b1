"""Bulk reassign: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("supervisor", __name__)


@bp.route("/supervisor/reassign")
@login_required
def bulk_reassign():
    return render_template("placeholder.html", title="Bulk reassign")


@bp.route("/supervisor/write-offs")
@login_required
def write_offs():
    return render_template("placeholder.html", title="Write-offs")
