"""Credentialing's part in the kernel: the await-enrolment step registers with the automation runner, and a held
claim's item takes its filing deadline as due date when it becomes ready. Connected by ``app.create_app``."""

from __future__ import annotations

from backoffice import signals
from backoffice.automation.runner import register_step
from backoffice.credentialing import gate
from backoffice.work.rules import WorkKind


def subscribe() -> None:
    register_step(WorkKind.AWAIT_ENROLLMENT, gate.await_enrollment)
    signals.item_ready.connect(gate.show_filing_deadline, weak=False)
