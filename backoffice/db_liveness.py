"""The pool's liveness check on PostgreSQL without a round trip per request.

``pool_pre_ping`` sends ``SELECT 1`` every time a connection leaves the pool: one more round trip on every request,
whose cost under load is a wake-up of the PostgreSQL backend and of the web process (Get next's POST made five round
trips, the ping one of them; bench/RESULTS.md, issue 22). A dead connection announces itself: when PostgreSQL
restarts or ends a backend, the server sends its FATAL message and closes the socket, so the socket turns readable
while the connection sits in the pool. A live idle connection has nothing to read. So the check asks the kernel
(a zero-timeout poll, no network traffic) and pings only a connection with something pending; a ping that fails
makes the pool replace the connection (``DisconnectionError``: SQLAlchemy's documented custom pre-ping) before the
request sees it.

What it cannot see, the ping could not fix either: a server that vanished without closing the socket (a host that
lost power) leaves the ping waiting for TCP's timeout as well.
"""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError


def has_pending_input(dbapi_connection: Any) -> bool:
    """Whether the connection's socket has anything to read (a FATAL message, the server's close, a notice), or no
    usable socket at all; an idle live connection has nothing."""
    try:
        fd = dbapi_connection.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except Exception:  # noqa: BLE001 - a closed or broken connection has no socket to ask: treat it as suspect
        return True


def check_on_checkout(engine: Engine) -> None:
    """Instead of ``pool_pre_ping``: ping a pooled connection only when its socket has pending input, and replace it
    when the ping fails."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if not has_pending_input(dbapi_connection):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise DisconnectionError("the pooled connection is gone") from error
