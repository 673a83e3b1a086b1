"""FileDrop: how SFTP clearinghouses work. We write outbound files to the practice's outbox folder (their sync
uploads it) and read what their sync leaves in the inbox folder; processed files move to inbox/processed or
inbox/failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backoffice.clearinghouse.base import InboundFile, inbound_files, move_done, write_atomically
from backoffice.clearinghouse.profiles import Profile
from backoffice.errors import ValidationFailed
from backoffice.exchange.control_numbers import allocate
from backoffice.x12.claim837_model import Receiver
from backoffice.x12.inquiry import write_270, write_276

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice
    from backoffice.x12.inquiry import EligibilityQuestion, StatusQuestion

# No receiver ETIN is stored per practice (schema fixed this round): the same default as `edi build-837`.
DEFAULT_RECEIVER = Receiver("CLEARINGHOUSE", "CLEARINGHOUSE")


class FileDrop:
    """Outbound files into one folder, inbound files from another."""

    def __init__(
        self, outbox: Path | None, inbox: Path | None, *, receiver: Receiver = DEFAULT_RECEIVER, usage: str = "P",
        naming: Profile | None = None,
    ) -> None:  # fmt: skip
        self.outbox = outbox
        self.inbox = inbox
        self.receiver = receiver
        self.usage = usage
        self.naming = naming

    def filename_for(self, *, kind: str, practice: str, control: int) -> str:
        """The profile's outbound name, else ``<kind>-<practice>-<ISA13>.x12``."""
        if self.naming is not None:
            return self.naming.filename(kind=kind, practice=practice, control=control)
        return f"{kind}-{practice}-{control:09d}.x12"

    @classmethod
    def for_practice(cls, practice: Practice) -> FileDrop:
        """The practice's folders; a file-drop practice without an outbox is a setup error naming it."""
        if not practice.edi_outbox:
            raise ValidationFailed(f"practice {practice.slug}: set edi_outbox (the folder the clearinghouse uploads)")
        return cls(Path(practice.edi_outbox), Path(practice.edi_inbox) if practice.edi_inbox else None)

    def send(self, *, practice: Practice, filename: str, content: str, now: datetime) -> None:
        """Write the file into the outbox atomically."""
        if self.outbox is None:
            raise ValidationFailed(f"practice {practice.slug}: set edi_outbox (the folder the clearinghouse uploads)")
        write_atomically(self.outbox, filename, content)

    def retract(self, *, practice: Practice, filename: str) -> None:
        """Remove an outbound file whose records did not commit (before the sync picks it up)."""
        if self.outbox is not None:
            (self.outbox / filename).unlink(missing_ok=True)

    def fetch(self, *, practice: Practice | None, now: datetime | None = None) -> list[InboundFile]:
        """Files waiting in the inbox (none when the practice has no inbox configured)."""
        return inbound_files(self.inbox) if self.inbox is not None else []

    def done(self, *, practice: Practice | None, file: InboundFile, ok: bool) -> None:
        """Move the file to inbox/processed or inbox/failed."""
        if self.inbox is not None:
            move_done(self.inbox, file, ok, root=self.inbox)

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """Write a 270 to the outbox; the 271 arrives later in the inbox (returns None)."""
        return drop_270(self, practice=practice, questions=questions, now=now)

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """Write a 276 to the outbox; the 277 arrives later in the inbox (returns None)."""
        return drop_276(self, practice=practice, questions=questions, now=now)


def drop_270(adapter: Any, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime) -> None:
    """Send a 270 for ``questions`` through a batch adapter (its ``send``); the 271 comes back in the inbox."""
    organization = practice.organization
    control = allocate(organization.id, "interchange")
    text = write_270(
        questions, submitter_id=organization.edi_submitter_id or "", submitter_name=organization.name, now=now,
        control_number=control, receiver_id=_receiver_id(adapter), usage=adapter.usage,
    )  # fmt: skip
    adapter.send(practice=practice, filename=_name(adapter, "270", practice.slug, control), content=text, now=now)
    return None


def drop_276(adapter: Any, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime) -> None:
    """Send a 276 for ``questions`` through a batch adapter; the 277 comes back in the inbox."""
    organization = practice.organization
    control = allocate(organization.id, "interchange")
    text = write_276(questions, submitter_id=organization.edi_submitter_id or "", now=now, control_number=control,
                     receiver_id=_receiver_id(adapter), usage=adapter.usage)  # fmt: skip
    adapter.send(practice=practice, filename=_name(adapter, "276", practice.slug, control), content=text, now=now)
    return None


def _receiver_id(adapter: Any) -> str | None:
    """ISA08 of a 270/276: the connection's clearinghouse, or (the legacy default receiver) the payer itself."""
    etin = adapter.receiver.etin
    return None if etin == DEFAULT_RECEIVER.etin and getattr(adapter, "naming", None) is None else etin


def _name(adapter: Any, kind: str, practice: str, control: int) -> str:
    return adapter.filename_for(kind=kind, practice=practice, control=control)
