"""Browser tests: the real app served from a thread, driven by Playwright in Debian's Chromium (headless).

Use the ``live_server`` and ``page`` fixtures (imported by tests/conftest.py) and ``shot(page, name)`` to save a
screenshot under ``test-output/screenshots/`` (or $BACKOFFICE_TEST_ARTIFACTS). Without /usr/bin/chromium the
tests skip with the install command; CI installs it and sets BACKOFFICE_TEST_REQUIRE_BROWSER=1, where a missing
browser is an error instead.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("BACKOFFICE_TEST_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("BACKOFFICE_TEST_REQUIRE_BROWSER", "").lower() in ("1", "true", "yes")
ARTIFACTS = Path(os.environ.get("BACKOFFICE_TEST_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-output")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _browser_missing() -> str | None:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).exists()):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Playwright for Python: pip install -e '.[test]'"
    return None


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on a loopback port, in a thread (its data is the test database the test sets up)."""
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def _chromium() -> Iterator[object]:
    """One browser per test module: Playwright's sync API keeps an event loop running while it is open, which
    would make Prefect's sync-compatible calls in later modules return coroutines, so it never outlives a module."""
    missing = _browser_missing()
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"BACKOFFICE_TEST_REQUIRE_BROWSER is set but the browser is missing: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(_chromium: object, live_server: LiveServer) -> Iterator[object]:
    """A fresh browser context (no cookies) whose relative URLs go to the live server."""
    context = _chromium.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(10_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def shot(tab: object, name: str) -> Path:
    """Save a full-page screenshot of ``tab`` as test-output/screenshots/<name>.png."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
    tab.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def sign_in(tab: object, email: str, password: str = "correct horse battery") -> None:
    """Sign in through the real login form."""
    tab.goto("/login")  # type: ignore[attr-defined]
    tab.fill("input[name=email]", email)  # type: ignore[attr-defined]
    tab.fill("input[name=password]", password)  # type: ignore[attr-defined]
    tab.click("button[type=submit]")  # type: ignore[attr-defined]
    tab.wait_for_load_state()  # type: ignore[attr-defined]
