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
    connection: Connection
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
    """Per connection: its latest files in and out (with state), the failed ones and the reports."""
    names = {p.id: p.name for p in practices_of(organization_id)}
    out = []
    for connection in connections_of(organization_id):
        practice_ids = [connection.practice_id] if connection.practice_id else list(names)
        files = select(EdiFile).where(EdiFile.organization_id == organization_id)
        mine = (EdiFile.connection_id == connection.id) | (
            EdiFile.connection_id.is_(None) & EdiFile.practice_id.in_(practice_ids)
        )
        recent = files.where(mine).order_by(EdiFile.id.desc())

        def rows(*where: object, query: object = recent) -> list[EdiFile]:
            return list(db.session.scalars(query.where(*where).limit(limit)).all())

        out.append(
            ConnectionActivity(
                connection=connection,
                practice_name=names.get(connection.practice_id, "every practice (shared)")
                if connection.practice_id
                else "every practice (shared)",
                inbound=rows(EdiFile.direction == "inbound", EdiFile.status != "report"),
                outbound=rows(EdiFile.direction == "outbound"),
                failed=rows(EdiFile.status.in_(("failed", "sending"))),
                reports=rows(EdiFile.status == "report"),
            )
        )
    return out


def report_in(organization_id: int, edi_file_id: int) -> EdiFile | None:
    return db.session.scalar(
        select(EdiFile).where(
            EdiFile.id == edi_file_id, EdiFile.organization_id == organization_id, EdiFile.status == "report"
        )
    )
