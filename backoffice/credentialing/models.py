"""One provider's enrolment with one payer (for one practice): the record that gates claim submission."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.credentialing.rules import EnrollmentFacts, EnrollmentStatus
from backoffice.db_types import UTCDateTime, str_enum
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Provider


class Enrollment(db.Model):
    """Provider × payer (× practice): status, dates, the payer's provider ID and the re-attestation dates."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("provider_id", "payer_id", name="uq_enrollments_provider_payer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    payer_id: Mapped[int] = mapped_column(ForeignKey("payers.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(str_enum(EnrollmentStatus, 16))
    submitted_on: Mapped[date | None]
    effective_from: Mapped[date | None]
    terminated_on: Mapped[date | None]
    payer_provider_id: Mapped[str | None] = mapped_column(String(40))
    revalidation_due: Mapped[date | None]
    caqh_reattestation_due: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    provider: Mapped[Provider] = relationship()
    payer: Mapped[Payer] = relationship()

    @property
    def facts(self) -> EnrollmentFacts:
        return EnrollmentFacts(str(self.status), self.effective_from, self.terminated_on)
