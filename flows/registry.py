"""Every flow by name with its schedule. Importing this module imports no Prefect: `flows list` is instant,
and the flows are loaded only to run or serve them."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

ORG_TIMEZONE = "America/New_York"  # the organization's default zone for the daily and nightly runs


@dataclass(frozen=True)
class FlowSpec:
    """A flow's name, where it lives, and its schedule (an interval or a cron line in ``timezone``)."""

    name: str
    target: str  # "module:attribute"
    interval: timedelta | None = None
    cron: str | None = None
    timezone: str = ORG_TIMEZONE

    @property
    def schedule(self) -> str:
        if self.interval is not None:
            minutes = int(self.interval.total_seconds() // 60)
            return "every minute" if minutes == 1 else f"every {minutes} minutes"
        return f"cron {self.cron} ({self.timezone})"

    def load(self) -> Any:
        """The Prefect flow object (imports Prefect)."""
        module, attribute = self.target.split(":")
        return getattr(importlib.import_module(module), attribute)


FLOWS: dict[str, FlowSpec] = {
    spec.name: spec
    for spec in (
        FlowSpec("intake", "flows.intake:intake", interval=timedelta(minutes=1)),
        FlowSpec("inbox", "flows.scheduled:inbox", interval=timedelta(minutes=2)),
        FlowSpec("claim-batches", "flows.scheduled:claim_batches", interval=timedelta(minutes=15)),
        FlowSpec("sla-sweep", "flows.scheduled:sla_sweep", interval=timedelta(minutes=5)),
        FlowSpec("requeue-sweeper", "flows.scheduled:requeue_sweeper", interval=timedelta(minutes=5)),
        FlowSpec("follow-ups", "flows.scheduled:follow_ups", cron="0 * * * *"),
        FlowSpec("timely-filing", "flows.scheduled:timely_filing", cron="0 6 * * *"),
        FlowSpec("authorization-watch", "flows.scheduled:authorization_watch", cron="0 6 * * *"),
        FlowSpec("kpi-snapshot", "flows.scheduled:kpi_snapshot", cron="0 1 * * *"),
        FlowSpec("payment-plans", "flows.scheduled:payment_plans", cron="0 7 * * *"),
        FlowSpec("credential-watch", "flows.scheduled:credential_watch", cron="30 6 * * *"),
        FlowSpec("deposit-matching", "flows.scheduled:deposit_matching", cron="30 7 * * *"),
        FlowSpec("appointment-eligibility", "flows.scheduled:appointment_eligibility", cron="0 5 * * *"),
        FlowSpec("practice-requests", "flows.scheduled:practice_requests", interval=timedelta(minutes=30)),
    )
}


def get(name: str) -> FlowSpec:
    """The flow called ``name``; a clear error listing the known names otherwise."""
    try:
        return FLOWS[name]
    except KeyError:
        raise KeyError(f"no flow {name!r}; known: {', '.join(FLOWS)}") from None


def deployments() -> list[Any]:
    """One Prefect deployment per flow, with its schedule (for ``prefect.serve``)."""
    from prefect.schedules import Cron  # noqa: PLC0415 - Prefect only when serving

    out = []
    for spec in FLOWS.values():
        flow = spec.load()
        if spec.interval is not None:
            out.append(flow.to_deployment(name=spec.name, interval=spec.interval))
        else:
            out.append(flow.to_deployment(name=spec.name, schedule=Cron(spec.cron, timezone=spec.timezone)))
    return out
