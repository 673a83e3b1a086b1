"""The belt behind every field's own checks: a request carrying a NUL anywhere a view could read it (a query-string
argument, a form field, a JSON string or key) is refused with a 400 that names the field, before any view runs.

PostgreSQL cannot store or compare a NUL ("A string literal cannot contain NUL (0x00) characters"), SQLite can:
without this, a NUL in a filter or a note was a 500 in production and nothing in the SQLite test runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, abort, request

MAX_DEPTH = 64  # deeper JSON is refused by the parser's own limits long before; this bounds the walk


def _json_paths(value: Any, path: str, depth: int = 0) -> Iterator[str]:
    """The paths (``sessions[3].patient_last``) of every string key or value holding a NUL."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        if "\x00" in value:
            yield path or "(body)"
    elif isinstance(value, dict):
        for key, nested in value.items():
            name = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                yield (path + "." if path else "") + "(a key)"
            else:
                yield from _json_paths(nested, name, depth + 1)
    elif isinstance(value, list):
        for index, nested in enumerate(value):
            yield from _json_paths(nested, f"{path}[{index}]", depth + 1)


def nul_field() -> str | None:
    """The first request field (query argument, form field, JSON path) holding a NUL, or None."""
    sources = [request.args] + ([request.form] if request.mimetype != "application/json" else [])
    for source in sources:
        for key, value in source.items(multi=True):
            if "\x00" in key:
                return "(a field name)"
            if "\x00" in value:
                return key
    if request.is_json:
        body = request.get_json(silent=True)
        return next(_json_paths(body, ""), None)
    return None


def refuse_nul() -> None:
    """``before_request``: 400 naming the field that holds a NUL (the value is never echoed)."""
    field = nul_field()
    if field is not None:
        abort(400, f"{field[:80]}: contains a NUL character, which is not allowed; nothing was changed")


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul)  # before sign-in checks and idle logoff
