"""Document storage as a setting (issue 20.6): the instance folder by default, or an S3-compatible bucket
(BACKOFFICE_DOCUMENT_STORAGE=s3). The S3 backend is tested against a real S3 HTTP server started here on loopback
(moto's ThreadedMotoServer): uploads, audited reads and the appeal packet all go through it, and nothing lands in
the instance folder."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from flask import Flask
from moto.server import ThreadedMotoServer
from pypdf import PdfReader
from redis import Redis
from sqlalchemy import func, select

from backoffice.app import create_app
from backoffice.appeals.models import Appeal
from backoffice.audit.models import AuditEvent
from backoffice.documents import services
from backoffice.documents.models import Document
from backoffice.documents.storage import LocalStorage, S3Storage, StorageError, s3_client, storage_for
from backoffice.extensions import db
from backoffice.settings import SettingsError, load_settings
from tests.conftest import AuthActions, _empty_all_tables, make_settings
from tests.factories import NOW
from tests.test_documents import image_bytes, pdf_bytes, upload, world

BUCKET = "practice-documents"
# The test server's keys: any value works against it; outside demo and tests no key has a default.
TEST_KEYS = {"document_s3_access_key_id": "test-key-id", "document_s3_secret_access_key": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_settings(endpoint: str, bucket: str = BUCKET) -> dict[str, object]:
    return {"document_storage": "s3", "document_bucket": bucket, "document_s3_endpoint_url": endpoint,
            "document_s3_region": "us-east-1", "document_s3_prefix": "docs/", **TEST_KEYS}  # fmt: skip


@pytest.fixture
def bucket(s3_endpoint: str) -> Iterator[object]:
    """A fresh, empty bucket on the test server, and a plain boto3 client to look into it."""
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test-key-id",
                       aws_secret_access_key="test-secret")  # fmt: skip
    raw.create_bucket(Bucket=BUCKET)
    yield raw
    for found in raw.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        raw.delete_object(Bucket=BUCKET, Key=found["Key"])
    raw.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def app(database_url: str, redis_url: str, tmp_path: Path, s3_endpoint: str, bucket: object) -> Iterator[Flask]:
    """The test app with its documents in the S3 bucket (this module's ``client`` and ``ctx`` use it)."""
    application = create_app(settings=make_settings(database_url, str(tmp_path), redis_url,
                                                    **s3_settings(s3_endpoint)))  # fmt: skip
    Redis.from_url(redis_url).flushdb()
    yield application
    with application.app_context():
        db.session.remove()
        _empty_all_tables()
        db.engine.dispose()
    Redis.from_url(redis_url).flushdb()


# ---- the setting ------------------------------------------------------------------------------------------------


def test_the_instance_folder_is_the_default_and_s3_needs_its_bucket() -> None:
    assert load_settings(environ={}).document_storage == "local"
    assert isinstance(storage_for(load_settings(environ={}), "/srv/instance"), LocalStorage)
    with pytest.raises(SettingsError, match="BACKOFFICE_DOCUMENT_BUCKET is required"):
        load_settings(environ={"BACKOFFICE_DOCUMENT_STORAGE": "s3"})
    with pytest.raises(SettingsError, match="BACKOFFICE_DOCUMENT_STORAGE: expected local or s3"):
        load_settings(environ={"BACKOFFICE_DOCUMENT_STORAGE": "ftp"})
    with pytest.raises(SettingsError, match="set both or neither"):
        load_settings(environ={"BACKOFFICE_DOCUMENT_STORAGE": "s3", "BACKOFFICE_DOCUMENT_BUCKET": "b",
                               "BACKOFFICE_DOCUMENT_S3_ACCESS_KEY_ID": "AKIA"})  # fmt: skip
    production = {"BACKOFFICE_ENV": "production", "BACKOFFICE_SECRET_KEY": "x" * 40,
                  "BACKOFFICE_DOCUMENT_STORAGE": "s3", "BACKOFFICE_DOCUMENT_BUCKET": "b"}  # fmt: skip
    with pytest.raises(SettingsError, match="use https:// in production"):
        load_settings(environ={**production, "BACKOFFICE_DOCUMENT_S3_ENDPOINT_URL": "http://minio.internal:9000"})
    settings = load_settings(environ={**production, "BACKOFFICE_DOCUMENT_S3_ENDPOINT_URL": "https://minio:9000"})
    assert settings.document_s3_access_key_id is None  # no default key: boto3's own chain (an instance role)


def test_the_s3_backend_puts_gets_and_deletes_over_http(s3_endpoint: str, bucket) -> None:  # noqa: ANN001
    settings = make_settings("sqlite://", "/tmp/unused", **s3_settings(s3_endpoint))
    store = storage_for(settings, "/tmp/unused")
    assert isinstance(store, S3Storage)
    key = store.new_key("pdf")
    store.put(key, b"%PDF-1.4 a note")
    assert store.get(key) == b"%PDF-1.4 a note"
    head = bucket.head_object(Bucket=BUCKET, Key=f"docs/{key}")
    assert head["ContentLength"] == len(b"%PDF-1.4 a note") and head["ServerSideEncryption"] == "AES256"
    with pytest.raises(urllib.error.HTTPError, match="403"):  # the object is private: an unsigned GET is refused
        urllib.request.urlopen(f"{s3_endpoint}/{BUCKET}/docs/{key}")  # noqa: S310 - the loopback test server
    store.delete(key)
    assert bucket.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    with pytest.raises(StorageError, match=rf"document {key}: not read from bucket {BUCKET} \(NoSuchKey\)"):
        store.get(key)
    with pytest.raises(ValueError, match="storage key"):
        store.get("../other-bucket/x.pdf")
    missing = S3Storage(s3_client(settings), "no-such-bucket")
    with pytest.raises(StorageError, match="not stored in bucket no-such-bucket"):
        missing.put(key, b"%PDF-")


# ---- documents on S3 through the screens ------------------------------------------------------------------------


def test_an_upload_goes_to_the_bucket_and_its_read_is_audited(app, client, bucket, tmp_path) -> None:  # noqa: ANN001
    ids = world(app)
    AuthActions(client).login("biller@example.test")
    page = client.get(f"/items/{ids['item']}").get_data(as_text=True)
    note = pdf_bytes("Progress note for the appeal")
    done = upload(client, "item", ids["item"], note, "Progress Note.pdf", page)
    assert "Attached Progress Note.pdf." in done.get_data(as_text=True)
    with app.app_context():
        document = db.session.scalars(select(Document)).one()
        document_id, key = document.id, document.storage_key
    stored = bucket.get_object(Bucket=BUCKET, Key=f"docs/{key}")["Body"].read()
    assert stored == note and "Progress" not in key
    assert not (tmp_path / "documents").exists()  # nothing in the instance folder
    got = client.get(f"/documents/{document_id}")
    assert got.status_code == 200 and got.data == note
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "document",
                                                            AuditEvent.action == "phi_view")).all()  # fmt: skip
        assert [(r.target_id, r.patient_id) for r in reads] == [(str(document_id), ids["patient"])]


def test_the_appeal_packet_reads_its_documents_from_the_bucket(app, client, bucket) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        scope = {db.session.get(Appeal, ids["appeal"]).practice_id}
        notes = services.attach(to=services.target("appeal", ids["appeal"], scope), filename="notes.pdf",
                                data=pdf_bytes("Session notes", pages=2), user=None, now=NOW)  # fmt: skip
        fax = services.attach(to=services.target("claim", ids["claim"], scope), filename="auth fax.tif",
                              data=image_bytes("TIFF", frames=2), user=None, now=NOW)  # fmt: skip
        db.session.commit()
        notes_id, fax_id = notes.id, fax.id
    assert bucket.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 2
    AuthActions(client).login("biller@example.test")
    packet = client.get(f"/appeals/{ids['appeal']}/packet.pdf?doc={notes_id}&doc={fax_id}")
    assert packet.status_code == 200
    reader = PdfReader(io.BytesIO(packet.data))
    letter_pages = len(PdfReader(io.BytesIO(client.get(f"/appeals/{ids['appeal']}/letter.pdf").data)).pages)
    assert len(reader.pages) == letter_pages + 2 + 2
    assert "Session notes page 2" in reader.pages[letter_pages + 1].extract_text()
    with app.app_context():
        pdf_reads = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.target_type == "document", AuditEvent.action == "pdf"))  # fmt: skip
        assert pdf_reads == 2


def test_an_upload_whose_transaction_rolls_back_leaves_no_object(app, bucket) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        scope = {db.session.get(Appeal, ids["appeal"]).practice_id}
        kept = services.attach(to=services.target("claim", ids["claim"], scope), filename="eob.png",
                               data=image_bytes("PNG"), user=None, now=NOW)  # fmt: skip
        db.session.commit()
        kept_key = kept.storage_key
        services.attach(to=services.target("claim", ids["claim"], scope), filename="fax.png", data=image_bytes("PNG"),
                        user=None, now=NOW)  # fmt: skip
        assert bucket.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 2
        db.session.rollback()  # e.g. the commit failed: the row is gone, and so is its object
        assert [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]] == [f"docs/{kept_key}"]
        assert db.session.scalar(select(func.count()).select_from(Document)) == 1


def test_an_upload_the_bucket_refuses_is_named_and_leaves_no_row(app, client, bucket) -> None:  # noqa: ANN001
    ids = world(app)
    bucket.delete_bucket(Bucket=BUCKET)  # the bucket is gone (a misconfiguration)
    try:
        AuthActions(client).login("biller@example.test")
        page = client.get(f"/items/{ids['item']}").get_data(as_text=True)
        done = upload(client, "item", ids["item"], pdf_bytes("x"), "x.pdf", page).get_data(as_text=True)
        assert f"not stored in bucket {BUCKET} (NoSuchBucket)" in done
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    finally:
        bucket.create_bucket(Bucket=BUCKET)
