"""Connections as data: the adapter comes from the practice's connection (else the organization's shared one, else
the legacy column), the receiver ID from the profile unless the connection sets one, ISA15 from the connection;
credentials sealed with MultiFernet (rotation, no key outside demo/test), write-only in the admin page; the
exchange page and its "poll now"."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.audit.models import AuditEvent
from backoffice.clearinghouse import credentials
from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.adapters import clearinghouse_for, connection_for
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.models import Connection
from backoffice.clearinghouse.profiles import PROFILES, profile
from backoffice.clearinghouse.sandbox import Sandbox
from backoffice.clearinghouse.sandbox_x12_277 import StatusQuestion
from backoffice.clearinghouse.services import rotate_credential_keys, save_connection
from backoffice.errors import ValidationFailed
from backoffice.exchange.models import EdiFile
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.orgs.models import Organization
from backoffice.settings import SettingsError, load_settings
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories_submission import NOW, edi_setup, scrubbed_claim
from tests.x12_checks import pyx12_errors

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _settings():  # noqa: ANN202
    return current_app.config["BACKOFFICE_SETTINGS"]


def _save(org_id: int, **values) -> Connection:  # noqa: ANN003
    base = {"name": "c", "kind": "local_folder", "profile": "availity", "usage": "T"}
    secrets = values.pop("secrets", {})
    return save_connection(organization_id=org_id, values=base | values, secrets=secrets, settings=_settings(),
                           actor=None, now=NOW)  # fmt: skip


def test_the_practice_connection_wins_over_the_shared_one_and_the_legacy_column(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    assert isinstance(clearinghouse_for(practice, _settings()), Sandbox)  # no connection: the legacy column
    shared = _save(org.id, name="shared", upload_folder=str(tmp_path / "shared"))
    assert connection_for(practice).id == shared.id
    own = _save(org.id, name="own", practice_id=practice.id, upload_folder=str(tmp_path / "own"), usage="P")
    adapter = clearinghouse_for(practice, _settings())
    assert connection_for(practice).id == own.id
    assert isinstance(adapter, FileDrop) and adapter.outbox == tmp_path / "own"
    assert (adapter.receiver.etin, adapter.usage) == ("030240928", "P")  # Availity's ID, the connection's usage


def test_a_receiver_id_on_the_connection_overrides_the_profile(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    _save(org.id, practice_id=practice.id, upload_folder=str(tmp_path), receiver_id="ZZRECV01", receiver_name="X")
    assert clearinghouse_for(practice, _settings()).receiver.etin == "ZZRECV01"


def test_an_837p_carries_the_profile_receiver_and_the_connection_usage(ctx, tmp_path: Path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    _save(org.id, practice_id=practice.id, upload_folder=str(tmp_path / "out"), profile="claim_md", usage="P")
    claims = [scrubbed_claim(practice, provider, payer) for _ in range(2)]
    result = submit_claims(organization_id=org.id, claim_ids=[c.id for c in claims], now=NOW, source="test")
    (written,) = list((tmp_path / "out").iterdir())
    assert written.name == profile("claim_md").filename(
        kind="837P", practice=practice.slug, control=int(result.files[0].interchange_control_number)
    )
    text = written.read_text()
    isa = text.split("~")[0].split("*")
    assert (isa[8].strip(), isa[15]) == ("CLAIMMD", "P")
    assert "GS*HC*BILLCO01*CLAIMMD*" in text and "NM1*40*2*CLAIM.MD*****46*CLAIMMD~" in text
    assert pyx12_errors(text, tmp_path) == []


def test_bad_connection_values_are_refused_naming_the_field(ctx) -> None:  # noqa: ANN001
    org, practice, _, _ = edi_setup()
    for values, message in (
        ({"kind": "ftp"}, "kind: one of"), ({"usage": "X"}, "usage: T"), ({"profile": "nope"}, "profile: one of"),
        ({"kind": "sftp"}, "host: required"), ({"kind": "sftp", "host": "h", "host_key": "garbage"}, "host key"),
        ({"kind": "https_api", "base_url": "http://x"}, "base URL"),
    ):  # fmt: skip
        with pytest.raises(ValidationFailed, match=message):
            _save(org.id, upload_folder="/tmp/x", **values)  # noqa: S108
    other = f.make_practice(f.make_org())
    with pytest.raises(ValidationFailed, match="not a practice of this organization"):
        _save(org.id, upload_folder="/tmp/x", practice_id=other.id)  # noqa: S108
    assert db.session.scalar(select(Connection)) is None


def test_credentials_are_sealed_at_rest_kept_when_blank_and_forgotten_on_request(ctx) -> None:  # noqa: ANN001
    org, _, _, _ = edi_setup()
    connection = _save(org.id, upload_folder="/tmp/x", secrets={"password": "hunter2-secret"})  # noqa: S108
    assert "hunter2" not in (connection.credentials or "")
    assert credentials.unseal(_settings(), connection.credentials) == {"password": "hunter2-secret"}
    save_connection(organization_id=org.id, connection_id=connection.id, values={"name": "c", "kind": "local_folder",
                    "profile": "availity", "usage": "T", "upload_folder": "/tmp/x"}, secrets={"password": ""},  # noqa: S108
                    settings=_settings(), actor=None, now=NOW)  # fmt: skip
    assert credentials.unseal(_settings(), connection.credentials) == {"password": "hunter2-secret"}
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "connection_saved")).all()
    assert audit[0].data["secrets_set"] == ["password"] and "hunter2" not in str([a.data for a in audit])
    save_connection(organization_id=org.id, connection_id=connection.id, values={"name": "c", "kind": "local_folder",
                    "profile": "availity", "usage": "T", "upload_folder": "/tmp/x"}, secrets={}, settings=_settings(),  # noqa: S108
                    actor=None, now=NOW, clear_secrets=True)  # fmt: skip
    assert connection.credentials is None


def test_keys_rotate_new_first_and_old_tokens_still_open(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = load_settings({}, {"env": "production", "secret_key": "s" * 40, "credential_keys": old})
    token = credentials.seal(before, {"api_key": "k-123"})
    after = load_settings({}, {"env": "production", "secret_key": "s" * 40, "credential_keys": f"{new},{old}"})
    assert credentials.unseal(after, token) == {"api_key": "k-123"}
    rotated = credentials.rotate(after, token)
    only_new = load_settings({}, {"env": "production", "secret_key": "s" * 40, "credential_keys": new})
    assert credentials.unseal(only_new, rotated) == {"api_key": "k-123"}
    with pytest.raises(ValidationFailed, match="cannot be decrypted"):
        credentials.unseal(only_new, token)


def test_no_credential_key_outside_demo_and_test_and_a_bad_key_is_a_settings_error() -> None:
    production = load_settings({}, {"env": "production", "secret_key": "s" * 40})
    with pytest.raises(credentials.CredentialKeysMissing, match="BACKOFFICE_CREDENTIAL_KEYS"):
        credentials.seal(production, {"password": "x"})
    with pytest.raises(SettingsError, match="key 2 is not a Fernet key"):
        load_settings({"BACKOFFICE_CREDENTIAL_KEYS": f"{Fernet.generate_key().decode()},not-a-key"})


def test_rotate_credential_keys_reseals_every_stored_token(ctx) -> None:  # noqa: ANN001
    org, _, _, _ = edi_setup()
    connection = _save(org.id, upload_folder="/tmp/x", secrets={"password": "p"})  # noqa: S108
    token = connection.credentials
    assert rotate_credential_keys(settings=_settings()) == 1
    assert connection.credentials != token and credentials.unseal(_settings(), connection.credentials) == {
        "password": "p"
    }


def test_every_profile_names_a_receiver_folders_and_what_comes_back() -> None:
    for key in ("office_ally", "availity", "claim_md"):
        chosen = PROFILES[key]
        assert chosen.receiver_id and chosen.upload_folder and chosen.download_folder and chosen.acknowledgements
        assert chosen.assumptions and chosen.source
        assert chosen.report_kind("batch_20261118_EBR.txt" if key != "availity" else "x.ebr") == "report"
        assert chosen.report_kind("anything.835") == "x12"


def _admin_world(app: Flask) -> tuple[int, int]:
    with app.app_context():
        org, practice, _, _ = edi_setup()
        f.make_user(org, role="admin", email="admin@example.test")
        f.make_user(org, role="biller", email="biller@example.test")
        return org.id, practice.id


def test_the_admin_creates_a_connection_and_its_secret_is_never_shown_back(app: Flask, client: FlaskClient,
                                                                         auth: AuthActions) -> None:  # fmt: skip
    org_id, practice_id = _admin_world(app)
    auth.login("admin@example.test")
    page = client.get("/admin/connections/new")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)), "name": "Availity SFTP", "practice_id": str(practice_id),
        "kind": "sftp", "profile": "availity", "usage": "T", "host": "sftp.example.test", "port": "22",
        "username": "bill01", "host_key": OTHER_KEY,
        "poll_minutes": "15", "timeout_seconds": "30", "active": "y", "password": "s3cret-Pa55word",
    }  # fmt: skip
    saved = client.post("/admin/connections/new", data=data)
    assert saved.status_code == 302
    listing = client.get("/admin/connections").get_data(as_text=True)
    assert "Availity SFTP" in listing and "password: set" in listing and "s3cret" not in listing
    with app.app_context():
        connection = db.session.scalar(select(Connection))
        assert connection.practice_id == practice_id and "s3cret" not in connection.credentials
    form = client.get(f"/admin/connections/{connection.id}").get_data(as_text=True)
    assert "s3cret" not in form and "stored (not shown)" in form
    auth.logout()
    auth.login("biller@example.test")
    assert client.get("/admin/connections").status_code == 403
    assert client.get("/exchange").status_code == 403


def test_the_exchange_page_shows_files_reports_and_polls_now(app: Flask, client: FlaskClient, auth: AuthActions,
                                                              tmp_path: Path) -> None:  # fmt: skip
    org_id, practice_id = _admin_world(app)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a_EBR.txt").write_text("3 claims received\n")
    with app.app_context():
        connection = save_connection(organization_id=org_id, values={"name": "Drop", "kind": "local_folder",
                                     "profile": "office_ally", "usage": "T", "practice_id": practice_id,
                                     "upload_folder": str(tmp_path / "out"), "download_folder": str(inbox)},
                                     secrets={}, settings=current_app.config["BACKOFFICE_SETTINGS"], actor=None,
                                     now=NOW)  # fmt: skip
        connection_id = connection.id
    auth.login("admin@example.test")
    page = client.get("/exchange")
    assert page.status_code == 200 and "Last poll: never" in page.get_data(as_text=True)
    polled = client.post(
        f"/exchange/{connection_id}/poll", data={"csrf_token": csrf_token(page.get_data(as_text=True))}
    )
    assert polled.status_code == 302
    after = client.get("/exchange").get_data(as_text=True)
    assert "a_EBR.txt" in after and "Last poll: never" not in after
    with app.app_context():
        report = db.session.scalar(select(EdiFile).where(EdiFile.kind == "report"))
    assert "3 claims received" in client.get(f"/exchange/reports/{report.id}").get_data(as_text=True)
    assert client.post("/exchange/999999/poll", data={"csrf_token": csrf_token(after)}).status_code == 404


def _local_connection(app: Flask, org_id: int, name: str, practice_id: int | None, folder: Path) -> None:
    with app.app_context():
        values = {"name": name, "kind": "local_folder", "profile": "office_ally", "usage": "T",
                  "practice_id": practice_id, "upload_folder": str(folder / "out"),
                  "download_folder": str(folder / "in")}  # fmt: skip
        save_connection(organization_id=org_id, values=values, secrets={}, actor=None, now=NOW,
                        settings=current_app.config["BACKOFFICE_SETTINGS"])  # fmt: skip


def test_files_of_practices_without_a_connection_are_on_the_exchange_page_once(
    app: Flask, client: FlaskClient, auth: AuthActions, tmp_path: Path
) -> None:
    """The demo's organization has no connection (its practices use the Sandbox setting): its 837s and the
    answers must still show; a practice on a connection shows its files under that connection only."""
    org_id, practice_id = _admin_world(app)
    with app.app_context():
        org = db.session.get(Organization, org_id)
        sandboxed = f.make_practice(org, name="Sandboxed Practice")
        for name, practice in (("legacy_837.x12", sandboxed.id), ("drop_837.x12", practice_id)):
            db.session.add(EdiFile(organization_id=org_id, practice_id=practice, direction="outbound", kind="837P",
                                   filename=name, sha256=name.ljust(64, "0"), status="written", summary={},
                                   problems=[], created_at=NOW))  # fmt: skip
        db.session.commit()
    auth.login("admin@example.test")
    before = client.get("/exchange").get_data(as_text=True)  # no connection yet: every practice's files
    assert "Without a connection" in before and "legacy_837.x12" in before and "drop_837.x12" in before
    _local_connection(app, org_id, "Drop", practice_id, tmp_path / "a")
    after = client.get("/exchange").get_data(as_text=True)
    drop, legacy = after.split('id="no-connection"')
    assert "drop_837.x12" in drop and "legacy_837.x12" not in drop
    assert "legacy_837.x12" in legacy and "drop_837.x12" not in legacy and "Sandboxed Practice (sandbox)" in legacy
    _local_connection(app, org_id, "Shared", None, tmp_path / "b")
    assert "Without a connection" not in client.get("/exchange").get_data(as_text=True)  # a shared one covers all


def test_a_270_and_a_276_go_to_the_clearinghouse_receiver_with_the_connection_usage(ctx, tmp_path: Path) -> None:  # noqa: ANN001

    org, practice, provider, payer = edi_setup()
    _save(org.id, practice_id=practice.id, upload_folder=str(tmp_path / "out"), usage="P")
    adapter = clearinghouse_for(practice, _settings())
    question = sx.EligibilityQuestion(
        trace_number="77-1", member_id="W123456789", first_name="ANA", last_name="DIAZ",
        date_of_birth=NOW.date().replace(year=1980), sex="F", payer_id=payer.payer_id, payer_name=payer.name,
        provider_npi=provider.npi, provider_name=provider.last_name, service_date=NOW.date(),
    )  # fmt: skip
    assert adapter.check_eligibility(practice=practice, questions=[question], now=NOW) is None
    claim = scrubbed_claim(practice, provider, payer)
    status = StatusQuestion(
        trace_number="78-1", account_number=claim.account_number, payer_claim_number="", member_id="W123456789",
        first_name="ANA", last_name="DIAZ", payer_id=payer.payer_id, payer_name=payer.name, provider_npi=provider.npi,
        provider_name=provider.last_name, charge=claim.total_charge, service_from=NOW.date(), service_to=NOW.date(),
    )  # fmt: skip
    adapter.check_claim_status(practice=practice, questions=[status], now=NOW)
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name.split("-")[0] for p in written] == ["270", "276"]
    for path in written:
        isa = path.read_text().split("~")[0].split("*")
        assert (isa[8].strip(), isa[15]) == ("030240928", "P"), path.name
        # pyx12 4 ships no 270 (005010X279A1) or 276 (005010X212) map: the envelopes are checked here
        assert path.read_text().split("~")[1].split("*")[3] == "030240928"  # GS03
