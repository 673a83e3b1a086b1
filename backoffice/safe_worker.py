"""RQ workers that never keep or log an exception's message, which may carry PHI (a step that raised
``ValueError(f"no coverage for {patient.last_name}")``). Redis (the failed registry and job results) and the
worker's log get the exception's class and its stack frames; the automation page reads the class from the last
line as before (``module.Error: message withheld``)."""

from __future__ import annotations

import traceback
from typing import Any

from rq import SimpleWorker as _SimpleWorker
from rq import Worker as _Worker
from rq.job_lifecycle import call_exception_handlers

WITHHELD = "message withheld (it may hold PHI)"


def withheld_traceback(exc_info: tuple[Any, Any, Any]) -> str:
    """A traceback's frames and the exception's class, without its message (or any chained exception's)."""
    exc_type, _, tb = exc_info
    name = f"{exc_type.__module__}.{exc_type.__qualname__}" if exc_type is not None else "unknown"
    return "Traceback (most recent call last):\n" + "".join(traceback.format_tb(tb)) + f"{name}: {WITHHELD}\n"


class _WithholdsMessages:
    """Mixed into RQ's workers: the failure path formats ``exc_info`` itself, twice; both are replaced."""

    _withheld: str | None = None

    def handle_exception(self, job: Any, *exc_info: Any) -> None:
        self._withheld = withheld_traceback(exc_info)
        self.log.error(  # type: ignore[attr-defined]
            "Worker %s: job %s: exception raised while executing\n%s",
            self.name,
            job.id,
            self._withheld,  # type: ignore[attr-defined]
        )
        call_exception_handlers(self._exc_handlers, job, *exc_info)  # type: ignore[attr-defined]

    def handle_job_failure(self, job: Any, queue: Any, started_job_registry: Any = None, exc_string: str = "",
                           execution: Any = None) -> None:  # fmt: skip
        safe = self._withheld or (f"unknown: {WITHHELD}\n" if exc_string else "")
        self._withheld = None
        super().handle_job_failure(job, queue, started_job_registry, safe, execution)  # type: ignore[misc]


class SimpleWorker(_WithholdsMessages, _SimpleWorker):
    """RQ's SimpleWorker (jobs in the worker's own process), messages withheld."""


class Worker(_WithholdsMessages, _Worker):
    """RQ's forking Worker, messages withheld."""
