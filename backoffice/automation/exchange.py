"""Sending a request through a clearinghouse from an automated step."""

from __future__ import annotations

from collections.abc import Callable

from backoffice.extensions import db
from backoffice.services_base import service


@service
def send_request(call: Callable[[], str | None]) -> str | None:
    """Run one clearinghouse request (a 270 or 276) and commit the control number it used: once the file is out,
    its number must never be handed out again, whatever the step decides next (a hand-over rolls back)."""
    answer = call()
    db.session.commit()
    return answer
