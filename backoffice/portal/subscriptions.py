"""The requests' part in the kernel's events and the submission gate: a withdrawn request releases the item it
paused; a blocking request holds its claim back from submission. Connected by ``app.create_app``."""

from __future__ import annotations

from backoffice import signals
from backoffice.exchange.submission import register_submission_hold
from backoffice.portal.queries import submission_holds
from backoffice.portal.services import resume_after_cancel


def subscribe() -> None:
    signals.item_cancelled.connect(resume_after_cancel, weak=False)
    register_submission_hold(submission_holds)
