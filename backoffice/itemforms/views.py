"""Per-kind item forms: screens (being built this session)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("itemforms", __name__)
