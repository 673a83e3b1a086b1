"""Connections to clearinghouses as data: which channel carries a practice's EDI (or every practice of the
organization, when ``practice_id`` is empty), with its profile, usage indicator, identities, folders or endpoint,
polling interval and encrypted credentials; and the log of files fetched over SFTP (each remote file once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db

KINDS = ("sftp", "https_api", "sandbox", "local_folder")
USAGES = ("T", "P")  # ISA15: test / production
# Channels whose claims wait for the scheduled batch run (one interchange per run); the others submit at once.
BATCH_KINDS = ("sftp", "local_folder")


class Connection(db.Model):
    """One channel to a clearinghouse. A practice uses its own active connection, else the organization's shared
    one (``practice_id`` empty); ``credentials`` is a MultiFernet token (clearinghouse/credentials.py)."""

    __tablename__ = "clearinghouse_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # KINDS
    profile: Mapped[str] = mapped_column(String(32), default="generic")  # clearinghouse/profiles.py key
    usage: Mapped[str] = mapped_column(String(1), default="T")  # ISA15
    submitter_id: Mapped[str | None] = mapped_column(String(20))  # else the organization's edi_submitter_id
    receiver_id: Mapped[str | None] = mapped_column(String(15))  # else the profile's
    receiver_name: Mapped[str | None] = mapped_column(String(60))
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(100))
    host_key: Mapped[str | None] = mapped_column(String(1000))  # pinned "ssh-ed25519 AAAA..." (sftp)
    base_url: Mapped[str | None] = mapped_column(String(500))  # https_api
    upload_folder: Mapped[str | None] = mapped_column(String(500))  # remote (sftp) or local (local_folder)
    download_folder: Mapped[str | None] = mapped_column(String(500))
    poll_minutes: Mapped[int] = mapped_column(Integer, default=15)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    credentials: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_poll_error: Mapped[str | None] = mapped_column(String(500))
    # An opaque position in a clearinghouse API's stream of responses (remittance polling by cursor).
    cursor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class FetchedFile(db.Model):
    """A remote file we downloaded, by name and content hash (with its listed size and time, which let the next
    poll skip it without downloading it again): each remote file is fetched once."""

    __tablename__ = "clearinghouse_fetched_files"
    __table_args__ = (
        UniqueConstraint("connection_id", "remote_name", "sha256", name="uq_clearinghouse_fetched_files_name_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("clearinghouse_connections.id", name="fk_clearinghouse_fetched_files_connection"), index=True
    )
    remote_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    remote_mtime: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
