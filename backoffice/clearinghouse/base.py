"""The one interface every clearinghouse adapter offers (``adapters.clearinghouse_for`` picks one per practice),
and the file handling the file-based adapters share."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from backoffice.x12.claim837_model import Receiver
from backoffice.x12.reader import decode as x12_text

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice
    from backoffice.x12.inquiry import EligibilityQuestion, StatusQuestion


@dataclass(frozen=True, slots=True)
class InboundFile:
    filename: str
    content: str


class Clearinghouse(Protocol):
    """Carries a practice's EDI: files out (837P, 270), files in (999, 277CA, 277, 835, 271)."""

    receiver: Receiver  # ISA08/GS03 and 1000B of what we send (the connection's, else its profile's)
    usage: str  # ISA15: "T" test, "P" production (the connection's usage indicator)

    def send(self, *, practice: Practice, filename: str, content: str, now: datetime) -> None:
        """Hand one outbound file over (written atomically: a half file is never picked up)."""

    def retract(self, *, practice: Practice, filename: str) -> None:
        """Take back a file sent by ``send`` whose database records did not commit (best effort)."""

    def fetch(self, *, practice: Practice | None, now: datetime | None = None) -> list[InboundFile]:
        """The inbound files waiting for the practice, oldest name first."""

    def done(self, *, practice: Practice | None, file: InboundFile, ok: bool) -> None:
        """Move an inbound file to processed/ (ok) or failed/."""

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """A 271 answering ``questions`` now, or None when the answer will arrive in the inbox."""

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """A 277 answering a 276 for ``questions`` now, or None when the answer will arrive in the inbox."""


def write_atomically(folder: Path, filename: str, content: str) -> Path:
    """Write ``folder/filename`` through a temporary file and a rename, so no reader sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "w", encoding="ascii", newline="") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def inbound_files(inbox: Path) -> list[InboundFile]:
    """Every regular, non-hidden file of ``inbox`` (sorted by name), read as X12 text (a byte-order mark dropped)."""
    if not inbox.is_dir():
        return []
    return [
        InboundFile(path.name, x12_text(path.read_bytes()))
        for path in sorted(inbox.iterdir())
        if path.is_file() and not path.name.startswith(".")
    ]


def move_done(inbox: Path, file: InboundFile, ok: bool, *, root: Path) -> None:
    """Move ``inbox/<file>`` into ``root``/processed or ``root``/failed (a name already there gets a suffix)."""
    source = inbox / file.filename
    if not source.exists():
        return
    folder = root / ("processed" if ok else "failed")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / file.filename
    n = 1
    while target.exists():
        target = folder / f"{file.filename}.{n}"
        n += 1
    os.replace(source, target)
