"""backoffice: a work-queue back office for mental-health billing companies."""

from backoffice.app import create_app

__all__ = ["create_app"]
