"""Where document bytes live, behind one small interface (``DocumentStorage``: put, get, delete, new_key):

- ``LocalStorage``: a folder under the instance path (``<instance>/documents``), written atomically;
- ``S3Storage``: an S3-compatible bucket (AWS S3, MinIO, Ceph, ...) through boto3
  (``BACKOFFICE_DOCUMENT_STORAGE=s3``; the bucket, endpoint URL, region and credentials come from settings).

Keys are names we choose (random, never the uploaded name), so a key never carries PHI.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from backoffice.errors import ServiceError
from backoffice.settings import Settings


class StorageError(ServiceError):
    """A document could not be read or written; the message names the key and bucket, never the content."""


class DocumentStorage(Protocol):
    def new_key(self, extension: str) -> str: ...

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


def random_key(extension: str) -> str:
    token = secrets.token_hex(16)
    return f"{token[:2]}/{token}.{extension}"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def new_key(self, extension: str) -> str:
        return random_key(extension)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key: outside the document folder")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Storage:
    """Objects ``<prefix><key>`` in one bucket, written with server-side encryption (AES256). A PUT is atomic in
    S3: a reader sees the whole object or none."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    def new_key(self, extension: str) -> str:
        return random_key(extension)

    def _name(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError("storage key: not a key we made")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                                   ServerSideEncryption="AES256")  # fmt: skip
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"document {key}: not stored in bucket {self.bucket} ({_reason(error)})") from None

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"document {key}: not read from bucket {self.bucket} ({_reason(error)})") from None

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except (BotoCoreError, ClientError) as error:
            raise StorageError(f"document {key}: not deleted from bucket {self.bucket} ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "error"))
    return type(error).__name__


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (path-style addressing for a custom endpoint such as MinIO).
    Without configured keys boto3's own chain applies (AWS_* variables, an instance role); no key has a default."""
    keys: dict[str, str] = {}
    if settings.document_s3_access_key_id:
        keys = {"aws_access_key_id": settings.document_s3_access_key_id,
                "aws_secret_access_key": settings.document_s3_secret_access_key or ""}  # fmt: skip
    style = "path" if settings.document_s3_endpoint_url else "auto"
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.document_s3_endpoint_url, region_name=settings.document_s3_region,
        config=Config(s3={"addressing_style": style}, retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=5, read_timeout=30), **keys,
    )  # fmt: skip


def storage_for(settings: Settings, instance_path: str | Path) -> DocumentStorage:
    """The storage the settings choose: the instance folder (default) or the S3-compatible bucket."""
    if settings.document_storage == "s3":
        return S3Storage(s3_client(settings), settings.document_bucket or "", settings.document_s3_prefix or "")
    return LocalStorage(Path(instance_path) / "documents")
