"""What went out and came in over EDI: control numbers (persisted, never reused), every file exchanged, and
each claim's submissions (one per claim version, which is what makes a resubmission idempotent)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backoffice.db_types import UTCDateTime
from backoffice.extensions import db


class ControlNumber(db.Model):
    """The last control number handed out per organization and series ("interchange", "group",
    "transaction"). Allocation is an UPDATE … RETURNING, so two exports never get the same number."""

    __tablename__ = "edi_control_numbers"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class EdiFile(db.Model):
    """One file sent or received. An inbound file is processed once: the same bytes again are a duplicate."""

    __tablename__ = "edi_files"
    __table_args__ = (UniqueConstraint("organization_id", "direction", "sha256", name="uq_edi_files_content"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # "outbound" / "inbound"
    kind: Mapped[str] = mapped_column(String(8))  # 837P, 999, 277CA, 835, 271, 277, 270, 276
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    interchange_control_number: Mapped[str | None] = mapped_column(String(9))
    status: Mapped[str] = mapped_column(String(16))  # written, processed, failed, refused
    # Counts (claims, posted, rejected, ...) and the problems found, never patient data.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The clearinghouse connection it went through (empty for files from before connections, or exported).
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("clearinghouse_connections.id"), index=True)
    # A clearinghouse's human report (text, CSV): kept as it came (status "report"), shown on the exchange page.
    report_text: Mapped[str | None] = mapped_column(Text)


class ClaimSubmission(db.Model):
    """One claim version sent in one 837P. Unique per (claim, version): sending the same version twice is
    refused by the database, so a retried submit step cannot file a claim twice."""

    __tablename__ = "claim_submissions"
    __table_args__ = (UniqueConstraint("claim_id", "claim_version", name="uq_claim_submissions_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    claim_version: Mapped[int]
    edi_file_id: Mapped[int] = mapped_column(ForeignKey("edi_files.id"), index=True)
    interchange_control_number: Mapped[str] = mapped_column(String(9))
    group_control_number: Mapped[str] = mapped_column(String(9))
    transaction_control_number: Mapped[str] = mapped_column(String(9), index=True)
    frequency_code: Mapped[str] = mapped_column(String(1))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The front end's answer: 999 (file/transaction) then 277CA (claim): "accepted" / "rejected".
    ack_status: Mapped[str | None] = mapped_column(String(16))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
