"""Routing rules and queues: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("routing", __name__)


@bp.route("/supervisor/routing")
@login_required
def rules():
    return render_template("placeholder.html", title="Routing rules and queues")
