"""Routing's part in the kernel's events: every manual item that becomes ready is routed by the organization's
rules (in the same transaction), Get next breaks ties by the denial families' recovery ranks, and the queues the
rules send work to are offered in the queue filter. Connected by ``app.create_app``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from backoffice import signals
from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.routing import rules
from backoffice.routing.models import RoutingRule
from backoffice.routing.services import route_item
from backoffice.work import queries as work_queries
from backoffice.work import rules as work_rules
from backoffice.work.models import WorkItem


def route_ready_item(item: WorkItem, *, now: datetime) -> None:
    """The ``item-ready`` subscriber (``route_item`` leaves automated and already-owned items alone)."""
    route_item(item, now=now)


def routed_queues(user: User) -> Iterable[str]:
    """The queues the organization's routing rules send work to."""
    return db.session.scalars(
        select(RoutingRule.target_queue).where(
            RoutingRule.organization_id == user.organization_id, RoutingRule.target_queue.is_not(None)
        )
    )


def subscribe() -> None:
    signals.item_ready.connect(route_ready_item, weak=False)
    work_rules.set_family_ranks(rules.FAMILY_RANK)
    work_queries.register_queue_source(routed_queues)
