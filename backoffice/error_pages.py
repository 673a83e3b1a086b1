"""Error pages and error logs that never repeat an exception's message (it may carry PHI).

Flask would log ``Exception on /path`` with the full traceback, whose last line is the exception's message
(a patient name in a ``ValueError``, a member ID in a database error's parameters). The log gets the
exception's class and the stack frames instead; the page says only that something went wrong.
"""

from __future__ import annotations

import traceback
from types import MethodType
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError


def _log_exception(app: Flask, exc_info: Any) -> None:
    exc_type, _, tb = exc_info
    frames = "".join(traceback.format_tb(tb))
    app.logger.error(
        "Exception on %s [%s]: %s (message withheld: it may hold PHI)\n%s",
        request.endpoint or "?",
        request.method,
        getattr(exc_type, "__name__", "?"),
        frames,
    )


def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if status in (403, 404):
        return render_template(f"errors/{status}.html"), status
    return render_template("errors/error.html", status=status, name=error.name, detail=error.description), status


def _server_error(error: InternalServerError) -> Any:
    if request.blueprint == "api":
        return jsonify({"error": "internal error"}), 500
    return render_template("errors/500.html"), 500


def init_app(app: Flask) -> None:
    app.log_exception = MethodType(_log_exception, app)  # type: ignore[method-assign]
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)
