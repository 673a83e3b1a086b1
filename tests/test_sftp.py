"""The SFTP adapter against a real OpenSSH server (tests/sshd.py): temporary name then rename, each remote file
fetched once (by name and content hash), host-key pinning, key authentication, reconnects, and the server killed in
the middle of an upload and of a download (nothing lost, nothing filed twice, nothing fetched twice)."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from backoffice.clearinghouse.adapters import adapter_for, clearinghouse_for
from backoffice.clearinghouse.models import FetchedFile
from backoffice.clearinghouse.profiles import profile
from backoffice.clearinghouse.services import save_connection
from backoffice.clearinghouse.sftp import HostKeyRefused, SftpClearinghouse, TransferFailed
from backoffice.errors import ValidationFailed
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.exchange.submission import resend_unsent_files, submit_claims
from backoffice.extensions import db
from tests.factories_edi_posting import ISA
from tests.factories_submission import NOW, edi_setup, scrubbed_claim
from tests.sshd import Sshd, new_key, sshd_fixture  # noqa: F401 - the fixture
from tests.x12_checks import pyx12_errors


def _settings():  # noqa: ANN202
    return current_app.config["BACKOFFICE_SETTINGS"]


def _connection(server: Sshd, practice, **values):  # noqa: ANN001, ANN003, ANN202
    base = {
        "name": "office ally", "practice_id": practice.id, "kind": "sftp", "profile": "office_ally", "usage": "P",
        "host": "127.0.0.1", "port": server.port, "username": server.user, "host_key": server.host_key_line,
        "upload_folder": str(server.folder("inbound")), "download_folder": str(server.folder("outbound")),
        "timeout_seconds": 5,
    }  # fmt: skip
    return save_connection(
        organization_id=practice.organization_id, values=base | values, secrets={"private_key": server.client_key},
        settings=_settings(), actor=None, now=NOW,
    )  # fmt: skip


def _adapter(connection, **kw) -> SftpClearinghouse:  # noqa: ANN001, ANN003
    adapter = adapter_for(connection, _settings())
    assert isinstance(adapter, SftpClearinghouse)
    adapter.pause = 0.05
    for name, value in kw.items():
        setattr(adapter, name, value)
    return adapter


def test_an_upload_lands_whole_under_its_name_through_a_temporary_name(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice))
    adapter.send(practice=practice, filename="837P_a.txt", content=ISA + "\n", now=NOW)
    assert [p.name for p in sshd.folder("inbound").iterdir()] == ["837P_a.txt"]  # no temporary file left
    assert (sshd.folder("inbound") / "837P_a.txt").read_text() == ISA + "\n"
    adapter.send(practice=practice, filename="837P_a.txt", content=ISA + "\n", now=NOW)  # already there: kept
    assert len(list(sshd.folder("inbound").iterdir())) == 1


def test_an_unknown_host_key_is_refused_with_its_fingerprint(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice, host_key=None))
    with pytest.raises(HostKeyRefused, match=r"unknown host key ssh-ed25519 SHA256:"):
        adapter.send(practice=practice, filename="x.txt", content="ISA", now=NOW)
    assert list(sshd.folder("inbound").iterdir()) == []


def test_a_changed_host_key_is_refused(ctx, sshd: Sshd, tmp_path: Path) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    adapter = _adapter(_connection(sshd, practice, host_key=other))
    with pytest.raises(HostKeyRefused, match="host key CHANGED"):
        adapter.fetch(practice=practice, now=NOW)
    assert adapter.problem is None  # a refusal is not retried as a broken transfer: it is raised


def test_a_key_the_server_does_not_authorize_is_a_clear_authentication_error(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    connection = _connection(sshd, practice)
    stranger = new_key(sshd.root / "stranger")
    save_connection(organization_id=practice.organization_id, values={"name": connection.name, "kind": "sftp",
                    "profile": "office_ally", "usage": "P", "host": "127.0.0.1"}, secrets={"private_key": stranger},
                    settings=_settings(), actor=None, now=NOW, connection_id=connection.id)  # fmt: skip
    with pytest.raises(ValidationFailed, match="authentication failed"):
        _adapter(connection).send(practice=practice, filename="x.txt", content="ISA", now=NOW)


def test_each_remote_file_is_fetched_once_by_name_and_content(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    connection = _connection(sshd, practice)
    outbound = sshd.folder("outbound")
    (outbound / "a_999.txt").write_text("ISA one")
    (outbound / "b_835.txt").write_text("ISA two")
    adapter = _adapter(connection)
    assert [f.filename for f in adapter.fetch(practice=practice, now=NOW)] == ["a_999.txt", "b_835.txt"]
    assert list(outbound.iterdir()) == []  # Office Ally's files are removed once fetched
    (outbound / "a_999.txt").write_text("ISA one")  # the same file offered again
    for file in adapter.fetch(practice=practice, now=NOW):
        adapter.done(practice=practice, file=file, ok=True)
    assert adapter.fetch(practice=practice, now=NOW) == []
    names = db.session.scalars(select(FetchedFile.remote_name).order_by(FetchedFile.id)).all()
    assert names == ["a_999.txt", "b_835.txt"]


def test_a_server_that_keeps_its_files_is_not_downloaded_again(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice))
    adapter.profile = dataclasses.replace(profile("office_ally"), deletes_after_download=False)
    (sshd.folder("outbound") / "r.835").write_text("ISA three")
    assert adapter.download_new(NOW) == 1
    assert adapter.download_new(NOW) == 0  # listed again with the same name, size and time: skipped unread
    assert (sshd.folder("outbound") / "r.835").exists()


def test_an_unreachable_server_is_retried_then_reported(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice))
    sshd.kill()
    with pytest.raises(TransferFailed, match="unreachable after 3 attempts"):
        adapter.send(practice=practice, filename="x.txt", content="ISA", now=NOW)
    sshd.start()
    adapter.send(practice=practice, filename="x.txt", content="ISA", now=NOW)  # reconnects
    assert (sshd.folder("inbound") / "x.txt").read_text() == "ISA"


def _kill_when(sshd: Sshd, condition, seen: dict) -> threading.Thread:  # noqa: ANN001
    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if condition():
                seen["state"] = sorted(p.name for p in sshd.folder("inbound").iterdir())
                sshd.kill()
                return
            time.sleep(0.001)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


def test_a_server_killed_in_the_middle_of_an_upload_loses_nothing_and_files_once(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice))
    big = "ISA" + "X" * 40_000_000
    inbound = sshd.folder("inbound")
    seen: dict = {}
    watcher = _kill_when(sshd, lambda: any(p.name.endswith(".part") for p in inbound.iterdir()), seen)
    with pytest.raises(TransferFailed):
        adapter.send(practice=practice, filename="837P_big.txt", content=big, now=NOW)
    watcher.join()
    assert seen["state"] == [".837P_big.txt.part"]  # killed while the temporary file was being written
    assert not (inbound / "837P_big.txt").exists()  # the clearinghouse never saw half a file
    sshd.start()
    adapter.send(practice=practice, filename="837P_big.txt", content=big, now=NOW)
    assert sorted(p.name for p in inbound.iterdir()) == ["837P_big.txt"]
    assert (inbound / "837P_big.txt").stat().st_size == len(big)


def test_a_server_killed_in_the_middle_of_a_download_fetches_each_file_once(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(_connection(sshd, practice))
    outbound = sshd.folder("outbound")
    (outbound / "a_999.txt").write_text("ISA small")
    (outbound / "b_835.txt").write_text("ISA" + "Y" * 60_000_000)
    seen: dict = {}
    watcher = _kill_when(sshd, lambda: (adapter.inbox / "a_999.txt").exists(), seen)
    first = adapter.fetch(practice=practice, now=NOW)
    watcher.join()
    assert [f.filename for f in first] == ["a_999.txt"]  # what came before the break is kept
    assert adapter.problem and "broke off" in adapter.problem
    assert (outbound / "b_835.txt").exists()  # not removed: it was not fetched whole
    sshd.start()
    second = adapter.fetch(practice=practice, now=NOW)
    assert sorted(f.filename for f in second) == ["a_999.txt", "b_835.txt"]  # a_999 still staged, not refetched
    assert len(next(f for f in second if f.filename == "b_835.txt").content) == 60_000_003
    assert db.session.scalar(select(func.count()).select_from(FetchedFile)) == 2
    assert list(outbound.iterdir()) == []


def test_claims_go_out_over_sftp_with_the_profile_receiver_and_the_connection_usage(
    ctx,
    sshd: Sshd,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    org, practice, provider, payer = edi_setup()
    connection = _connection(sshd, practice, usage="T")
    assert isinstance(clearinghouse_for(practice, _settings()), SftpClearinghouse)
    claims = [scrubbed_claim(practice, provider, payer) for _ in range(3)]
    sshd.kill()  # the clearinghouse is down when we submit: the file is committed, then sent later
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    assert len(result.submitted) == 3 and len(result.files) == 1
    edi_file = db.session.get(EdiFile, result.files[0].edi_file_id)
    assert edi_file.status == "sending" and edi_file.filename.startswith("837P_")
    sshd.start()
    assert resend_unsent_files(now=NOW.replace(hour=16))["resent"] == 1
    assert resend_unsent_files(now=NOW.replace(hour=17))["resent"] == 0
    files = list(sshd.folder("inbound").iterdir())
    assert [p.name for p in files] == [edi_file.filename]  # one interchange, filed once
    text = files[0].read_text()
    isa = text.split("~")[0].split("*")
    assert (isa[8].strip(), isa[15]) == ("330897513", "T")  # Office Ally's receiver ID, the connection's usage
    assert "NM1*40*2*OFFICE ALLY*****46*330897513~" in text
    assert text.count("CLM*") == 3
    assert pyx12_errors(text, tmp_path) == []
    # the clearinghouse answers with a text report: kept, shown, not failed
    (sshd.folder("outbound") / "batch_EBR.txt").write_text("Batch report: 3 claims received\n")
    summary = ingest_all(now=NOW)
    assert summary.errors == []
    report = db.session.scalar(select(EdiFile).where(EdiFile.kind == "report"))
    assert (report.status, report.connection_id) == ("report", connection.id)
    assert db.session.get(type(connection), connection.id).last_poll_at is not None


def _clearinghouse_answers(sshd: Sshd, now) -> int:  # noqa: ANN001
    """A clearinghouse simulator watching the server's folders: every uploaded 837P answered with a 999, a 277CA
    and an 835 (the Sandbox payer's rules) in the download folder; the 837P is taken away."""
    from backoffice.clearinghouse import sandbox_x12 as sx  # noqa: PLC0415

    answered = 0
    for path in sorted(sshd.folder("inbound").iterdir()):
        if path.name.startswith("."):
            continue
        sent = sx.read_837(path.read_text())
        scenarios = {claim.account_number: sx.scenario_for(claim.account_number) for claim in sent.claims}
        control, isa = int(sent.interchange_control_number), sent.interchange_control_number
        out = sshd.folder("outbound")
        (out / f"{isa}_1_999.txt").write_text(sx.respond_999(sent, now=now, control_number=control))
        (out / f"{isa}_2_277.txt").write_text(sx.respond_277ca(sent, scenarios, now=now, control_number=control))
        remit = sx.remit_835(sent, scenarios, now=now, control_number=control)
        if remit:
            (out / f"{isa}_3_835.txt").write_text(remit)
        path.unlink()
        answered += 1
    return answered


def test_200_claims_go_out_in_one_interchange_and_their_answers_come_back_over_sftp(ctx, sshd: Sshd) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    _connection(sshd, practice, usage="T")
    claims = [scrubbed_claim(practice, provider, payer) for _ in range(200)]
    started = time.perf_counter()
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    submitted = time.perf_counter()
    assert [len(f.claim_ids) for f in result.files] == [200]  # one interchange
    assert _clearinghouse_answers(sshd, NOW) == 1
    summary = ingest_all(now=NOW)
    posted = time.perf_counter()
    assert summary.errors == []
    counts = summary.counts[practice.slug]
    assert counts["999 processed"] == 1 and counts["277CA processed"] == 1 and counts["835 processed"] == 1
    acked = db.session.scalar(
        select(func.count()).select_from(ClaimSubmission).where(ClaimSubmission.ack_status.is_not(None))
    )
    assert acked == 200  # every claim of the batch answered by the 277CA
    assert ingest_all(now=NOW).counts[practice.slug] == {}  # nothing fetched twice
    print(f"\n200 claims: submit {submitted - started:.2f} s, fetch+post {posted - submitted:.2f} s")  # noqa: T201
