"""The choice of clearinghouse adapter per practice (configuration: ``Practice.clearinghouse``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backoffice.clearinghouse.base import Clearinghouse
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.sandbox import Sandbox
from backoffice.errors import ValidationFailed

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice
    from backoffice.settings import Settings


def clearinghouse_for(practice: Practice, settings: Settings) -> Clearinghouse:
    """The adapter configured for ``practice`` ("sandbox" or "file_drop")."""
    if practice.clearinghouse == "file_drop":
        return FileDrop.for_practice(practice)
    if practice.clearinghouse == "sandbox":
        return Sandbox(Path(settings.instance_path or "instance") / "edi" / "sandbox")
    raise ValidationFailed(f"practice {practice.slug}: unknown clearinghouse {practice.clearinghouse!r}")
