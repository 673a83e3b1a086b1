"""The SFTP adapter (paramiko): uploads go to a hidden temporary name and are renamed into place, so the
clearinghouse never picks up half a file; downloads land in a local staging inbox (written atomically) and are
recorded by name and content hash (``FetchedFile``) before the remote copy is removed, so each remote file is
fetched once, even across a connection lost in the middle. The server's host key must match the pinned one: an
unknown or changed key is refused with a message naming the fingerprints. Password or key authentication, a
timeout on every network step, and a few reconnect attempts with a growing pause."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import socket
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import paramiko
from sqlalchemy import select

from backoffice.clearinghouse.base import InboundFile, inbound_files, move_done, write_atomically
from backoffice.clearinghouse.file_drop import drop_270, drop_276
from backoffice.clearinghouse.models import Connection, FetchedFile
from backoffice.clearinghouse.profiles import Profile
from backoffice.clock import utcnow
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.x12.claim837_model import Receiver
from backoffice.x12.inquiry import EligibilityQuestion, StatusQuestion

log = logging.getLogger(__name__)
KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
TRANSPORT_ERRORS = (paramiko.SSHException, EOFError, OSError, socket.timeout)


class HostKeyRefused(ValidationFailed):
    """The server's host key is not the pinned one (or none is pinned)."""


class TransferFailed(OSError):
    """The SFTP server could not be reached or the transfer broke off (the caller tries again later)."""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint of a host key (what ``ssh-keygen -lf`` prints)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def pinned_key(line: str) -> tuple[str, str] | None:
    """(type, base64) from a known_hosts or ssh-keyscan line ("[host]:port ssh-ed25519 AAAA..." or just the key)."""
    parts = line.split()
    for n, part in enumerate(parts[:-1]):
        if part.startswith(("ssh-", "ecdsa-", "sk-")):
            return part, parts[n + 1]
    return None


def check_host_key(offered: paramiko.PKey, pinned: str | None, where: str) -> None:
    """Refuse a server whose key is not the pinned one; the message gives the fingerprint to compare."""
    shown = f"{offered.get_name()} {fingerprint(offered)}"
    pin = pinned_key(pinned or "")
    if pin is None:
        raise HostKeyRefused(
            f"SFTP {where}: unknown host key {shown}; confirm it with the clearinghouse and pin it on the connection"
        )
    if pin != (offered.get_name(), offered.get_base64()):
        raise HostKeyRefused(
            f"SFTP {where}: host key CHANGED (offered {shown}, not the pinned key); refusing to connect. If the "
            "clearinghouse announced a new key, pin the new one; otherwise treat it as an attack"
        )


def load_private_key(text: str, passphrase: str | None) -> paramiko.PKey:
    """A private key from its OpenSSH/PEM text; ValidationFailed (without the key) when none of the types reads it."""
    for key_class in KEY_CLASSES:
        try:
            return key_class.from_private_key(io.StringIO(text), password=passphrase or None)
        except (paramiko.SSHException, ValueError):
            continue
    raise ValidationFailed("SFTP private key: not an Ed25519, ECDSA or RSA private key (or wrong passphrase)")


class SftpClearinghouse:
    """Files out through an SFTP upload folder, files in from its download folder (via a local staging inbox)."""

    def __init__(
        self,
        connection: Connection,
        *,
        secrets: dict[str, str],
        profile: Profile,
        staging: Path,
        receiver: Receiver,
        usage: str,
        attempts: int = 3,
        pause: float = 0.5,
    ) -> None:
        if not connection.host:
            raise ValidationFailed(f"connection {connection.name}: set the SFTP host")
        self.connection = connection
        self.secrets = secrets
        self.profile = profile
        self.staging = staging
        self.receiver = receiver
        self.usage = usage
        self.attempts = attempts
        self.pause = pause
        self.upload_folder = connection.upload_folder or profile.upload_folder
        self.download_folder = connection.download_folder or profile.download_folder
        self.problem: str | None = None  # why the last fetch stopped early

    @property
    def where(self) -> str:
        return f"{self.connection.host}:{self.connection.port or 22}"

    @property
    def inbox(self) -> Path:
        return self.staging / "inbox"

    def filename_for(self, *, kind: str, practice: str, control: int) -> str:
        """The outbound name the profile asks for."""
        return self.profile.filename(kind=kind, practice=practice, control=control)

    # -- the connection -------------------------------------------------------------------------------------
    def _open(self) -> tuple[paramiko.Transport, paramiko.SFTPClient]:
        timeout = float(self.connection.timeout_seconds or 30)
        sock = socket.create_connection((self.connection.host, self.connection.port or 22), timeout=timeout)
        transport = paramiko.Transport(sock)
        transport.banner_timeout = transport.auth_timeout = transport.handshake_timeout = timeout
        try:
            transport.start_client(timeout=timeout)
            check_host_key(transport.get_remote_server_key(), self.connection.host_key, self.where)
            username = self.connection.username or ""
            if self.secrets.get("private_key"):
                key = load_private_key(self.secrets["private_key"], self.secrets.get("private_key_passphrase"))
                transport.auth_publickey(username, key)
            elif self.secrets.get("password"):
                transport.auth_password(username, self.secrets["password"])
            else:
                raise ValidationFailed(f"connection {self.connection.name}: no SFTP password or private key stored")
            sftp = paramiko.SFTPClient.from_transport(transport)
            if sftp is None:
                raise TransferFailed(f"SFTP {self.where}: the server opened no SFTP channel")
            sftp.get_channel().settimeout(timeout)
            return transport, sftp
        except BaseException:
            transport.close()
            raise

    @contextmanager
    def session(self) -> Iterator[paramiko.SFTPClient]:
        """An SFTP session; connection failures are retried ``attempts`` times, then raised as TransferFailed.
        A refused host key or failed authentication is raised at once (retrying would not help)."""
        last: BaseException | None = None
        for attempt in range(self.attempts):
            try:
                transport, sftp = self._open()
                break
            except paramiko.AuthenticationException:
                raise ValidationFailed(f"SFTP {self.where}: authentication failed for the stored user") from None
            except TRANSPORT_ERRORS as error:
                last = error
                log.warning("SFTP %s: connect attempt %d failed (%s)", self.where, attempt + 1, type(error).__name__)
                time.sleep(self.pause * (2**attempt))
        else:
            raise TransferFailed(f"SFTP {self.where}: unreachable after {self.attempts} attempts ({last!r})")
        try:
            yield sftp
        except TRANSPORT_ERRORS as error:
            if isinstance(error, TransferFailed):
                raise
            raise TransferFailed(f"SFTP {self.where}: transfer broke off ({type(error).__name__})") from None
        finally:
            try:  # closing a session whose server went away fails too: the transfer's own error is what counts
                sftp.close()
            except TRANSPORT_ERRORS as error:
                log.info("SFTP %s: closing a broken session (%s)", self.where, type(error).__name__)
            transport.close()

    # -- files out ------------------------------------------------------------------------------------------
    def send(self, *, practice: Practice, filename: str, content: str, now: datetime) -> None:
        """Upload ``filename`` through a hidden temporary name and a rename. A file already in place with the same
        size (an earlier try that was not recorded as sent) is not uploaded again."""
        data = content.encode("ascii")
        final = f"{self.upload_folder}/{filename}"
        temporary = f"{self.upload_folder}/.{filename}.part"
        with self.session() as sftp:
            try:
                if sftp.stat(final).st_size == len(data):
                    log.info("SFTP %s: %s is already in place; not uploaded again", self.where, filename)
                    return
            except FileNotFoundError:
                pass
            with sftp.open(temporary, "wb") as remote:
                remote.write(data)
            if sftp.stat(temporary).st_size != len(data):
                raise TransferFailed(f"SFTP {self.where}: {filename} arrived incomplete")
            sftp.posix_rename(temporary, final)

    def retract(self, *, practice: Practice, filename: str) -> None:
        """Remove an uploaded file whose records did not commit, if the clearinghouse has not taken it yet."""
        try:
            with self.session() as sftp:
                sftp.remove(f"{self.upload_folder}/{filename}")
        except (FileNotFoundError, TransferFailed, ValidationFailed):
            log.warning("SFTP %s: could not retract %s", self.where, filename)

    # -- files in -------------------------------------------------------------------------------------------
    def download_new(self, now: datetime) -> int:
        """Bring every remote file not fetched before into the staging inbox; return how many were fetched."""
        fetched = 0
        with self.session() as sftp:
            for attributes in sorted(sftp.listdir_attr(self.download_folder), key=lambda a: a.filename):
                name = attributes.filename
                if name.startswith(".") or not stat.S_ISREG(attributes.st_mode or 0):
                    continue
                path = f"{self.download_folder}/{name}"
                if self._seen(name, attributes.st_size, attributes.st_mtime) is None:
                    fetched += self._fetch_one(sftp, path, name, attributes, now)
                if self.profile.deletes_after_download:
                    sftp.remove(path)
        return fetched

    def _seen(self, name: str, size: int | None, mtime: int | None) -> FetchedFile | None:
        return db.session.scalar(
            select(FetchedFile).where(
                FetchedFile.connection_id == self.connection.id, FetchedFile.remote_name == name,
                FetchedFile.size == (size or 0), FetchedFile.remote_mtime == mtime,
            )
        )  # fmt: skip

    def _fetch_one(
        self, sftp: paramiko.SFTPClient, path: str, name: str, attributes: paramiko.SFTPAttributes, now: datetime
    ) -> int:
        with sftp.open(path, "rb") as remote:
            remote.prefetch(attributes.st_size)
            data = remote.read()
        if len(data) != (attributes.st_size or 0):
            raise TransferFailed(f"SFTP {self.where}: {name} came short ({len(data)} of {attributes.st_size} bytes)")
        digest = hashlib.sha256(data).hexdigest()
        known = db.session.scalar(
            select(FetchedFile).where(
                FetchedFile.connection_id == self.connection.id, FetchedFile.remote_name == name,
                FetchedFile.sha256 == digest,
            )
        )  # fmt: skip
        if known is not None:  # the same file listed with another time: fetched already
            return 0
        write_atomically(self.inbox, name, data.decode("ascii", errors="replace"))
        db.session.add(
            FetchedFile(
                connection_id=self.connection.id, remote_name=name[:255], sha256=digest, size=len(data),
                remote_mtime=attributes.st_mtime, fetched_at=now,
            )
        )  # fmt: skip
        db.session.commit()
        return 1

    def fetch(self, *, practice: Practice | None, now: datetime | None = None) -> list[InboundFile]:
        """Download what is new, then the files waiting in the staging inbox. A transfer that breaks off keeps
        what was fetched before it (``problem`` says why; the next poll goes on where this one stopped)."""
        self.problem = None
        try:
            self.download_new(now or utcnow())
        except TransferFailed as error:
            db.session.rollback()
            self.problem = str(error)
        return inbound_files(self.inbox)

    def done(self, *, practice: Practice | None, file: InboundFile, ok: bool) -> None:
        """Move a staged file to processed/ or failed/."""
        move_done(self.inbox, file, ok, root=self.staging)

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """Upload a 270; the 271 comes back in the download folder (returns None)."""
        return drop_270(self, practice=practice, questions=questions, now=now)

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """Upload a 276; the 277 comes back in the download folder (returns None)."""
        return drop_276(self, practice=practice, questions=questions, now=now)
