"""The HTTPS API adapter against a clearinghouse API simulator on loopback (same contract, its failure modes):
timeouts, 429 with Retry-After, 5xx, a submit retried after a lost answer filed once, and response polling whose
cursor survives a crash."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from flask import current_app
from sqlalchemy import select

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.adapters import adapter_for
from backoffice.clearinghouse.https_api import HttpsApiClearinghouse
from backoffice.clearinghouse.models import Connection
from backoffice.clearinghouse.services import save_connection
from backoffice.clearinghouse.sftp import TransferFailed
from backoffice.extensions import db
from tests.factories_submission import NOW, edi_setup


class Simulator:
    """The API: claims filed by idempotency key, responses in pages of two behind a cursor; ``script`` holds what
    the next requests do instead of answering (a status, or ("sleep", seconds) before answering)."""

    def __init__(self) -> None:
        self.filed: dict[str, str] = {}
        self.requests: list[tuple[str, str]] = []
        self.script: list[Any] = []
        self.responses = [{"name": f"r{n}.999", "x12": f"ISA response {n}"} for n in range(1, 6)]
        self.last_270 = ""
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _scripted(self) -> bool:
                if not simulator.script:
                    return False
                step = simulator.script.pop(0)
                if isinstance(step, tuple):  # ("sleep", s): do the work, answer too late
                    simulator.sleep_after = step[1]
                    return False
                self._answer(step, {"error": step}, {"Retry-After": "0"} if step == 429 else None)
                return True

            def do_POST(self) -> None:  # noqa: N802
                simulator.requests.append(("POST", self.path))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.headers.get("Authorization") != "Bearer key-123":
                    return self._answer(401, {"error": "unauthorized"})
                if self._scripted():
                    return None
                if self.path == "/claims":
                    key = self.headers["Idempotency-Key"]
                    simulator.filed.setdefault(key, body["filename"])
                    answer: Any = {"id": key[:12]}
                else:
                    simulator.last_270 = body["x12"]
                    answer = {"x12": "ISA 271"}
                delay = getattr(simulator, "sleep_after", 0)
                simulator.sleep_after = 0
                time.sleep(delay)
                return self._answer(200, answer)

            def do_GET(self) -> None:  # noqa: N802
                simulator.requests.append(("GET", self.path))
                if self._scripted():
                    return
                after = parse_qs(urlparse(self.path).query).get("after", [""])[0]
                start = int(after or 0)
                page = simulator.responses[start : start + 2]
                self._answer(200, {"files": page, "cursor": str(start + len(page))})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def api() -> Iterator[Simulator]:
    simulator = Simulator()
    yield simulator
    simulator.server.shutdown()
    simulator.server.server_close()


def _adapter(api: Simulator, practice: Any, **values: Any) -> HttpsApiClearinghouse:
    connection = save_connection(
        organization_id=practice.organization_id, values={"name": "API", "kind": "https_api", "profile": "claim_md",
        "usage": "T", "practice_id": practice.id, "base_url": api.url, "timeout_seconds": 1, **values},
        secrets={"api_key": "key-123"}, settings=current_app.config["BACKOFFICE_SETTINGS"], actor=None, now=NOW,
    )  # fmt: skip
    adapter = adapter_for(connection, current_app.config["BACKOFFICE_SETTINGS"])
    assert isinstance(adapter, HttpsApiClearinghouse)
    adapter.pause = 0.01
    return adapter


def test_a_submit_whose_answer_times_out_is_retried_and_filed_once(ctx, api: Simulator) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(api, practice)
    api.script = [("sleep", 1.5)]  # the clearinghouse files the claim but answers after our 1 s timeout
    adapter.send(practice=practice, filename="837P_a.x12", content="ISA claim", now=NOW)
    assert [r for r in api.requests if r == ("POST", "/claims")] == [("POST", "/claims")] * 2
    assert list(api.filed.values()) == ["837P_a.x12"]  # one submission
    adapter.send(practice=practice, filename="837P_a.x12", content="ISA claim", now=NOW)  # a resend after a crash
    assert len(api.filed) == 1


def test_429_and_5xx_are_retried_with_backoff_then_reported(ctx, api: Simulator) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(api, practice)
    api.script = [429, 503, 500]
    adapter.send(practice=practice, filename="b.x12", content="ISA b", now=NOW)
    assert len(api.filed) == 1
    api.script = [502, 502, 502, 502]
    with pytest.raises(TransferFailed, match=r"failed after 4 attempts \(HTTP 502\)"):
        adapter.send(practice=practice, filename="c.x12", content="ISA c", now=NOW)
    assert len(api.filed) == 1


def test_the_response_cursor_is_saved_and_the_next_poll_starts_after_it(ctx, api: Simulator) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(api, practice)
    first = adapter.fetch(practice=practice, now=NOW)
    assert [f.filename for f in first] == ["r1.999", "r2.999", "r3.999", "r4.999", "r5.999"]
    # a fresh world: the cursor saved per page means a new process starts after what it already has
    connection = db.session.scalar(select(Connection))
    assert connection.cursor == "5"
    api.responses.append({"name": "r6.835", "x12": "ISA remit"})
    api.requests.clear()
    again = _fresh(connection)
    assert [f.filename for f in again.fetch(practice=practice, now=NOW) if f.filename == "r6.835"] == ["r6.835"]
    assert api.requests[0] == ("GET", "/responses?after=5")


def test_a_crash_mid_polling_keeps_the_pages_before_it(ctx, api: Simulator) -> None:  # noqa: ANN001
    _, practice, _, _ = edi_setup()
    adapter = _adapter(api, practice)
    original = adapter.request
    calls = {"n": 0}

    def crash_on_second_page(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransferFailed("API: GET /responses failed after 4 attempts (HTTP 500)")
        return original(*args, **kwargs)

    adapter.request = crash_on_second_page  # type: ignore[method-assign]
    staged = adapter.fetch(practice=practice, now=NOW)
    assert [f.filename for f in staged] == ["r1.999", "r2.999"] and "HTTP 500" in adapter.problem
    assert db.session.scalar(select(Connection)).cursor == "2"  # the pages staged before the crash
    api.requests.clear()
    rest = _fresh(db.session.scalar(select(Connection))).fetch(practice=practice, now=NOW)
    assert api.requests[0] == ("GET", "/responses?after=2")
    assert sorted(f.filename for f in rest) == ["r1.999", "r2.999", "r3.999", "r4.999", "r5.999"]


def test_eligibility_is_real_time_with_the_receiver_and_usage_of_the_connection(ctx, api: Simulator) -> None:  # noqa: ANN001
    _, practice, provider, payer = edi_setup()
    adapter = _adapter(api, practice, usage="P")
    question = sx.EligibilityQuestion(
        trace_number="9-1", member_id="W1", first_name="ANA", last_name="DIAZ", date_of_birth=NOW.date(), sex="F",
        payer_id=payer.payer_id, payer_name=payer.name, provider_npi=provider.npi, provider_name=provider.last_name,
        service_date=NOW.date(),
    )  # fmt: skip
    assert adapter.check_eligibility(practice=practice, questions=[question], now=NOW) == "ISA 271"
    isa = api.last_270.split("~")[0].split("*")
    assert (isa[8].strip(), isa[15]) == ("CLAIMMD", "P")


def _fresh(connection: Connection) -> HttpsApiClearinghouse:
    adapter = adapter_for(connection, current_app.config["BACKOFFICE_SETTINGS"])
    adapter.pause = 0.01
    return adapter
