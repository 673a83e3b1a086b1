"""A clearinghouse simulator for rehearsing a go-live: a separate process that watches the folder our 837Ps are
uploaded into (on the SFTP server's own filesystem, or a local folder) and answers each complete interchange the
way a batch clearinghouse does, in the folder we download from, named as the connection's profile expects:
a TA1 (interchange accepted), a 999, a 277CA (a seeded share of claims rejected) and, ``remit_after`` seconds
later, the 835 (a seeded share of claims denied; rejected and unanswered claims get none).

The X12 comes from the Sandbox payer's pure writers (``sandbox_x12``); only the scenario choice is seeded here
(the same seed and claim always meet the same fate) and the TA1 envelope is written here. No database, no
network: everything the simulator knows is in its state folder (``ledger.jsonl`` records every file received
and written, so a rehearsal, or a test, can count what was filed and answered; ``pending/`` holds the 835s not
yet due, so a restarted simulator still sends them; ``received/`` keeps each 837P it took).

Every response is written through a hidden temporary name and a rename, so a poller never fetches half a file.
An interchange whose ISA13 was already answered is a duplicate: set aside in ``duplicates/`` and not answered
again (a real clearinghouse refuses it with a TA1 note 025)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.profiles import Profile
from backoffice.clearinghouse.sandbox_x12_model import (
    SCENARIOS,
    TERMINATOR,
    WEIGHTS,
    check_control_number,
    ident,
    segment,
    stable_number,
)
from backoffice.x12 import reader as x12
from backoffice.x12.envelopes import complete_interchanges

log = logging.getLogger(__name__)

DENIED = frozenset(s for s in SCENARIOS if s.startswith("denied"))
NOT_REMITTED = frozenset({"rejected", "no_response"})


def seeded_scenario(account_number: str, seed: int) -> str:
    """What happens to a claim (the Sandbox's scenarios and weights per 1,000), a fixed function of seed and CLM01."""
    bucket = stable_number("simulator", str(seed), account_number) % sum(WEIGHTS.values())
    for name in SCENARIOS:
        bucket -= WEIGHTS[name]
        if bucket < 0:
            return name
    raise AssertionError("WEIGHTS does not cover the buckets")  # pragma: no cover


def response_name(profile: Profile, stem: str, control: int, kind: str) -> str:
    """The name of a response file as the profile's inbound patterns expect it (``kind``: TA1, 999, 277, 835, EBR).
    The simulator's own control number comes before the kind, so names sort in the order the files were written."""
    if profile.key == "office_ally":
        return f"{stem}_{control:09d}_{kind}.txt"
    return f"{stem}.{control:09d}.{kind.lower()}"


def write_ta1(isa: x12.Segment, *, now: datetime, control_number: int, code: str = "A", note: str = "000") -> str:
    """An interchange holding one TA1 that answers the interchange ``isa`` (TA101-103 its ISA13, date and time),
    from its receiver back to its sender, with its usage indicator (ISA15)."""
    isa13 = check_control_number(control_number)
    sender, receiver = ident(isa[8], 15) or "SIMULATOR", ident(isa[6], 15) or "SUBMITTER"
    return (
        f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*{now:%y%m%d}*{now:%H%M}*^*00501"
        f"*{isa13}*0*{isa[15]}*:{TERMINATOR}"
        + segment("TA1", isa[13].strip(), isa[9], isa[10], code, note)
        + segment("IEA", "0", isa13)
    )


def batch_report(sent: sx.Sent837, scenarios: Mapping[str, str]) -> str:
    """A clearinghouse's human batch report (text, the EBR kind): counts only."""
    rejected = sum(scenarios[c.account_number] == "rejected" for c in sent.claims)
    return (
        f"ELECTRONIC BATCH REPORT\nInterchange {sent.interchange_control_number}: {len(sent.claims)} claim(s) "
        f"received, {len(sent.claims) - rejected} accepted, {rejected} rejected\n"
    )


@dataclass
class Answer:
    """The responses to one 837P: (kind, control number, text) to send now, and the 835 for later (its control
    number and text; None when nothing is remitted)."""

    sent: sx.Sent837
    scenarios: dict[str, str]
    now: list[tuple[str, int, str]] = field(default_factory=list)
    remit: tuple[int, str] | None = None


def answer_837(text: str, *, seed: int, now: datetime, controls: Callable[[], int], report: bool = False) -> Answer:
    """Pure: the TA1, 999, 277CA (and the text report when ``report``) and the 835 answering one 837P.
    ``controls`` hands out the simulator's interchange control numbers. X12Error when the file is not a
    complete 837P interchange we can read."""
    complete_interchanges(text)
    sent = sx.read_837(text)
    isa = x12.interchanges(text)[0].isa
    scenarios = {claim.account_number: seeded_scenario(claim.account_number, seed) for claim in sent.claims}
    answer = Answer(sent, scenarios)
    control = controls()
    answer.now.append(("TA1", control, write_ta1(isa, now=now, control_number=control)))
    control = controls()
    answer.now.append(("999", control, sx.respond_999(sent, now=now, control_number=control)))
    control = controls()
    answer.now.append(("277", control, sx.respond_277ca(sent, scenarios, now=now, control_number=control)))
    if report:
        answer.now.append(("EBR", controls(), batch_report(sent, scenarios)))
    control = controls()
    remit = sx.remit_835(sent, scenarios, now=now, control_number=control)
    answer.remit = (control, remit) if remit is not None else None
    return answer


def _write_atomically(folder: Path, name: str, content: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_text(content, encoding="ascii")
    os.replace(temporary, folder / name)


class Simulator:
    """Watches ``upload`` (where our 837Ps arrive) and answers into ``download`` (where we fetch from)."""

    def __init__(
        self, *, upload: Path, download: Path, state: Path, profile: Profile, seed: int = 1,
        remit_after: float = 5.0, clock: Callable[[], datetime], wall: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.upload, self.download, self.state = upload, download, state
        self.profile, self.seed, self.remit_after = profile, seed, remit_after
        self.clock, self.wall = clock, wall
        self.report = any(a.startswith("EBR") for a in profile.acknowledgements)
        for folder in (upload, download, state / "pending", state / "received", state / "duplicates"):
            folder.mkdir(parents=True, exist_ok=True)

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def ledger_path(self) -> Path:
        return self.state / "ledger.jsonl"

    def ledger(self) -> list[dict]:
        """Every event recorded so far (received, duplicate, wrote, scheduled, unreadable)."""
        if not self.ledger_path.exists():
            return []
        return [json.loads(line) for line in self.ledger_path.read_text().splitlines() if line.strip()]

    def _record(self, **event: object) -> None:
        with self.ledger_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(event, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def _next_control(self) -> int:
        path = self.state / "control"
        value = int(path.read_text()) + 1 if path.exists() else 1
        _write_atomically(self.state, "control", str(value))
        return value

    def _answered(self) -> set[str]:
        return {e["isa13"] for e in self.ledger() if e["event"] == "received"}

    # -- one pass ---------------------------------------------------------------------------------------------
    def scan(self) -> list[str]:
        """Answer every complete 837P waiting in the upload folder and release the 835s that are due.
        Returns one line per file handled (counts and control numbers, never patient data)."""
        lines = [self._take(path) for path in sorted(self.upload.iterdir()) if self._ready(path)]
        lines += self._release_due()
        return [line for line in lines if line]

    @staticmethod
    def _ready(path: Path) -> bool:
        return path.is_file() and not path.name.startswith(".")

    def _take(self, path: Path) -> str | None:
        data = path.read_bytes()
        text = x12.decode(data)
        try:
            complete_interchanges(text)
        except x12.X12Error:
            return None  # still being written by a process that does not rename: next pass
        digest = hashlib.sha256(data).hexdigest()
        isa = x12.interchanges(text)[0].isa
        isa13 = isa[13].strip() if isa is not None else ""
        if isa13 in self._answered():
            os.replace(path, self.state / "duplicates" / f"{path.name}.{digest[:12]}")
            self._record(event="duplicate", file=path.name, isa13=isa13, sha256=digest)
            return f"{path.name}: interchange {isa13} was answered before: set aside as a duplicate"
        try:
            answer = answer_837(text, seed=self.seed, now=self.clock(), controls=self._next_control,
                                report=self.report)  # fmt: skip
        except (x12.X12Error, ValueError) as error:
            os.replace(path, self.state / "duplicates" / f"{path.name}.unreadable")
            self._record(event="unreadable", file=path.name, sha256=digest, error=str(error)[:300])
            return f"{path.name}: not an 837P we can read ({error})"
        claims = [c.account_number for c in answer.sent.claims]
        self._record(event="received", file=path.name, isa13=isa13, sha256=digest, claims=claims,
                     scenarios=answer.scenarios)  # fmt: skip
        stem = path.name.rsplit(".", 1)[0]
        for kind, control, content in answer.now:
            self._write(response_name(self.profile, stem, control, kind), kind, content)
        if answer.remit is not None:
            control, remit = answer.remit
            name = response_name(self.profile, stem, control, "835")
            _write_atomically(self.state / "pending", name, remit)
            self._record(event="scheduled", file=name, kind="835", due=self.wall() + self.remit_after)
        os.replace(path, self.state / "received" / path.name)
        rejected = sum(s == "rejected" for s in answer.scenarios.values())
        denied = sum(s in DENIED for s in answer.scenarios.values())
        return (f"{path.name}: interchange {isa13}, {len(claims)} claim(s): {rejected} rejected at the 277CA, "
                f"{denied} to be denied on the 835")  # fmt: skip

    def _write(self, name: str, kind: str, content: str) -> None:
        _write_atomically(self.download, name, content)
        self._record(event="wrote", file=name, kind=kind, sets=content.count(f"{TERMINATOR}ST*"),
                     sha256=hashlib.sha256(content.encode()).hexdigest())  # fmt: skip

    def _release_due(self) -> list[str]:
        now = self.wall()
        written = {e["file"] for e in self.ledger() if e["event"] == "wrote"}
        lines = []
        for event in self.ledger():
            if event["event"] != "scheduled" or event["file"] in written or event["due"] > now:
                continue
            pending = self.state / "pending" / event["file"]
            self._write(event["file"], "835", pending.read_text(encoding="ascii"))
            pending.unlink()
            lines.append(f"{event['file']}: 835 released")
        return lines

    def pending(self) -> int:
        """835s scheduled and not yet written."""
        return sum(1 for p in (self.state / "pending").iterdir() if not p.name.startswith("."))

    def run(self, *, interval: float = 1.0, once: bool = False, echo: Callable[[str], None] = print) -> None:
        """Scan every ``interval`` seconds until interrupted (``once``: one pass, the 835s released at once)."""
        if once:
            self.remit_after = 0
        while True:
            for line in self.scan():
                echo(line)
            if once:
                return
            time.sleep(interval)
