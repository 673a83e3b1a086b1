"""Sandbox: a deterministic payer for the demo and the tests. It keeps its own folders under
``<instance>/edi/sandbox/<practice slug>/{sent,inbox,processed,failed}``; on an 837P it answers at once with a
999, a 277CA and (unless every claim was rejected or never answered) an 835, chosen per claim by
``sandbox_x12.scenario_for(CLM01)`` (a replacement, frequency 7, is paid; a void, 8, is accepted and not remitted:
``sent_scenario``); it answers 270 questions with a 271 built from the seeded coverage.

Benefits rule (documented, deterministic): the member is active when a coverage with that member id and payer is
in force on the service date; cost sharing comes from a hash of the member id — profile 0: $30 copay, deductible
met; 1: 20% coinsurance, $500 deductible left; 2: $20 copay, $250 deductible left; 3: 10% coinsurance, deductible
met — Medicaid members pay nothing, Medicare members 20% after a $257 deductible (met on even hashes); 30 visits a
year with ``hash % 10`` used; prior auth required when the payer lists prior-auth CPTs; a commercial member whose
hash is divisible by 5 has behavioral health carved out to the organization's carve-out payer, if it has one."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.base import InboundFile, inbound_files, move_done, write_atomically
from backoffice.clearinghouse.sandbox_x12 import BenefitsAnswer
from backoffice.clearinghouse.sandbox_x12_277 import respond_277, write_276
from backoffice.exchange.control_numbers import allocate
from backoffice.extensions import db
from backoffice.orgs.models import Payer
from backoffice.patients.models import Coverage, Patient
from backoffice.x12.claim837_model import Receiver

if TYPE_CHECKING:
    from backoffice.clearinghouse.sandbox_x12 import BenefitsAnswer, EligibilityQuestion
    from backoffice.clearinghouse.sandbox_x12_277 import StatusQuestion
    from backoffice.orgs.models import Practice

RECEIVER = Receiver("BACKOFFICE SANDBOX", "SANDBOXCH")
PROFILES = (
    (Decimal("30.00"), None, Decimal("0.00")),
    (None, Decimal("20"), Decimal("500.00")),
    (Decimal("20.00"), None, Decimal("250.00")),
    (None, Decimal("10"), Decimal("0.00")),
)
VISITS_PER_YEAR = 30


def member_hash(member_id: str) -> int:
    """A stable number from a member id (the sandbox's only source of variety)."""
    return int.from_bytes(hashlib.sha256(member_id.encode()).digest()[:8], "big")


class Sandbox:
    """The simulated clearinghouse and payers; ``root`` is ``<instance>/edi/sandbox``."""

    receiver = RECEIVER
    usage = "T"

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, practice: Practice, name: str) -> Path:
        """One of the practice's sandbox folders (sent, inbox, processed, failed)."""
        return self.root / practice.slug / name

    def send(self, *, practice: Practice, filename: str, content: str, now: datetime) -> None:
        """Keep the 837P (or 270) and drop the payer's answers into the inbox straight away, named
        ``<ISA13>-<n>-<kind>.x12`` so that reading the inbox in name order reads them in the order they came."""

        write_atomically(self.folder(practice, "sent"), filename, content)
        if not filename.startswith("837"):
            return
        sent = sx.read_837(content)
        scenarios = {c.account_number: sx.sent_scenario(c.account_number, c.frequency_code) for c in sent.claims}
        isa = sent.interchange_control_number
        control = int(isa)
        inbox = self.folder(practice, "inbox")
        write_atomically(inbox, f"{isa}-1-999.x12", sx.respond_999(sent, now=now, control_number=control))
        write_atomically(
            inbox, f"{isa}-2-277CA.x12", sx.respond_277ca(sent, scenarios, now=now, control_number=control)
        )
        remit = sx.remit_835(sent, scenarios, now=now, control_number=control)
        if remit is not None:
            write_atomically(inbox, f"{isa}-3-835.x12", remit)

    def retract(self, *, practice: Practice, filename: str) -> None:
        """Forget a file whose records did not commit, with the answers it produced."""
        (self.folder(practice, "sent") / filename).unlink(missing_ok=True)
        isa = filename.rsplit("-", 1)[-1].split(".")[0]
        for name in ("1-999", "2-277CA", "3-835"):
            (self.folder(practice, "inbox") / f"{isa}-{name}.x12").unlink(missing_ok=True)

    def fetch(self, *, practice: Practice, now: datetime | None = None) -> list[InboundFile]:
        """The answers waiting in the sandbox inbox."""
        return inbound_files(self.folder(practice, "inbox"))

    def done(self, *, practice: Practice, file: InboundFile, ok: bool) -> None:
        """Move an answer to processed/ or failed/."""
        move_done(self.folder(practice, "inbox"), file, ok, root=self.root / practice.slug)

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """A 271 answering every question from the seeded coverage (see the module's benefits rule)."""

        pairs = [(question, benefits_answer(practice, question)) for question in questions]
        return sx.respond_271(pairs, now=now, control_number=allocate(practice.organization_id, "interchange"))

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """A 277 answering a 276 at once: each claim's status follows its scenario (``sandbox_x12_277``)."""

        submitter = practice.organization.edi_submitter_id or "SUBMITTER"
        control = allocate(practice.organization_id, "interchange")
        write_atomically(self.folder(practice, "sent"), f"276-{control:09d}.x12",
                         write_276(questions, submitter_id=submitter, now=now, control_number=control))  # fmt: skip
        return respond_277(questions, submitter_id=submitter, now=now, control_number=control)


def benefits_answer(practice: Practice, question: EligibilityQuestion) -> BenefitsAnswer:
    """What the sandbox payer knows about the member asked about (the module's benefits rule)."""

    payer = db.session.scalar(
        select(Payer).where(Payer.organization_id == practice.organization_id, Payer.payer_id == question.payer_id)
    )
    coverages = (
        db.session.scalars(
            select(Coverage)
            .join(Patient, Patient.id == Coverage.patient_id)
            .where(
                Patient.practice_id == practice.id,
                Coverage.payer_id == payer.id,
                Coverage.member_id == question.member_id,
            )
        ).all()
        if payer is not None
        else []
    )
    active = any(c.is_active_on(question.service_date) for c in coverages)
    if payer is None or not active:
        return BenefitsAnswer(False, False, None, None, None, None, None, False)
    h = member_hash(question.member_id)
    kind = str(payer.kind)
    if kind == "medicaid":
        copay, coinsurance, deductible = Decimal("0.00"), None, Decimal("0.00")
    elif kind == "medicare":
        copay, coinsurance, deductible = None, Decimal("20"), Decimal("0.00") if h % 2 == 0 else Decimal("257.00")
    else:
        copay, coinsurance, deductible = PROFILES[h % len(PROFILES)]
    carve_name = carve_id = ""
    if kind == "commercial" and h % 5 == 0:
        carve = db.session.scalar(
            select(Payer)
            .where(
                Payer.organization_id == practice.organization_id,
                Payer.kind == "behavioral_health_carve_out",
                Payer.active.is_(True),
            )
            .order_by(Payer.id)
        )
        if carve is not None:
            carve_name, carve_id = carve.name, carve.payer_id
    return BenefitsAnswer(
        active=True, in_network=True, copay=copay, coinsurance_percent=coinsurance, deductible_remaining=deductible,
        visits_allowed=VISITS_PER_YEAR, visits_remaining=VISITS_PER_YEAR - h % 10,
        auth_required=bool(payer.prior_auth_cpts), carve_out_payer_name=carve_name, carve_out_payer_id=carve_id,
    )  # fmt: skip
