"""The flows: their logic as plain functions, the registry and CLI, and the intake flow once end to end under
Prefect's test harness (one session-scoped harness: it takes ~15 s to start)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from sqlalchemy import func, select

from flows.runtime import app_factory, flow_app, free_port, prefect_env

prefect_env(tempfile.mkdtemp(prefix="backoffice-test-prefect-"))  # before anything imports prefect

from backoffice.cli import cli  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.intake.dispatch import plan_imported  # noqa: E402
from backoffice.work.models import WorkItem  # noqa: E402
from flows import intake as intake_flow  # noqa: E402
from flows import registry, scheduled  # noqa: E402
from tests.factories import NOW, make_org, make_patient, make_payer, make_practice, make_provider, make_session  # noqa: E402


def new_sessions(count: int) -> list[int]:
    org = make_org()
    practice = make_practice(org)
    payer = make_payer(org)
    provider = make_provider(practice)
    return [make_session(practice, provider, make_patient(practice, payer)).id for _ in range(count)]


def item_count() -> int:
    return db.session.scalar(select(func.count(WorkItem.id)))


def test_prefect_is_kept_offline_and_under_its_own_home() -> None:
    env = prefect_env("/nonexistent-is-not-used-when-already-set")
    assert env["DO_NOT_TRACK"] == "1" and env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert os.environ["PREFECT_HOME"].startswith(tempfile.gettempdir())


def test_run_intake_plans_every_new_session_in_batches_and_nothing_twice(ctx, redis_conn) -> None:  # noqa: ANN001
    ids = new_sessions(5)
    assert intake_flow.pending_batches_in(ctx, batch_size=2) == [ids[:2], ids[2:4], ids[4:]]
    first = intake_flow.run_intake(ctx, batch_size=2, now=NOW)
    assert (first["batches"], first["planned"], first["items"]) == (3, 5, 25)
    assert first["by_kind"] == {"audit": 5, "enter_charge": 5, "follow_up": 5, "submit": 5, "verify_benefits": 5}
    assert first["enqueued"] == 5
    again = intake_flow.run_intake(ctx, batch_size=2, now=NOW + timedelta(minutes=1))
    assert (again["batches"], again["planned"], again["items"]) == (0, 0, 0)
    assert item_count() == 25


def test_an_imports_run_plans_only_that_imports_sessions(ctx, redis_conn) -> None:  # noqa: ANN001
    earlier, mine = new_sessions(2), new_sessions(3)
    summary = intake_flow.run_intake(ctx, batch_size=2, now=NOW, session_ids=mine)
    assert (summary["batches"], summary["planned"]) == (2, 3)
    assert intake_flow.pending_batches_in(ctx) == [earlier]  # the scheduled run's backstop plans the rest


def test_without_prefect_the_import_plans_its_sessions_inline_and_logs_why(ctx, redis_conn, caplog) -> None:  # noqa: ANN001
    ids = new_sessions(2)
    closed = f"http://127.0.0.1:{free_port()}/api"  # nobody listens there
    with caplog.at_level("WARNING", logger="backoffice.intake.dispatch"):
        dispatch = plan_imported(ids, now=NOW, api_url=closed)
    assert (dispatch.mode, dispatch.sessions, dispatch.items) == ("inline", 2, 10)
    assert "did not take the run (ConnectError)" in dispatch.reason
    (record,) = caplog.records
    assert record.getMessage() == f"intake flow not triggered: {dispatch.reason}; planning 2 session(s) inline"
    assert item_count() == 10
    unconfigured = plan_imported(new_sessions(1), now=NOW, api_url=None)
    assert unconfigured.mode == "inline" and "no Prefect server configured" in unconfigured.reason
    assert plan_imported([], now=NOW, api_url=closed).mode == "none"


def test_limit_takes_the_oldest_sessions_first(ctx, redis_conn) -> None:  # noqa: ANN001
    ids = new_sessions(3)
    summary = intake_flow.run_intake(ctx, batch_size=10, limit=2, now=NOW)
    assert summary["planned"] == 2
    assert intake_flow.pending_batches_in(ctx) == [ids[2:]]


def test_a_batch_size_below_one_is_refused(ctx) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="batch_size"):
        intake_flow.pending_batches_in(ctx, batch_size=0)


@dataclass
class Stamped:
    at: str


def stamp(*, now: datetime) -> Stamped:
    """A stand-in service for call_service (the real sweeps are another module's)."""
    return Stamped(now.isoformat()[:4])


def test_scheduled_flows_call_their_service_in_the_flow_app(app, clock_pin) -> None:  # noqa: ANN001
    clock_pin.set(datetime(2031, 5, 6, 12, tzinfo=UTC))  # the flow passes the app clock's now to the service
    with app_factory(lambda: app), flow_app():
        assert scheduled.call_service("tests.test_flows", "stamp") == {"at": "2031"}
    assert scheduled.as_summary(3) == 3 and scheduled.as_summary(object()).startswith("<object")


def test_every_flow_is_registered_with_its_schedule() -> None:
    assert registry.get("intake").schedule == "every minute"
    assert registry.get("inbox").schedule == "every 2 minutes"
    assert registry.get("sla-sweep").interval == registry.get("requeue-sweeper").interval == timedelta(minutes=5)
    assert registry.get("follow-ups").cron == "0 * * * *"
    assert registry.get("timely-filing").schedule == "cron 0 6 * * * (America/New_York)"
    assert registry.get("authorization-watch").cron == "0 6 * * *"
    assert registry.get("kpi-snapshot").cron == "0 1 * * *"
    for spec in registry.FLOWS.values():
        assert spec.load().name == spec.name
    with pytest.raises(KeyError, match="no flow 'nope'"):
        registry.get("nope")


def test_flows_list_and_unknown_names_on_the_command_line(runner) -> None:  # noqa: ANN001
    listed = runner.invoke(cli, ["flows", "list"])
    assert listed.exit_code == 0 and "kpi-snapshot           cron 0 1 * * *" in listed.output
    unknown = runner.invoke(cli, ["flows", "run", "nope"])
    assert unknown.exit_code == 2 and "no flow 'nope'" in unknown.output
    bad = runner.invoke(cli, ["flows", "run", "intake", "--param", "oops"])
    assert bad.exit_code == 2 and "expected KEY=VALUE" in bad.output


@pytest.fixture(scope="session")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def test_the_intake_flow_end_to_end_under_prefect(harness, app, redis_conn) -> None:  # noqa: ANN001
    with app.app_context():
        new_sessions(3)
    with app_factory(lambda: app):
        first = intake_flow.intake(batch_size=2)
        second = intake_flow.intake(batch_size=2)
    assert (first["batches"], first["planned"], first["items"]) == (2, 3, 15)
    assert (second["batches"], second["planned"], second["items"]) == (0, 0, 0)
    with app.app_context():
        assert item_count() == 15


def test_an_import_triggers_one_run_of_the_served_intake_deployment_with_its_session_ids(harness, app) -> None:  # noqa: ANN001
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    deployment_id = intake_flow.intake.to_deployment(name="intake").apply()
    with app.app_context():
        ids = new_sessions(3)
        dispatch = plan_imported(ids, now=NOW, api_url=PREFECT_API_URL.value())
        assert (dispatch.mode, dispatch.items) == ("flow", 0) and item_count() == 0  # the run plans them
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(dispatch.flow_run_id))
    assert run.deployment_id == deployment_id and run.parameters == {"session_ids": ids}
    assert run.state is not None and run.state.is_scheduled()
    with app_factory(lambda: app):  # what that run does, executed here
        summary = intake_flow.intake(session_ids=ids)
    assert (summary["planned"], summary["items"]) == (3, 15)


def test_each_scheduled_flow_names_a_service_that_takes_now() -> None:
    import importlib
    import inspect

    targets = {
        "inbox": (scheduled.INGEST, "enqueue_polls"),
        "claim-batches": (scheduled.SUBMISSION, "submit_batches"),
        "sla-sweep": (scheduled.SWEEPS, "sweep_sla"),
        "requeue-sweeper": (scheduled.SWEEPS, "requeue_orphaned_items"),
        "follow-ups": (scheduled.SWEEPS, "generate_follow_ups"),
        "timely-filing": (scheduled.SWEEPS, "guard_timely_filing"),
        "authorization-watch": (scheduled.SWEEPS, "watch_authorizations"),
        "kpi-snapshot": (scheduled.SWEEPS, "snapshot_kpis"),
        "payment-plans": (scheduled.BALANCES, "sweep_payment_plans"),
        "credential-watch": (scheduled.CREDENTIALING, "watch_credential_expiries"),
        "deposit-matching": (scheduled.MONEY, "sweep_deposit_matching"),
        "appointment-eligibility": (scheduled.APPOINTMENTS, "check_due_eligibility"),
        "practice-requests": (scheduled.PORTAL, "remind_practice_requests"),
    }
    assert set(targets) | {"intake"} == set(registry.FLOWS)
    targets["requeue-sweeper (recovery)"] = (scheduled.JOBS, "recover_automation")
    targets["requeue-sweeper (resend)"] = (scheduled.SUBMISSION, "resend_unsent_files")
    for module, name in targets.values():
        service = getattr(importlib.import_module(module), name)
        assert "now" in inspect.signature(service).parameters


def test_the_sla_sweep_flow_logic_runs_on_an_empty_database(app, redis_conn) -> None:  # noqa: ANN001
    with app_factory(lambda: app), flow_app():
        summary = scheduled.call_service(scheduled.SWEEPS, "sweep_sla")
    assert isinstance(summary, dict)


def test_serving_builds_one_scheduled_deployment_per_flow() -> None:
    built = {d.name: d for d in registry.deployments()}
    assert set(built) == set(registry.FLOWS)
    assert built["intake"].schedules[0].schedule.interval == timedelta(minutes=1)
    nightly = built["kpi-snapshot"].schedules[0].schedule
    assert (nightly.cron, nightly.timezone) == ("0 1 * * *", "America/New_York")


def test_the_tasks_are_plain_calls_inside_a_flow_app(app, redis_conn) -> None:  # noqa: ANN001
    with app.app_context():
        ids = new_sessions(2)
    with pytest.raises(RuntimeError, match="no flow app"):
        intake_flow.pending_batches.fn(1, None)
    with app_factory(lambda: app), flow_app():
        assert intake_flow.pending_batches.fn(1, None) == [[ids[0]], [ids[1]]]
        assert intake_flow.plan_batch.fn([ids[0]])["planned"] == 1


@pytest.mark.parametrize("name", [name for name in registry.FLOWS if name != "intake"])
def test_each_scheduled_flow_runs_under_prefect(harness, app, redis_conn, name: str) -> None:  # noqa: ANN001
    with app_factory(lambda: app):
        result = registry.get(name).load()()
    assert isinstance(result, dict)
