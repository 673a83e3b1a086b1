"""Reads for the connection pages and the exchange page (always within one organization)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from backoffice.clearinghouse.models import Connection
from backoffice.exchange.models import EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Practice


@dataclass
class ConnectionActivity:
    connection: Connection | None  # None: the practices with no connection, on their own setting (Sandbox, file drop)
    practice_name: str
    inbound: list[EdiFile]
    outbound: list[EdiFile]
    failed: list[EdiFile]
    reports: list[EdiFile]


def connections_of(organization_id: int) -> list[Connection]:
    return list(
        db.session.scalars(
            select(Connection).where(Connection.organization_id == organization_id).order_by(Connection.id)
        ).all()
    )


def connection_in(organization_id: int, connection_id: int) -> Connection | None:
    """The organization's connection ``connection_id``, or None (another organization's is not found)."""
    return db.session.scalar(
        select(Connection).where(Connection.id == connection_id, Connection.organization_id == organization_id)
    )


def practices_of(organization_id: int) -> list[Practice]:
    return list(
        db.session.scalars(
            select(Practice).where(Practice.organization_id == organization_id).order_by(Practice.name)
        ).all()
    )


def exchange_activity(organization_id: int, *, limit: int = 20) -> list[ConnectionActivity]:
    """Per connection: its latest files in and out (with state), the failed ones and the reports; then the files of
    the practices no connection covers (their own clearinghouse setting: the Sandbox or a file drop), so the files
    of an organization without connections (the demo's) are on the page too."""
    practices = practices_of(organization_id)
    names = {p.id: p.name for p in practices}
    files = select(EdiFile).where(EdiFile.organization_id == organization_id)
    out = []
    covered: set[int] = set()
    for connection in connections_of(organization_id):
        practice_ids = [connection.practice_id] if connection.practice_id else list(names)
        covered |= set(practice_ids)
        mine = (EdiFile.connection_id == connection.id) | (
            EdiFile.connection_id.is_(None) & EdiFile.practice_id.in_(practice_ids)
        )
        out.append(
            _activity(connection, names.get(connection.practice_id, "every practice (shared)")
                      if connection.practice_id else "every practice (shared)", files.where(mine), limit)
        )  # fmt: skip
    uncovered = [p for p in practices if p.id not in covered]
    if uncovered:
        legacy = files.where(EdiFile.connection_id.is_(None), EdiFile.practice_id.in_([p.id for p in uncovered]))
        if db.session.scalar(legacy.limit(1)) is not None:
            label = ", ".join(f"{p.name} ({p.clearinghouse.replace('_', ' ')})" for p in uncovered)
            out.append(_activity(None, label, legacy, limit))
    return out


def _activity(connection: Connection | None, practice_name: str, mine: object, limit: int) -> ConnectionActivity:
    recent = mine.order_by(EdiFile.id.desc())  # type: ignore[attr-defined]

    def rows(*where: object) -> list[EdiFile]:
        return list(db.session.scalars(recent.where(*where).limit(limit)).all())

    return ConnectionActivity(
        connection=connection,
        practice_name=practice_name,
        inbound=rows(EdiFile.direction == "inbound", EdiFile.status != "report"),
        outbound=rows(EdiFile.direction == "outbound"),
        failed=rows(EdiFile.status.in_(("failed", "sending"))),
        reports=rows(EdiFile.status == "report"),
    )


def report_in(organization_id: int, edi_file_id: int) -> EdiFile | None:
    return db.session.scalar(
        select(EdiFile).where(
            EdiFile.id == edi_file_id, EdiFile.organization_id == organization_id, EdiFile.status == "report"
        )
    )
