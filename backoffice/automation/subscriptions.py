"""Automation's part in the kernel's events: the product's steps register with the runner (on import), and every
automated item that becomes ready gets its RQ job once the use case commits; the follow-ups of claims an 835
answers wake up to close. Connected by ``app.create_app``."""

from __future__ import annotations

from backoffice import signals
from backoffice.automation import runner, steps  # noqa: F401 - importing steps registers them with the runner


def subscribe() -> None:
    signals.item_ready.connect(runner.enqueue_step, weak=False)
    signals.remittance_posted.connect(runner.wake_answered_follow_ups, weak=False)
