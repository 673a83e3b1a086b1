"""The adapter for a practice, read from its connection (``clearinghouse.models.Connection``): the practice's own
active connection, else the organization's shared one, else (a practice set up before connections existed and not
yet migrated) one built on the fly from the practice's legacy ``clearinghouse``/``edi_outbox``/``edi_inbox``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from backoffice.clearinghouse import credentials
from backoffice.clearinghouse.base import Clearinghouse
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.https_api import HttpsApiClearinghouse
from backoffice.clearinghouse.models import Connection
from backoffice.clearinghouse.profiles import Profile, profile
from backoffice.clearinghouse.sandbox import Sandbox
from backoffice.clearinghouse.sftp import SftpClearinghouse
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.x12.claim837_model import Receiver

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice
    from backoffice.settings import Settings


def connection_for(practice: Practice) -> Connection:
    """The practice's active connection, else its organization's shared one, else its legacy settings as an
    unsaved connection."""
    found = db.session.scalar(
        select(Connection)
        .where(
            Connection.organization_id == practice.organization_id,
            Connection.active.is_(True),
            (Connection.practice_id == practice.id) | Connection.practice_id.is_(None),
        )
        .order_by(Connection.practice_id.is_(None), Connection.id)
    )
    return found if found is not None else legacy_connection(practice)


def legacy_connection(practice: Practice) -> Connection:
    """What migration 0018 writes for a practice: its ``clearinghouse`` column as a connection (not saved)."""
    if practice.clearinghouse == "file_drop":
        if not practice.edi_outbox:
            raise ValidationFailed(f"practice {practice.slug}: set edi_outbox (the folder the clearinghouse uploads)")
        return Connection(
            organization_id=practice.organization_id, practice_id=practice.id, name=f"{practice.slug} file drop",
            kind="local_folder", profile="generic", usage="P", upload_folder=practice.edi_outbox,
            download_folder=practice.edi_inbox, poll_minutes=2, timeout_seconds=30, active=True,
        )  # fmt: skip
    if practice.clearinghouse == "sandbox":
        return Connection(
            organization_id=practice.organization_id, practice_id=practice.id, name=f"{practice.slug} sandbox",
            kind="sandbox", profile="sandbox", usage="T", poll_minutes=2, timeout_seconds=30, active=True,
        )  # fmt: skip
    raise ValidationFailed(f"practice {practice.slug}: unknown clearinghouse {practice.clearinghouse!r}")


def receiver_of(connection: Connection, chosen: Profile) -> Receiver:
    """ISA08/GS03/1000B: the connection's receiver ID if set, else the profile's."""
    return Receiver(connection.receiver_name or chosen.receiver_name, connection.receiver_id or chosen.receiver_id)


def instance_root(settings: Settings) -> Path:
    return Path(settings.instance_path or "instance") / "edi"


def _sandbox(connection: Connection, settings: Settings, chosen: Profile) -> Clearinghouse:
    return Sandbox(instance_root(settings) / "sandbox")


def _local_folder(connection: Connection, settings: Settings, chosen: Profile) -> Clearinghouse:
    if not connection.upload_folder:
        raise ValidationFailed(f"connection {connection.name}: set the folder the clearinghouse uploads from")
    return FileDrop(
        Path(connection.upload_folder), Path(connection.download_folder) if connection.download_folder else None,
        receiver=receiver_of(connection, chosen), usage=connection.usage, naming=chosen,
    )  # fmt: skip


def _sftp(connection: Connection, settings: Settings, chosen: Profile) -> Clearinghouse:
    if connection.id is None:
        raise ValidationFailed(f"connection {connection.name}: an SFTP connection must be saved first")
    return SftpClearinghouse(
        connection, secrets=credentials.unseal(settings, connection.credentials), profile=chosen,
        staging=instance_root(settings) / "connections" / str(connection.id), receiver=receiver_of(connection, chosen),
        usage=connection.usage,
    )  # fmt: skip


def _https_api(connection: Connection, settings: Settings, chosen: Profile) -> Clearinghouse:
    if connection.id is None:
        raise ValidationFailed(f"connection {connection.name}: an API connection must be saved first")
    return HttpsApiClearinghouse(
        connection, secrets=credentials.unseal(settings, connection.credentials), profile=chosen,
        staging=instance_root(settings) / "connections" / str(connection.id), receiver=receiver_of(connection, chosen),
        usage=connection.usage,
    )  # fmt: skip


BUILDERS: dict[str, Callable[[Connection, Settings, Profile], Clearinghouse]] = {
    "sandbox": _sandbox,
    "local_folder": _local_folder,
    "sftp": _sftp,
    "https_api": _https_api,
}


def adapter_for(connection: Connection, settings: Settings) -> Clearinghouse:
    """The adapter of ``connection`` (its kind picks the class; its profile fills what it leaves empty)."""
    builder = BUILDERS.get(connection.kind)
    if builder is None:
        raise ValidationFailed(f"connection {connection.name}: unknown kind {connection.kind!r}")
    try:
        chosen = profile(connection.profile)
    except ValueError as error:
        raise ValidationFailed(f"connection {connection.name}: {error}") from None
    return builder(connection, settings, chosen)


def clearinghouse_for(practice: Practice, settings: Settings) -> Clearinghouse:
    """The adapter that carries ``practice``'s EDI."""
    return adapter_for(connection_for(practice), settings)
