"""Domain errors raised by services; views map them to flashes or HTTP statuses."""

from __future__ import annotations


class ServiceError(Exception):
    """Base for an expected, user-facing refusal; the message is safe to show (no PHI)."""


class NotAllowed(ServiceError):
    """The actor may not do this."""


class InvalidTransition(ServiceError):
    """The work item (or claim) is not in a state that allows the action."""


class Conflict(ServiceError):
    """Someone else changed the row first (lost a race); reload and retry."""


class ValidationFailed(ServiceError):
    """Input failed a business check; the message names the field."""
