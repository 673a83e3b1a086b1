"""Issue 19's acceptance, end to end on PostgreSQL with the real Redis and a real OpenSSH server (tests/sshd.py):
sessions imported through the real intake → their chains run by an RQ worker → the claim-batches command sends
one 837P interchange over SFTP → the clearinghouse simulator, a separate OS process watching the server's folders
(`backoffice clearinghouse simulate`), answers with a TA1, a 999, a 277CA and later an 835 → our poller fetches
them, posts them and routes the denials. Then the same again with the server SIGKILLed in the middle of the
upload and in the middle of the download: nothing lost, nothing filed twice, nothing fetched twice.

The verify-benefits step is not among the practice's steps here: on an SFTP connection the 271 comes back later
(tests/test_late_271.py), and the 837P/835 cycle is what this test measures."""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.clearinghouse.models import FetchedFile
from backoffice.clearinghouse.sandbox_x12_model import NOT_REMITTED
from backoffice.clearinghouse.services import save_connection
from backoffice.cli import cli
from backoffice.clock import utcnow
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.exchange.submission import RESEND_AFTER, resend_unsent_files
from backoffice.extensions import db
from backoffice.intake.planning import pending_session_ids, plan_sessions
from backoffice.remits.models import ClaimPayment, Remittance
from backoffice.sessions.rules import ADDRESS_COLUMNS, COLUMNS, parse_csv
from backoffice.sessions.services import import_sessions
from backoffice.tasks import QUEUE_NAMES, get_queue
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from backoffice.x12.era835 import parse_835
from tests import factories as f
from tests.sshd import Sshd, Watcher, sshd_fixture  # noqa: F401 - the fixture
from tests.test_workflow_e2e import DENIAL_QUEUES, PAID

pytestmark = pytest.mark.postgres

SESSIONS = 200
SEED = 19
RESULTS: dict[str, dict] = {}


class Phases:
    """Wall seconds per phase of a round, for the report."""

    def __init__(self, name: str) -> None:
        self.times, self.mark = RESULTS.setdefault(name, {}), time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[phase], self.mark = round(now - self.mark, 2), now


def _world(app: Flask, sshd: Sshd) -> dict[str, int]:
    """A billing company, one practice on an Office Ally SFTP connection (usage T) to the test's sshd, two payers."""
    with app.app_context():
        org = f.make_org(edi_submitter_id="E2ESUB019", edi_contact_name="Billing Desk", edi_contact_phone="5551230000")
        steps = ["enter_charge", "audit", "submit", "follow_up", "appeal"]
        practice = f.make_practice(org, slug="sftp-e2e", name="E2E Calm Mind", taxonomy="261QM0801X",
                                   owned_steps=steps, fee_schedule={"90834": "150.00"})  # fmt: skip
        provider = f.make_provider(practice)
        f.make_payer(org, payer_id="AETNA", name="Aetna")
        f.make_payer(org, payer_id="UHC", name="UnitedHealthcare")
        values = {
            "name": "office ally (rehearsal)", "practice_id": practice.id, "kind": "sftp", "profile": "office_ally",
            "usage": "T", "host": "127.0.0.1", "port": sshd.port, "username": sshd.user,
            "host_key": sshd.host_key_line, "upload_folder": str(sshd.folder("inbound")),
            "download_folder": str(sshd.folder("outbound")), "timeout_seconds": 5,
        }  # fmt: skip
        connection = save_connection(organization_id=org.id, values=values, secrets={"private_key": sshd.client_key},
                                     settings=app.config["BACKOFFICE_SETTINGS"], actor=None, now=utcnow())  # fmt: skip
        return {"org": org.id, "practice": practice.id, "npi": int(provider.npi), "connection": connection.id}


def _import(app: Flask, ids: dict[str, int], first: int) -> None:
    """SESSIONS rows of a session CSV through the real import (45-minute psychotherapy, two payers)."""
    today = utcnow().date()
    columns = (*COLUMNS, *ADDRESS_COLUMNS)
    lines = [",".join(columns)]
    for n in range(first, first + SESSIONS):
        row = {
            "session_ref": f"S19-{n:04d}", "practice": "sftp-e2e", "date_of_service": str(today - timedelta(days=3)),
            "start_time": "10:00", "provider_npi": str(ids["npi"]), "provider_credential": "LCSW",
            "patient_ref": f"PT-{n:04d}", "patient_first": "Alex", "patient_last": f"Tester{n}",
            "patient_dob": str(date(1985, 6, 15)), "patient_sex": "F", "payer_id": "UHC" if n % 2 else "AETNA",
            "member_id": f"W{n:09d}", "service": "psychotherapy", "minutes": "45", "em_code": "",
            "modality": "in_person", "patient_location": "office", "interactive_complexity": "no", "screenings": "0",
            "diagnoses": "F33.1", "auth_number": "", "patient_address": f"{n + 1} Elm St",
            "patient_city": "Springfield", "patient_state": "IL", "patient_zip": "62701",
        }  # fmt: skip
        lines.append(",".join(row.get(c, "") for c in columns))
    with app.app_context():
        rows, errors = parse_csv(io.StringIO("\n".join(lines) + "\n"), today=today)
        assert errors == []
        imported = import_sessions(rows=rows, organization_id=ids["org"], now=utcnow(), source="e2e-19.csv")
        assert len(imported.created) == SESSIONS


def _work_off(app: Flask, redis_conn: Redis) -> None:
    with app.app_context():
        queues = [get_queue(name, redis_conn) for name in QUEUE_NAMES]
        SimpleWorker(queues, connection=redis_conn, serializer=JSONSerializer).work(burst=True)


def _plan_and_charge(app: Flask, redis_conn: Redis) -> None:
    """The intake plans the new sessions; the worker enters, audits and parks each claim for the batch run."""
    with app.app_context():
        plan_sessions(session_ids=pending_session_ids(), now=utcnow())
    _work_off(app, redis_conn)


def _submit_batches(app: Flask) -> str:
    """The claim-batches command (what the claim-batches flow runs every 15 minutes)."""
    result = app.test_cli_runner().invoke(cli, ["connections", "submit-batches"])
    assert result.exit_code == 0, result.output
    return result.output


class SimulatorProcess:
    """`backoffice clearinghouse simulate` in its own process, on the server's folders, answering dated by the
    test's pinned clock; its ledger says what it received and wrote."""

    def __init__(self, sshd: Sshd, log: Path) -> None:
        self.state = sshd.root / "simulator"
        self.log = log.open("w")
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "backoffice.cli", "clearinghouse", "simulate", "--root", str(sshd.files),
             "--profile", "office_ally", "--upload-folder", "inbound", "--download-folder", "outbound",
             "--state", str(self.state), "--seed", str(SEED), "--remit-after", "1", "--interval", "0.1",
             "--at", utcnow().isoformat()],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip

    def ledger(self) -> list[dict]:
        path = self.state / "ledger.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def wrote(self) -> list[dict]:
        return [e for e in self.ledger() if e["event"] == "wrote"]

    def settled(self) -> bool:
        """Every 837P taken and every 835 it owes written."""
        events = self.ledger()
        scheduled = {e["file"] for e in events if e["event"] == "scheduled"}
        return scheduled <= {e["file"] for e in events if e["event"] == "wrote"}

    def wait(self, condition, what: str, timeout: float = 60) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, "the simulator died"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _inbound() -> int:
    return db.session.scalar(select(func.count()).select_from(EdiFile).where(EdiFile.direction == "inbound"))


def _poll_until_all_in(app: Flask, simulator: SimulatorProcess, timeout: float = 60) -> Counter[str]:
    """The inbox flow's poll, again until every file the simulator wrote is fetched and ingested."""
    counts: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            summary = ingest_all(now=utcnow())
            assert summary.errors == [], summary.errors
            counts.update(summary.counts["sftp-e2e"])
            db.session.remove()
            if simulator.settled() and _inbound() == len(simulator.wrote()):
                return counts
            assert time.monotonic() < deadline, "the answers did not all arrive"
            time.sleep(0.2)


def _check_everything(app: Flask, simulator: SimulatorProcess, claims: int) -> dict[str, int]:
    """What must hold after every round: each claim filed once and answered; each file fetched and posted once;
    each claim where its seeded scenario sends it."""
    ledger = simulator.ledger()
    received = [e for e in ledger if e["event"] == "received"]
    accounts = [a for e in received for a in e["claims"]]
    scenarios = {a: s for e in received for a, s in e["scenarios"].items()}
    wrote = [e for e in ledger if e["event"] == "wrote"]
    with app.app_context():
        # Filed once: the clearinghouse got each claim in exactly one interchange, and no interchange twice.
        assert len(accounts) == len(set(accounts)) == claims
        assert [e for e in ledger if e["event"] in ("duplicate", "unreadable")] == []
        submissions = db.session.execute(select(ClaimSubmission.claim_id, func.count()).group_by(
            ClaimSubmission.claim_id)).all()  # fmt: skip
        assert len(submissions) == claims and {n for _, n in submissions} == {1}
        outbound = db.session.scalars(select(EdiFile).where(EdiFile.direction == "outbound")).all()
        assert [(e.kind, e.status) for e in outbound] == [("837P", "written")] * len(received)
        # Fetched once: one fetch record and one inbound file per file the simulator wrote, every one posted.
        fetched = db.session.scalars(select(FetchedFile.remote_name)).all()
        assert sorted(fetched) == sorted(e["file"] for e in wrote)
        inbound = db.session.scalars(select(EdiFile).where(EdiFile.direction == "inbound")).all()
        assert sorted(e.filename for e in inbound) == sorted(e["file"] for e in wrote)
        kinds = Counter((e.kind, e.status) for e in inbound)
        n = len(received)
        assert kinds == {("TA1", "processed"): n, ("999", "processed"): n, ("277CA", "processed"): n,
                         ("report", "report"): n, ("835", "processed"): n}, kinds  # fmt: skip
        # Posted once: one remittance per 835 transaction set the simulator sent, one payment per remitted claim.
        sets_835 = sum(e["sets"] for e in wrote if e["kind"] == "835")
        assert db.session.scalar(select(func.count()).select_from(Remittance)) == sets_835
        staged = Path(app.config["BACKOFFICE_SETTINGS"].instance_path) / "edi" / "connections"
        sent_clps = Counter(c.claim_id for p in staged.glob("*/processed/*_835.txt")
                            for r in parse_835(p.read_text()) for c in r.claims)  # fmt: skip
        posted_clps = Counter(db.session.scalars(select(Claim.account_number).join(
            ClaimPayment, ClaimPayment.claim_id == Claim.id)).all())  # fmt: skip
        assert posted_clps == sent_clps and set(sent_clps) == {a for a, s in scenarios.items() if s not in NOT_REMITTED}
        # Matched to every claim: the TA1 and the 999 logged on each, the 277CA's verdict on each submission.
        for word in ("TA1 A", "999 A"):
            logged = db.session.scalar(select(func.count(func.distinct(Interaction.claim_id))).where(
                Interaction.body.like(f"{word}%")))  # fmt: skip
            assert logged == claims, (word, logged)
        acks = dict(db.session.execute(select(Claim.account_number, ClaimSubmission.ack_status).join(
            ClaimSubmission, ClaimSubmission.claim_id == Claim.id)).all())  # fmt: skip
        assert {a: "rejected" if s == "rejected" else "accepted" for a, s in scenarios.items()} == acks
        # Routed: each claim where its scenario sends it.
        outcome: Counter[str] = Counter()
        for claim in db.session.scalars(select(Claim)):
            scenario, status = scenarios[claim.account_number], str(claim.status)
            outcome[scenario] += 1
            items = {i.kind: i for i in db.session.scalars(select(WorkItem).where(
                (WorkItem.claim_id == claim.id) | (WorkItem.session_id == claim.session_id)))}  # fmt: skip
            if scenario in PAID:
                assert status == "paid", (scenario, status)
            elif scenario == "partial":
                assert status == "partially_paid"
            elif scenario == "rejected":
                assert status == "rejected" and items["fix_rejection"].queue == "rejections"
            elif scenario == "no_response":
                assert status == "accepted" and items["follow_up"].state == ItemState.SNOOZED
            elif scenario == "denied_necessity":
                assert status == "denied" and items["appeal"].state == ItemState.READY
            else:
                assert status == "denied" and items["work_denial"].queue == DENIAL_QUEUES[scenario], scenario
        return dict(outcome)


def test_200_sessions_go_out_in_one_batch_over_sftp_and_come_back_posted_even_across_server_kills(
    app: Flask, redis_conn: Redis, sshd: Sshd, clock_pin, tmp_path: Path
) -> None:
    started, load_before = time.perf_counter(), round(os.getloadavg()[0], 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    ids = _world(app, sshd)
    simulator = SimulatorProcess(sshd, tmp_path / "simulator.log")
    watchers: list[Watcher] = []
    try:
        # ---- round 1: nothing goes wrong -------------------------------------------------------------------
        phase = Phases("round 1")
        _import(app, ids, 0)
        phase("import_s")
        _plan_and_charge(app, redis_conn)
        phase("plan_charge_audit_s")
        submit_at = time.perf_counter()
        assert _submit_batches(app).startswith(f"{SESSIONS} claim(s) in 1 interchange(s) [{SESSIONS}]")
        phase("submit_batches_s")
        _work_off(app, redis_conn)  # the submit steps wake and close themselves
        phase("submit_items_s")
        _poll_until_all_in(app, simulator)
        phase("answers_fetched_and_posted_s")
        RESULTS["round 1"]["submit_to_posted_s"] = round(time.perf_counter() - submit_at, 2)
        _work_off(app, redis_conn)  # follow-ups close on their 835, appeal drafts
        phase("follow_ups_and_appeals_s")
        RESULTS["round 1"]["submit_to_routed_s"] = round(time.perf_counter() - submit_at, 2)
        RESULTS["round 1"]["scenarios"] = _check_everything(app, simulator, SESSIONS)
        phase("checks_s")

        # ---- round 2: the server dies in the middle of the upload, then in the middle of the download -------
        phase = Phases("round 2")
        _import(app, ids, SESSIONS)
        _plan_and_charge(app, redis_conn)
        phase("import_plan_charge_audit_s")
        submit_at = time.perf_counter()
        watcher = sshd.kill_on(sshd.folder("inbound"), event="upload")
        watchers.append(watcher)
        assert _submit_batches(app).startswith(f"{SESSIONS} claim(s) in 1 interchange(s)")  # committed, not sent
        seen = watcher.result()
        assert seen["on"].endswith(".part") and seen["folder"] in ([seen["on"]], [])  # killed mid-upload
        assert not [p for p in sshd.folder("inbound").iterdir() if not p.name.startswith(".")]  # no half file
        with app.app_context():
            unsent = db.session.scalars(select(EdiFile).where(EdiFile.status == "sending")).all()
            assert [e.kind for e in unsent] == ["837P"]
        _work_off(app, redis_conn)
        sshd.start()
        clock_pin.advance(seconds=RESEND_AFTER.total_seconds() + 60)  # the requeue sweeper's next run
        with app.app_context():
            assert resend_unsent_files(now=utcnow()) == {"resent": 1}
            assert resend_unsent_files(now=utcnow()) == {"resent": 0}
        simulator.wait(lambda: simulator.settled() and len(simulator.wrote()) == 10, "the second batch's answers")
        staging = Path(app.config["BACKOFFICE_SETTINGS"].instance_path) / "edi" / "connections" / str(ids["connection"])
        watcher = sshd.kill_on(staging / "inbox", event="download")
        watchers.append(watcher)
        with app.app_context():
            broken = ingest_all(now=utcnow())
            assert len(broken.errors) == 1 and "broke off" in broken.errors[0], broken.errors
        seen = watcher.result()
        got = sum(broken.counts["sftp-e2e"].values())
        assert 1 <= got < 5, broken.counts  # killed after the first answer and before the last
        sshd.start()
        _poll_until_all_in(app, simulator)
        RESULTS["round 2"]["submit_to_posted_s"] = round(time.perf_counter() - submit_at, 2)
        phase("submit_kills_resend_fetch_post_s")
        _work_off(app, redis_conn)
        phase("follow_ups_and_appeals_s")
        both = _check_everything(app, simulator, 2 * SESSIONS)
        RESULTS["round 2"].update(killed_download_after=seen["on"], fetched_before_kill=got)
    finally:
        for watcher in watchers:
            watcher.cancel()
        simulator.stop()
    with app.app_context():
        per_interchange = [e.summary["claims"] for e in db.session.scalars(
            select(EdiFile).where(EdiFile.kind == "837P").order_by(EdiFile.id))]  # fmt: skip
    used = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    RESULTS["total"] = {
        "claims_per_interchange": per_interchange, "wall_s": round(time.perf_counter() - started, 1),
        "cpu_s_this_process": round(used[0].ru_utime + used[0].ru_stime - cpu_before, 1),
        "cpu_s_children": round(used[1].ru_utime + used[1].ru_stime, 1),  # simulator, sshd, watchers
        "load_average_1m_before_after": [load_before, round(os.getloadavg()[0], 2)], "scenarios": both,
    }  # fmt: skip
    print("\nissue 19 e2e:", json.dumps(RESULTS))  # noqa: T201
    assert per_interchange == [SESSIONS, SESSIONS]
