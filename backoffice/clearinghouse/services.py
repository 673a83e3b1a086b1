"""Writes on clearinghouse connections: create or edit one (secrets are write-only: a blank secret keeps the stored
one; they are sealed with the credential keys before they reach the session), and re-seal every stored secret
under the newest key (rotation)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from backoffice.audit.services import audit_event
from backoffice.clearinghouse import credentials
from backoffice.clearinghouse.models import KINDS, USAGES, Connection
from backoffice.clearinghouse.profiles import PROFILES
from backoffice.clearinghouse.sftp import pinned_key
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.services_base import service
from backoffice.settings import Settings

FIELDS = (
    "name", "practice_id", "kind", "profile", "usage", "submitter_id", "receiver_id", "receiver_name", "host", "port",
    "username", "host_key", "base_url", "upload_folder", "download_folder", "poll_minutes", "timeout_seconds",
    "active",
)  # fmt: skip


def connection_problem(values: Mapping[str, Any]) -> str | None:
    """What is wrong with a connection's values (the first problem, naming the field), or None."""
    if not (values.get("name") or "").strip():
        return "name: required"
    if values.get("kind") not in KINDS:
        return f"kind: one of {', '.join(KINDS)}"
    if values.get("profile") not in PROFILES:
        return f"profile: one of {', '.join(PROFILES)}"
    if values.get("usage") not in USAGES:
        return "usage: T (test) or P (production)"
    if values["kind"] == "sftp" and not values.get("host"):
        return "host: required for an SFTP connection"
    if values.get("host_key") and pinned_key(values["host_key"]) is None:
        return "host key: paste the server's key line (ssh-keyscan), e.g. 'ssh-ed25519 AAAA...'"
    url = str(values.get("base_url") or "")
    local = url.startswith(("http://127.0.0.1", "http://localhost"))  # a simulator on this machine
    if values["kind"] == "https_api" and not (url.startswith("https://") or local):
        return "base URL: an https:// address is required for an HTTPS API connection"
    if values["kind"] == "local_folder" and not values.get("upload_folder"):
        return "upload folder: required for a local folder connection"
    for name, low, high in (("poll_minutes", 1, 1440), ("timeout_seconds", 1, 600), ("port", 1, 65535)):
        value = values.get(name)
        if value is not None and not low <= int(value) <= high:
            return f"{name.replace('_', ' ')}: between {low} and {high}"
    return None


@service
def save_connection(
    *, organization_id: int, values: Mapping[str, Any], secrets: Mapping[str, str], settings: Settings, actor: Any,
    now: datetime, connection_id: int | None = None, clear_secrets: bool = False,
) -> Connection:  # fmt: skip
    """Create (``connection_id`` None) or edit a connection of the organization. Secrets given (non-blank) replace
    the stored ones, blank ones keep them, ``clear_secrets`` forgets them all; the audit row names which were set,
    never their value."""
    problem = connection_problem(values)
    if problem:
        raise ValidationFailed(f"connection {problem}")
    practice_id = values.get("practice_id")
    if practice_id is not None:
        practice = db.session.get(Practice, practice_id)
        if practice is None or practice.organization_id != organization_id:
            raise ValidationFailed("connection practice: not a practice of this organization")
    if connection_id is None:
        connection = Connection(organization_id=organization_id, created_at=now)
        db.session.add(connection)
    else:
        connection = db.session.scalar(
            select(Connection).where(Connection.id == connection_id, Connection.organization_id == organization_id)
        )
        if connection is None:
            raise ValidationFailed(f"connection {connection_id}: not found")
    for name in FIELDS:
        if name in values:
            value = values[name]
            setattr(connection, name, value.strip() if isinstance(value, str) else value)
    stored = {} if clear_secrets else credentials.unseal(settings, connection.credentials)
    given = {name: value for name, value in secrets.items() if name in credentials.SECRET_FIELDS and value}
    if given or clear_secrets:
        connection.credentials = credentials.seal(settings, {**stored, **given})
    connection.updated_at = now
    db.session.flush()
    audit_event(
        action="connection_saved", user=actor, now=now, organization_id=organization_id,
        target_type="clearinghouse_connection", target_id=connection.id,
        data={"kind": connection.kind, "profile": connection.profile, "usage": connection.usage,
              "secrets_set": sorted(given), "secrets_cleared": clear_secrets},
    )  # fmt: skip
    db.session.commit()
    return connection


@service
def rotate_credential_keys(*, settings: Settings) -> int:
    """Re-seal every stored credential under the first of BACKOFFICE_CREDENTIAL_KEYS; returns how many."""
    rows = db.session.scalars(select(Connection).where(Connection.credentials.is_not(None))).all()
    for connection in rows:
        connection.credentials = credentials.rotate(settings, connection.credentials)
    db.session.commit()
    return len(rows)


def stored_secrets(settings: Settings, connection: Connection) -> dict[str, str]:
    """Which secrets a connection holds ("set"), for a page: never their value."""
    return credentials.mask(credentials.unseal(settings, connection.credentials))
