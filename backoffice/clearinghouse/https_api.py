"""The HTTPS API adapter (httpx) for a real-time JSON clearinghouse API. The contract (docs/clearinghouses.md):

- ``POST /claims`` ``{"filename", "x12"}`` with an ``Idempotency-Key`` (the SHA-256 of name and content): a retried
  submit is the same request, so the clearinghouse files it once;
- ``POST /eligibility`` ``{"x12": <270>}`` → ``{"x12": <271>}``; ``POST /claim-status`` ``{"x12": <276>}`` →
  ``{"x12": <277>}``;
- ``GET /responses?after=<cursor>`` → ``{"files": [{"name", "x12"}], "cursor"}``: acknowledgements, reports and
  remittances in order; the cursor is saved on the connection only after the page's files are staged, so a crash
  resumes where it stopped (a page fetched twice stages the same names again, and ingest refuses the same bytes).

Every request has a timeout; timeouts, connection errors, 429 and 5xx are retried with a doubling pause (a
``Retry-After`` in seconds is honoured, capped); then TransferFailed. The API key goes in a bearer header, never in
a log or an error."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from backoffice.clearinghouse.base import InboundFile, inbound_files, move_done, write_atomically
from backoffice.clearinghouse.models import Connection
from backoffice.clearinghouse.profiles import Profile
from backoffice.clearinghouse.sftp import TransferFailed
from backoffice.errors import ValidationFailed
from backoffice.exchange.control_numbers import allocate
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.x12.claim837_model import Receiver
from backoffice.x12.inquiry import EligibilityQuestion, StatusQuestion, write_270, write_276

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


class HttpsApiClearinghouse:
    """Claims, eligibility and claim status in real time; responses polled by cursor."""

    def __init__(
        self, connection: Connection, *, secrets: dict[str, str], profile: Profile, staging: Path, receiver: Receiver,
        usage: str, attempts: int = 4, pause: float = 0.5, transport: httpx.BaseTransport | None = None,
    ) -> None:  # fmt: skip
        if not connection.base_url:
            raise ValidationFailed(f"connection {connection.name}: set the API base URL")
        self.connection = connection
        self.profile = profile
        self.staging = staging
        self.receiver = receiver
        self.usage = usage
        self.attempts = attempts
        self.pause = pause
        self.problem: str | None = None
        headers = {"Accept": "application/json"}
        if secrets.get("api_key"):
            headers["Authorization"] = f"Bearer {secrets['api_key']}"
        self.client = httpx.Client(
            base_url=connection.base_url.rstrip("/"), headers=headers, transport=transport,
            timeout=httpx.Timeout(float(connection.timeout_seconds or 30)),
        )  # fmt: skip

    @property
    def inbox(self) -> Path:
        return self.staging / "inbox"

    def filename_for(self, *, kind: str, practice: str, control: int) -> str:
        return self.profile.filename(kind=kind, practice=practice, control=control)

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None, key: str | None = None) -> Any:
        """One API call with retries on timeouts, connection errors, 429 and 5xx; the JSON answer."""
        headers = {"Idempotency-Key": key} if key else {}
        last = ""
        for attempt in range(self.attempts):
            try:
                response = self.client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TimeoutException:
                last, wait = "timed out", self.pause * 2**attempt
            except httpx.TransportError as error:
                last, wait = type(error).__name__, self.pause * 2**attempt
            else:
                if response.status_code not in RETRY_STATUSES:
                    if response.status_code >= 400:
                        raise ValidationFailed(
                            f"{self.connection.name}: {method} {path} refused ({response.status_code})"
                        )
                    return response.json()
                last, wait = f"HTTP {response.status_code}", self._retry_after(response, attempt)
            log.warning("API %s %s: attempt %d failed (%s)", method, path, attempt + 1, last)
            if attempt + 1 < self.attempts:
                time.sleep(wait)
        raise TransferFailed(f"{self.connection.name}: {method} {path} failed after {self.attempts} attempts ({last})")

    def _retry_after(self, response: httpx.Response, attempt: int) -> float:
        raw = response.headers.get("Retry-After", "")
        return min(float(raw), MAX_RETRY_AFTER) if raw.isdigit() else self.pause * 2**attempt

    def send(self, *, practice: Practice, filename: str, content: str, now: datetime) -> None:
        """Submit one file; the idempotency key makes a retried (or resent) submit the same submission."""
        key = hashlib.sha256(f"{filename}\n{content}".encode()).hexdigest()
        self.request("POST", "/claims", json={"filename": filename, "x12": content}, key=key)

    def retract(self, *, practice: Practice, filename: str) -> None:
        """A real-time submission cannot be taken back; the resend carries the same idempotency key."""
        log.warning("API %s: %s was submitted; it cannot be retracted", self.connection.name, filename)

    def fetch(self, *, practice: Practice | None, now: datetime | None = None) -> list[InboundFile]:
        """Page through the responses after the saved cursor, staging each file, saving the cursor per page."""
        self.problem = None
        try:
            while True:
                page = self.request("GET", "/responses", params={"after": self.connection.cursor or ""})
                files = page.get("files") or []
                for item in files:
                    name = Path(str(item["name"])).name or "response.x12"
                    write_atomically(self.inbox, name, str(item["x12"]))
                if not files:
                    break
                self.connection.cursor = str(page.get("cursor") or "")[:200] or None
                db.session.commit()
        except TransferFailed as error:
            db.session.rollback()
            self.problem = str(error)
        return inbound_files(self.inbox)

    def done(self, *, practice: Practice | None, file: InboundFile, ok: bool) -> None:
        move_done(self.inbox, file, ok, root=self.staging)

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """A 271 for ``questions``, now."""
        organization = practice.organization
        text = write_270(
            questions, submitter_id=self.connection.submitter_id or organization.edi_submitter_id or "",
            submitter_name=organization.name, now=now, control_number=allocate(organization.id, "interchange"),
            receiver_id=self.receiver.etin, usage=self.usage,
        )  # fmt: skip
        return str(self.request("POST", "/eligibility", json={"x12": text})["x12"])

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """A 277 for ``questions``, now."""
        organization = practice.organization
        text = write_276(
            questions, submitter_id=self.connection.submitter_id or organization.edi_submitter_id or "", now=now,
            control_number=allocate(organization.id, "interchange"), receiver_id=self.receiver.etin, usage=self.usage,
        )  # fmt: skip
        return str(self.request("POST", "/claim-status", json={"x12": text})["x12"])
