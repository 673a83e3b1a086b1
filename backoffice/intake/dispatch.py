"""After an import: one intake flow run for the import's sessions, through the served ``intake`` deployment, so
Prefect turns sessions into work items as the product promises (one run per import, never one per session).

The run is created over Prefect's REST API (two small HTTP calls; importing Prefect in a web worker would cost
1-2 s). When no Prefect server is configured or it does not answer, the sessions are planned right here, inline,
and the log says why; the scheduled intake run (every minute) stays the backstop either way, and planning is
idempotent, so a run that comes late plans nothing twice. Flow parameters are session IDs only, never PHI.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from flask import current_app

from backoffice.intake.planning import plan_sessions

log = logging.getLogger(__name__)

FLOW, DEPLOYMENT = "intake", "intake"  # flows/registry.py serves the intake flow as deployment "intake"
TIMEOUT = httpx.Timeout(5.0, connect=1.0)
RETRY_PAUSES = (0.2, 0.5)  # seconds before asking a busy server again


class TriggerFailed(Exception):
    """The flow run could not be created; the message says why (no patient data)."""


@dataclass(frozen=True)
class Dispatch:
    """How an import's sessions are being planned: by a flow run (its id) or inline (its items, and why)."""

    mode: str  # "flow", "inline" or "none" (nothing new to plan)
    sessions: int
    flow_run_id: str | None = None
    items: int = 0
    reason: str | None = None

    def describe(self) -> str:
        if self.mode == "flow":
            return f"intake flow run {self.flow_run_id} plans {self.sessions} session(s)"
        if self.mode == "inline":
            return f"{self.items} work item(s) planned here ({self.reason})"
        return "nothing new to plan"


def flow_server_url() -> str | None:
    """The Prefect API this app's imports trigger their runs on (settings: ``prefect_api_url``)."""
    return current_app.config["BACKOFFICE_SETTINGS"].prefect_api_url


def trigger_intake(api_url: str, session_ids: Sequence[int]) -> str:
    """Create a run of the intake deployment for ``session_ids``; returns the flow run's id. A busy server (5xx, as
    a SQLite-backed one answers under load) is asked again twice; a second run would plan nothing twice."""
    base = api_url.rstrip("/")
    body = {"parameters": {"session_ids": [int(i) for i in session_ids]}}
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            found = _send(client, "GET", f"{base}/deployments/name/{FLOW}/{DEPLOYMENT}")
            if found.status_code == 404:
                raise TriggerFailed(f"the Prefect server at {base} serves no {FLOW}/{DEPLOYMENT} deployment")
            found.raise_for_status()
            created = _send(client, "POST", f"{base}/deployments/{found.json()['id']}/create_flow_run", json=body)
            created.raise_for_status()
            return str(created.json()["id"])
    except httpx.HTTPStatusError as error:
        raise TriggerFailed(
            f"the Prefect server at {base} refused the run (HTTP {error.response.status_code})"
        ) from None
    except httpx.HTTPError as error:
        raise TriggerFailed(f"the Prefect server at {base} did not take the run ({type(error).__name__})") from None


def _send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    for pause in RETRY_PAUSES:
        response = client.request(method, url, **kwargs)
        if response.status_code < 500:
            return response
        time.sleep(pause)
    return client.request(method, url, **kwargs)


def plan_imported(session_ids: Sequence[int], *, now: datetime, api_url: str | None) -> Dispatch:
    """Hand the newly imported sessions to an intake flow run, or plan them inline when Prefect is not there."""
    ids = list(dict.fromkeys(session_ids))
    if not ids:
        return Dispatch("none", 0)
    if api_url:
        try:
            return Dispatch("flow", len(ids), flow_run_id=trigger_intake(api_url, ids))
        except TriggerFailed as failed:
            reason = str(failed)
    else:
        reason = "no Prefect server configured (BACKOFFICE_PREFECT_API_URL or PREFECT_API_URL)"
    log.warning("intake flow not triggered: %s; planning %d session(s) inline", reason, len(ids))
    summary = plan_sessions(session_ids=ids, now=now)
    return Dispatch("inline", len(ids), items=summary.items, reason=reason)
