"""A therapy session (encounter) as a practice sends it to us; the start of every work chain."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db
from backoffice.sessions.kinds import Modality, PatientLocation, ServiceKind  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice, Provider
    from backoffice.patients.models import Patient


class Session(db.Model):
    """One encounter. ``external_ref`` is the practice's own reference, unique per practice."""

    __tablename__ = "sessions"
    __table_args__ = (UniqueConstraint("practice_id", "external_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(64))
    date_of_service: Mapped[date] = mapped_column(index=True)
    # Tells two sessions of one patient on one day apart (same-day edits, separate-session modifier).
    start_time: Mapped[time | None]
    service_kind: Mapped[ServiceKind] = mapped_column(str_enum(ServiceKind))
    minutes: Mapped[int]
    em_code: Mapped[str | None] = mapped_column(String(5))
    modality: Mapped[Modality] = mapped_column(str_enum(Modality, 16))
    patient_location: Mapped[PatientLocation] = mapped_column(str_enum(PatientLocation, 16))
    interactive_complexity: Mapped[bool] = mapped_column(default=False)
    screening_count: Mapped[int] = mapped_column(default=0)
    diagnoses: Mapped[list[str]] = mapped_column(JSON, default=list)
    auth_number: Mapped[str | None] = mapped_column(String(50))
    # The HCPCS Level II code of a "hcpcs" service, and +90863 by a prescribing psychologist (issue 21).
    procedure_code: Mapped[str | None] = mapped_column(String(5))
    pharmacologic_management: Mapped[bool] = mapped_column(default=False, server_default=false())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set by the intake flow when the session's chain is planned: "new sessions" are the ones without it.
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)

    practice: Mapped[Practice] = relationship()
    patient: Mapped[Patient] = relationship()
    provider: Mapped[Provider] = relationship()
