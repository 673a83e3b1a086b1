"""Thin flows around the scheduled sweeps: each runs one ``backoffice`` service in a task inside the flow
run's app context and returns its summary. Import after ``flows.runtime.prefect_env``."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.runtime import current_flow_app, flow_app

SWEEPS = "backoffice.sweeps.services"
INGEST = "backoffice.exchange.ingest"
JOBS = "backoffice.automation.runner"
SUBMISSION = "backoffice.exchange.submission"
BALANCES = "backoffice.balances.sweeps"
CREDENTIALING = "backoffice.credentialing.services"
MONEY = "backoffice.money.sweeps"
APPOINTMENTS = "backoffice.appointments.services"
PORTAL = "backoffice.portal.services"


def as_summary(result: Any) -> Any:
    """A service's return value as JSON-friendly data (dataclasses and mappings by value, else text)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if isinstance(result, dict | list | int | float | str | bool) or result is None:
        return result
    return str(result)


def call_service(module: str, name: str) -> Any:
    """Run ``module.name(now=utcnow())`` inside the current flow app's context (services are imported
    lazily: importing the flows loads no application code)."""
    from backoffice.clock import utcnow  # noqa: PLC0415

    service = getattr(importlib.import_module(module), name)
    with current_flow_app().app_context():
        return as_summary(service(now=utcnow()))


@task(cache_policy=NO_CACHE, persist_result=False)
def run_service(module: str, name: str) -> Any:
    """Task: one service call."""
    return call_service(module, name)


def _run(module: str, name: str) -> Any:
    with flow_app():
        return run_service(module, name)


@flow(name="inbox", persist_result=False)
def inbox() -> Any:
    """Ask the RQ workers to pick up and ingest every file the clearinghouses left in the practices' inboxes: one
    job per inbox (``enqueue_polls``), so the practices' files are posted side by side."""
    return _run(INGEST, "enqueue_polls")


@flow(name="sla-sweep", persist_result=False)
def sla_sweep() -> Any:
    """Flag items past or near their SLA."""
    return _run(SWEEPS, "sweep_sla")


@flow(name="requeue-sweeper", persist_result=False)
def requeue_sweeper() -> Any:
    """Wake the automated items whose wait is over or whose worker died mid-step, enqueue again the automated
    ready items whose jobs were lost (a Redis outage), and send again the 837P files committed but never sent."""
    with flow_app():
        recovered = run_service(JOBS, "recover_automation")
        requeued = run_service(SWEEPS, "requeue_orphaned_items")
        resent = run_service(SUBMISSION, "resend_unsent_files")
    return {"recovery": recovered, "requeue": requeued, "resend": resent}


@flow(name="follow-ups", persist_result=False)
def follow_ups() -> Any:
    """Open follow-ups for claims whose response is overdue."""
    return _run(SWEEPS, "generate_follow_ups")


@flow(name="timely-filing", persist_result=False)
def timely_filing() -> Any:
    """Warn about claims close to their payer's filing limit."""
    return _run(SWEEPS, "guard_timely_filing")


@flow(name="authorization-watch", persist_result=False)
def authorization_watch() -> Any:
    """Open re-authorization items for authorizations running out of units or dates."""
    return _run(SWEEPS, "watch_authorizations")


@flow(name="kpi-snapshot", persist_result=False)
def kpi_snapshot() -> Any:
    """Take the nightly KPI snapshot of every practice."""
    return _run(SWEEPS, "snapshot_kpis")


@flow(name="payment-plans", persist_result=False)
def payment_plans() -> Any:
    """Payment-plan reminders (instalments due within 5 days, missed ones) and plan states."""
    return _run(BALANCES, "sweep_payment_plans")


@flow(name="credential-watch", persist_result=False)
def credential_watch() -> Any:
    """Renewal items for licences, enrolment revalidations and CAQH re-attestations 90/60/30 days before expiry."""
    return _run(CREDENTIALING, "watch_credential_expiries")


@flow(name="claim-batches", persist_result=False)
def claim_batches() -> Any:
    """Send every batch connection's waiting claims in one 837P interchange per practice and connection."""
    return _run(SUBMISSION, "submit_batches")


@flow(name="deposit-matching", persist_result=False)
def deposit_matching() -> Any:
    """Deposits matched to their ERAs by trace number; an ERA with money and no deposit after N business days opens a
    Match deposit item."""
    return _run(MONEY, "sweep_deposit_matching")


@flow(name="appointment-eligibility", persist_result=False)
def appointment_eligibility() -> Any:
    """Eligibility for every appointment whose check day (N business days before the visit) has come; problems
    become items before the visit."""
    return _run(APPOINTMENTS, "check_due_eligibility")


@flow(name="practice-requests", persist_result=False)
def practice_requests() -> Any:
    """Remind the practices of requests they have not answered by their due time (once per business day)."""
    return _run(PORTAL, "remind_practice_requests")
