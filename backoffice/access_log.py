"""Access logs without query strings or referrers: ``/patients?q=<surname>`` is a patient's name, and a referrer
repeats the previous page's query. Both web servers log the method, the path (no query), the status and the size.

``backoffice serve`` sets ``ACCESS_LOG_FORMAT`` on gunicorn (so does ``gunicorn -c python:backoffice.gunicorn_conf``);
``backoffice demo`` serves through werkzeug with ``PathOnlyRequestHandler``.
"""

from __future__ import annotations

from typing import Any

from werkzeug.serving import WSGIRequestHandler

# gunicorn's default is '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"': %(r)s is the request line
# with its query string and %(f)s the referrer (a full URL). %(U)s is the path alone.
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'


def path_only(target: str) -> str:
    """A request target without its query string or fragment: ``/patients?q=x`` → ``/patients``."""
    return target.split("?", 1)[0].split("#", 1)[0]


class PathOnlyRequestHandler(WSGIRequestHandler):
    """werkzeug's development-server handler, logging ``"GET /patients HTTP/1.1" 200 -`` for
    ``GET /patients?q=...``: the request line it logs loses its query string."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            line = f"{self.command} {path_only(self.path)} {self.request_version}"
        except AttributeError:  # a malformed request line: nothing of it is logged
            line = "(malformed request line)"
        self.log("info", '"%s" %s %s', line.translate(self._control_char_table), str(code), str(size))

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        # http.server reports a malformed request line ("Bad request version ('...?q=...')") by quoting it.
        self.log("error", "%s", "bad request (the request line is not logged: it may hold patient data)")
