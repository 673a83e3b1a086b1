"""No PHI in logs, job arguments, Prefect parameters or error pages (HIPAA 164.312(b), billing-rules §11).

Sessions with unmistakable patient names, a date of birth and member IDs go through the whole pipeline with every
logger at DEBUG: CSV import (with a bad row), the JSON API, intake planning as a Prefect flow under the test
harness, every automated step through a real RQ worker to the Sandbox payer, its 999/277CA/835 answers ingested and
posted, appeal drafting, and every page, PDF and CSV a user opens. Then the captured log records, everything in
Redis (job arguments, results, failure tracebacks), the Prefect server's flow and task runs and logs, and the audit
trail are searched for each value.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import tempfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from flows.runtime import app_factory, prefect_env

prefect_env(tempfile.mkdtemp(prefix="backoffice-test-prefect-"))  # before anything imports prefect

from backoffice.api.services import issue_token  # noqa: E402
from backoffice.appeals.models import Appeal  # noqa: E402
from backoffice.audit.models import AuditEvent  # noqa: E402
from backoffice.clock import utcnow  # noqa: E402
from backoffice.exchange.ingest import ingest_all  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.orgs.models import Organization  # noqa: E402
from backoffice.patients.models import Patient  # noqa: E402
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS, parse_csv  # noqa: E402
from backoffice.sessions.services import import_sessions  # noqa: E402
from backoffice.tasks import QUEUE_NAMES, get_queue  # noqa: E402
from backoffice.work import chains  # noqa: E402
from backoffice.work.models import WorkItem  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.conftest import AuthActions  # noqa: E402
from tests.test_workflow_e2e import SLUG, _world  # noqa: E402

SESSIONS = 24
FIRST, LAST, STREET = "Zebulona", "Quixotefeld", "Quincewood Lane"
DOB = date(1977, 3, 14)
DOB_FORMS = ("1977-03-14", "19770314", "03/14/1977", "3/14/1977", "14/03/1977", "Mar 14, 1977", "March 14, 1977",
             "1977-3-14", "03-14-1977")  # fmt: skip


def _work_off(redis_conn: Redis) -> None:
    """A burst of the worker `backoffice worker` runs (RQ's SimpleWorker, exception messages withheld)."""
    from rq.serializers import JSONSerializer

    from backoffice.safe_worker import SimpleWorker

    SimpleWorker([get_queue(n, redis_conn) for n in QUEUE_NAMES], connection=redis_conn,
                 serializer=JSONSerializer).work(burst=True)  # fmt: skip


def member_id(n: int) -> str:
    return f"MQX{n:07d}"


def needles() -> list[str]:
    """Every PHI value of the test patients, in each form the code could print it."""
    return [FIRST, LAST, STREET, *DOB_FORMS, *(member_id(n) for n in range(SESSIONS))]


def _csv(npi: int, today: date) -> str:
    columns = (*COLUMNS, *ADDRESS_COLUMNS)
    lines = [",".join(columns)]
    for n in range(SESSIONS):
        long = n % 8 == 0  # 90837 with Aetna and no authorization: a prior-auth item
        row = {
            "session_ref": f"NP-{n:03d}", "practice": SLUG, "date_of_service": str(today - timedelta(days=3)),
            "start_time": "10:00", "provider_npi": str(npi), "provider_credential": "LCSW",
            "patient_ref": f"PR-{n:03d}", "patient_first": FIRST, "patient_last": f"{LAST}{n}",
            "patient_dob": DOB.isoformat(), "patient_sex": "F", "payer_id": "AETNA" if long or n % 2 == 0 else "UHC",
            "member_id": member_id(n), "service": "psychotherapy", "minutes": "60" if long else "45", "em_code": "",
            "modality": "in_person", "patient_location": "office", "interactive_complexity": "no", "screenings": "0",
            "diagnoses": "F33.1", "auth_number": "", "patient_address": f"{n + 1} {STREET}",
            "patient_city": "Springfield", "patient_state": "IL", "patient_zip": "62701",
        }  # fmt: skip
        lines.append(",".join(row.get(c, "") for c in columns))
    return "\n".join(lines) + "\n"


class Capture(logging.Handler):
    """Every record any logger emits, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + " " + repr(record.args))


@pytest.fixture
def captured() -> Iterator[Capture]:
    """Root and every library logger (Prefect, RQ, Werkzeug, ...) at DEBUG into one handler.

    Except SQLAlchemy's: create_app pins ``sqlalchemy.engine`` to WARNING so that a root logger at DEBUG does not
    echo SQL (its result rows are patient data); ``test_sql_logging_and_database_errors_hide_parameters`` covers
    an operator who turns it on anyway.
    """
    handler = Capture()
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and not name.startswith("sqlalchemy")
    ]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
            logger.setLevel(levels[logger])


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


def redis_text(conn: Redis) -> str:
    """Everything stored in the test Redis, decoded (RQ compresses job data with zlib)."""
    parts: list[str] = []

    def add(value: bytes | str) -> None:
        raw = value if isinstance(value, bytes) else value.encode()
        with contextlib.suppress(zlib.error):
            raw = zlib.decompress(raw)
        with contextlib.suppress(ValueError, zlib.error):  # job results: base64 of zlib
            raw = zlib.decompress(base64.b64decode(raw, validate=True))
        parts.append(raw.decode("utf-8", "replace"))

    for key in conn.scan_iter(count=1000):
        add(key)
        kind = conn.type(key).decode()
        if kind == "string":
            add(conn.get(key) or b"")
        elif kind == "hash":
            for field, value in conn.hgetall(key).items():
                add(field)
                add(value)
        elif kind == "list":
            for value in conn.lrange(key, 0, -1):
                add(value)
        elif kind == "set":
            for value in conn.smembers(key):
                add(value)
        elif kind == "zset":
            for value in conn.zrange(key, 0, -1):
                add(value)
        elif kind == "stream":  # RQ keeps job results, failures included, in streams
            for _, fields in conn.xrange(key):
                for field, value in fields.items():
                    add(field)
                    add(value)
        else:
            raise AssertionError(f"Redis key {key!r} of type {kind} is not searched")
    return "\n".join(parts)


def queued_job_arguments(conn: Redis) -> list[object]:
    from rq.job import Job
    from rq.serializers import JSONSerializer

    arguments: list[object] = []
    for name in QUEUE_NAMES:
        for job_id in get_queue(name, conn).job_ids:
            job = Job.fetch(job_id, connection=conn, serializer=JSONSerializer)
            arguments.extend([*job.args, *job.kwargs.values()])
    return arguments


async def prefect_records() -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    async with get_client() as client:
        flow_runs = await client.read_flow_runs()
        task_runs = await client.read_task_runs()
        logs = await client.read_logs(log_filter=LogFilter())
    return "\n".join(
        [repr((run.name, run.parameters)) for run in flow_runs]
        + [repr((run.name, run.task_inputs)) for run in task_runs]
        + [log.message for log in logs]
    )


def _assert_clean(where: str, text: str) -> None:
    found = [value for value in needles() if value in text]
    assert not found, f"PHI in {where}: {found}"


def test_the_pipeline_at_debug_leaves_no_phi_in_logs_jobs_flows_or_pages(
    app: Flask, redis_conn: Redis, captured: Capture, harness: None
) -> None:
    ids = _world(app)
    today = utcnow().date()  # the pinned clock the app reads too
    bad_row = _csv(ids["npi"], today).splitlines()[1].replace(DOB.isoformat(), "1977-14-03")
    with app.app_context():
        rows, errors = parse_csv(io.StringIO(_csv(ids["npi"], today)), today=today)
        assert errors == []
        bad_rows, bad_errors = parse_csv(
            io.StringIO(_csv(ids["npi"], today).splitlines()[0] + "\n" + bad_row), today=today
        )
        assert bad_errors, "the bad date of birth was accepted"
        _assert_clean("import error messages", repr(bad_errors))
        assert (
            len(import_sessions(rows=rows, organization_id=ids["org"], now=utcnow(), source="phi.csv").created)
            == SESSIONS
        )
        admin = f.make_user(db.session.get(Organization, ids["org"]), role="admin", email="admin@phi.test")
        token = issue_token(user=admin, scopes=["sessions:write"], now=utcnow())[1]

    client = app.test_client()
    refused = client.post(
        "/api/v1/sessions",
        json={"sessions": [{"patient_first": FIRST, "patient_last": LAST, "patient_dob": "1977-14-03",
                            "member_id": member_id(0)}]},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert refused.status_code == 422
    _assert_clean("the API's error response", refused.text)

    from flows import intake as intake_flow

    with app_factory(lambda: app):
        planned = intake_flow.intake(batch_size=10)
    assert planned["planned"] == SESSIONS

    arguments = queued_job_arguments(redis_conn)
    assert arguments and all(isinstance(a, int) or (isinstance(a, str) and len(a) <= 40) for a in arguments)
    _assert_clean("RQ jobs waiting in Redis", redis_text(redis_conn))

    with app.app_context():  # the worker runs its jobs in this app, as `backoffice worker` does
        _work_off(redis_conn)
        ingest_all(now=utcnow())
        _work_off(redis_conn)
        item_ids = list(db.session.scalars(select(WorkItem.id)))
        patient_ids = list(db.session.scalars(select(Patient.id)))
        appeal_ids = list(db.session.scalars(select(Appeal.id)))
    _assert_clean("Redis after the workers (results, failures)", redis_text(redis_conn))

    AuthActions(client).login("admin@phi.test", password=f.PASSWORD)
    for url in (
        [f"/items/{i}" for i in item_ids]
        + [f"/patients/{p}" for p in patient_ids]
        + [f"/appeals/{a}" for a in appeal_ids]
        + [f"/appeals/{a}/letter.pdf" for a in appeal_ids]
        + ["/queue", "/supervisor", "/patients", "/appeals", "/reports", "/admin/automation", "/admin/audit"]
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert client.get(f"/items/{item_ids[0]}").text.count(FIRST) >= 1  # the pages do show the patient

    with app.app_context():
        audit = [
            (e.action, e.target_type, e.target_id, e.endpoint, e.data) for e in db.session.scalars(select(AuditEvent))
        ]
        assert sum(1 for row in audit if row[0] == "phi_view") >= len(item_ids)
    _assert_clean("the audit trail", repr(audit))
    _assert_clean("the Prefect server (flow parameters, task inputs, logs)", asyncio.run(prefect_records()))
    assert len(captured.lines) > 100, "the loggers were not captured"
    _assert_clean("the application, RQ, Prefect and Werkzeug logs", "\n".join(captured.lines))


def test_sql_logging_and_database_errors_hide_parameters(ctx, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    assert logging.getLogger("sqlalchemy.engine").level == logging.WARNING  # set by create_app
    org = f.make_org()
    practice = f.make_practice(org)
    f.make_patient(practice, first_name=FIRST, last_name=LAST, date_of_birth=DOB)
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):  # an operator debugging SQL on purpose
        db.session.scalars(select(Patient).where(Patient.last_name == LAST)).all()
    assert "SELECT" in caplog.text and "parameters hidden" in caplog.text
    _assert_clean("SQL statement logs", caplog.text)
    with pytest.raises(IntegrityError) as failed:  # no practice: NOT NULL refused, with PHI among the parameters
        db.session.execute(insert(Patient).values(practice_id=None, account_number="X", first_name=FIRST,
                                                  last_name=LAST, date_of_birth=DOB, sex="F"))  # fmt: skip
    db.session.rollback()
    assert "parameters hidden" in str(failed.value)
    # PostgreSQL's own DETAIL line ("Failing row contains (...)") can still carry row values: that is why a
    # database error is never shown or logged with its message (test_security_headers: a failing insert in a
    # request) and why the server runs with log_error_verbosity = terse (docs/security.md).
    _assert_clean("a database error's message, without the server's DETAIL", str(failed.value).split("DETAIL:")[0])


def _fails_with_phi(item: WorkItem, now: datetime) -> dict:
    raise ValueError(f"no coverage for {FIRST} {LAST}0 born {DOB.isoformat()} member {member_id(0)}")


def test_a_failing_step_leaves_its_message_neither_in_redis_nor_in_the_worker_log(
    app: Flask, redis_conn: Redis, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq.registry import FailedJobRegistry
    from rq.serializers import JSONSerializer

    from backoffice.automation import runner as work_jobs
    from backoffice.automation.queries import error_class
    from backoffice.safe_worker import SimpleWorker

    monkeypatch.setitem(work_jobs.STEPS, "verify_benefits", _fails_with_phi)
    with app.app_context():
        practice = f.make_practice(f.make_org())
        session = f.make_session(practice)
        chains.create_chain(session=session, kinds=["verify_benefits"], now=utcnow(), automated=["verify_benefits"])
        queue = get_queue("default", redis_conn)
        job = queue.jobs[0]
        job.retries_left = 0  # straight to the failed registry
        job.save()
        SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
        registry = FailedJobRegistry(queue=queue)
        assert registry.get_job_ids() == [job.id]
        job.refresh()
        stored = job.latest_result().exc_string
    assert error_class(stored) == "ValueError" and "_fails_with_phi" in stored  # class and frames kept
    assert any("ValueError" in line for line in captured.lines)
    _assert_clean("the failed job in Redis", redis_text(redis_conn))
    _assert_clean("the worker's log", "\n".join(captured.lines))
