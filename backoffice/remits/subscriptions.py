"""The denials' queues (remits.rules.QUEUES, one per CARC family) are offered in the queue filter. Connected by
``app.create_app``."""

from __future__ import annotations

from collections.abc import Iterable

from backoffice.accounts.models import User
from backoffice.remits.rules import QUEUES
from backoffice.work import queries as work_queries


def denial_queues(user: User) -> Iterable[str]:
    """Every denial family's queue (the same for every organization)."""
    return QUEUES.values()


def subscribe() -> None:
    work_queries.register_queue_source(denial_queues)
