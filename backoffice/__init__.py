"""backoffice: a work-queue back office for mental-health billing companies.

``create_app`` is imported lazily so that pure modules (``backoffice.coding``, ``backoffice.deadlines``, …)
can be imported without loading Flask and SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from backoffice.app import create_app

        return create_app
    raise AttributeError(f"module 'backoffice' has no attribute {name!r}")
