"""Sandbox: a simulated clearinghouse and payers for the demo and the tests, honest about what a payer knows.

It keeps its own folders under ``<instance>/edi/sandbox/<practice slug>/{sent,pending,inbox,processed,failed}``
and its own data (``sandbox_models``): a **member file** (``SandboxMember``, seeded by the demo and the tests, never
read from our coverages) and per-organization **settings** (``SandboxSettings``; no row means every rate 0 and no
delay). What it does, deterministically (every choice is a hash of the settings' seed and what is answered):

- **270 → 271** (real time): the member is looked up by payer and member ID; unknown → AAA 75; for the subscriber
  a different birth date → AAA 71; for a dependent (2100D) no one of that first name → AAA 77, another birth date
  → AAA 71; otherwise active or not on the date of service, with the member's copay, coinsurance, deductible left,
  visits, auth requirement and behavioral-health carve-out.
- **837P → 999**: a transaction set with a problem its front end detects (``x12.checks``: CLM02 ≠ ΣSV102, a
  pointer to no diagnosis, a dotted ICD-10…) or picked by ``reject_999_percent`` is rejected (IK3/IK4/IK5 R).
- **→ 277CA**: a claim whose member is not in the member file (A7:164:IL), whose billing NPI fails its check digit
  (A7:562:85), whose scenario is ``rejected`` or that ``reject_277ca_percent`` picks is rejected; the rest accepted.
- **→ 835**: per claim its scenario (``sandbox_x12_model.scenario_for``); ``reversal_percent`` of paid claims are
  reversed (CLP02 22) and corrected; ``recoupment_percent`` are recouped by a PLB WO naming the claim;
  ``interest_percent`` of payments carry L6 interest; a member with ``crossover_payer_*`` (Medicare with Medicaid)
  gets CLP02 19 and NM1*TT.
- **Delay**: answers wait in ``pending/`` until ``delay_minutes`` after the send, by the ``now`` of the fetch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.base import InboundFile, inbound_files, move_done, write_atomically
from backoffice.clearinghouse.sandbox_models import SandboxMember, SandboxSettings
from backoffice.clearinghouse.sandbox_x12 import BenefitsAnswer
from backoffice.clearinghouse.sandbox_x12_277 import respond_277
from backoffice.clearinghouse.sandbox_x12_835 import Extras
from backoffice.clearinghouse.sandbox_x12_model import stable_number
from backoffice.exchange.control_numbers import allocate
from backoffice.extensions import db
from backoffice.orgs.rules import npi_problem
from backoffice.x12.claim837_model import Receiver
from backoffice.x12.inquiry import write_276

if TYPE_CHECKING:
    from backoffice.orgs.models import Practice
    from backoffice.x12.inquiry import EligibilityQuestion, StatusQuestion

RECEIVER = Receiver("BACKOFFICE SANDBOX", "SANDBOXCH")
# Cost-sharing profiles the seeds pick from (``default_benefits``): (copay, coinsurance %, deductible left).
PROFILES = (
    (Decimal("30.00"), None, Decimal("0.00")),
    (None, Decimal("20"), Decimal("500.00")),
    (Decimal("20.00"), None, Decimal("250.00")),
    (None, Decimal("10"), Decimal("0.00")),
)
VISITS_PER_YEAR = 30
STAMP = "%Y%m%dT%H%M%S"


def member_hash(member_id: str) -> int:
    """A stable number from a member id (how the seeds vary the members' benefits)."""
    return int.from_bytes(hashlib.sha256(member_id.encode()).digest()[:8], "big")


def settings_of(organization_id: int) -> SandboxSettings:
    """The organization's Sandbox settings, else the defaults (no delay, no rejections, no PLBs)."""
    found = db.session.get(SandboxSettings, organization_id)
    if found is not None:
        return found
    return SandboxSettings(
        organization_id=organization_id, seed=0, delay_minutes=0, reject_999_percent=0, reject_277ca_percent=0,
        recoupment_percent=0, interest_percent=0, reversal_percent=0,
    )  # fmt: skip


def picked(settings: SandboxSettings, percent: int, *parts: str) -> bool:
    """Whether the rate ``percent`` picks ``parts`` under the settings' seed (deterministic)."""
    return percent > 0 and stable_number("sandbox", str(settings.seed), *parts) % 100 < percent


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
        """Keep the 837P (or 270/276) and prepare the payer's answers to an 837P: in the inbox at once, or in
        ``pending/`` until the settings' delay has passed, named ``<ISA13>-<n>-<kind>.x12`` so that reading the
        inbox in name order reads them in the order they came."""

        write_atomically(self.folder(practice, "sent"), filename, content)
        if not filename.startswith("837"):
            return
        settings = settings_of(practice.organization_id)
        sent = sx.read_837(content)
        isa = sent.interchange_control_number
        control = int(isa)
        rejected_sets = sx.syntax_rejections(content)
        for st02 in sent.transaction_control_numbers:
            if st02 not in rejected_sets and picked(settings, settings.reject_999_percent, "999", isa, st02):
                rejected_sets[st02] = sx.rate_rejection(sent, st02, content)
        answers = [("1-999", sx.respond_999(sent, now=now, control_number=control, rejections=rejected_sets))]
        through = replace(sent, claims=tuple(c for c in sent.claims
                                             if c.transaction_control_number not in rejected_sets))  # fmt: skip
        if through.claims:
            scenarios, reasons, extras = self._adjudicate(practice.organization_id, settings, through)
            answers.append(("2-277CA", sx.respond_277ca(through, scenarios, now=now, control_number=control,
                                                        reasons=reasons)))  # fmt: skip
            remit = sx.remit_835(through, scenarios, now=now, control_number=control, extras=extras)
            if remit is not None:
                answers.append(("3-835", remit))
        ready = now + timedelta(minutes=settings.delay_minutes or 0)
        for name, text in answers:
            if ready > now:
                write_atomically(self.folder(practice, "pending"), f"{ready:{STAMP}}--{isa}-{name}.x12", text)
            else:
                write_atomically(self.folder(practice, "inbox"), f"{isa}-{name}.x12", text)

    def _adjudicate(
        self, organization_id: int, settings: SandboxSettings, sent: sx.Sent837
    ) -> tuple[dict[str, str], dict[str, tuple[str, str, str]], Extras]:
        """Per claim its scenario and 277CA rejection reason, and the 835's extras, from the member file and the
        settings."""
        scenarios: dict[str, str] = {}
        reasons: dict[str, tuple[str, str, str]] = {}
        crossovers: dict[str, tuple[str, str]] = {}
        recoup: set[str] = set()
        for claim in sent.claims:
            account = claim.account_number
            scenario = sx.sent_scenario(account, claim.frequency_code)
            members = _members(organization_id, claim.payer_id, claim.member_id)
            if not members:
                scenario, reasons[account] = "rejected", sx.MEMBER_NOT_FOUND
            elif npi_problem(claim.billing_npi):
                scenario, reasons[account] = "rejected", sx.INVALID_NPI
            elif picked(settings, settings.reject_277ca_percent, "277CA", account):
                scenario = "rejected"
            elif scenario not in ("rejected", "no_response") and claim.frequency_code == "1":
                if scenario == "paid" and picked(settings, settings.reversal_percent, "reversal", account):
                    scenario = "reversal"
                elif picked(settings, settings.recoupment_percent, "recoup", account):
                    recoup.add(account)
            subscriber = next((m for m in members if m.relationship == "18"), None)
            if subscriber is not None and subscriber.crossover_payer_id:
                crossovers[account] = (subscriber.crossover_payer_name or "", subscriber.crossover_payer_id)
            scenarios[account] = scenario
        payments = len({(c.payer_id, c.billing_npi) for c in sent.claims})
        interest = frozenset(
            n for n in range(1, payments + 1)
            if picked(settings, settings.interest_percent, "interest", sent.interchange_control_number, str(n))
        )  # fmt: skip
        return scenarios, reasons, Extras(crossovers, frozenset(recoup), interest)

    def retract(self, *, practice: Practice, filename: str) -> None:
        """Forget a file whose records did not commit, with the answers it produced."""
        (self.folder(practice, "sent") / filename).unlink(missing_ok=True)
        isa = filename.rsplit("-", 1)[-1].split(".")[0]
        for name in ("1-999", "2-277CA", "3-835"):
            (self.folder(practice, "inbox") / f"{isa}-{name}.x12").unlink(missing_ok=True)
            pending = self.folder(practice, "pending")
            if pending.is_dir():
                for path in pending.glob(f"*--{isa}-{name}.x12"):
                    path.unlink(missing_ok=True)

    def fetch(self, *, practice: Practice, now: datetime | None = None) -> list[InboundFile]:
        """The answers waiting in the sandbox inbox, after moving in the pending ones whose time has come."""
        pending = self.folder(practice, "pending")
        if now is not None and pending.is_dir():
            for path in sorted(pending.iterdir()):
                stamp, _, name = path.name.partition("--")
                try:
                    due = datetime.strptime(stamp, STAMP).replace(tzinfo=now.tzinfo)
                except ValueError:
                    continue
                if name and due <= now:
                    self.folder(practice, "inbox").mkdir(parents=True, exist_ok=True)
                    path.replace(self.folder(practice, "inbox") / name)
        return inbound_files(self.folder(practice, "inbox"))

    def done(self, *, practice: Practice, file: InboundFile, ok: bool) -> None:
        """Move an answer to processed/ or failed/."""
        move_done(self.folder(practice, "inbox"), file, ok, root=self.root / practice.slug)

    def check_eligibility(
        self, *, practice: Practice, questions: Sequence[EligibilityQuestion], now: datetime
    ) -> str | None:
        """A 271 answering every question from the Sandbox's member file (see the module's rules)."""

        pairs = [(question, benefits_answer(practice, question)) for question in questions]
        return sx.respond_271(pairs, now=now, control_number=allocate(practice.organization_id, "interchange"))

    def check_claim_status(
        self, *, practice: Practice, questions: Sequence[StatusQuestion], now: datetime
    ) -> str | None:
        """A 277 answering a 276 at once: each claim's status follows its scenario (``sandbox_x12_277``)."""

        submitter = practice.organization.edi_submitter_id or "SUBMITTER"
        control = allocate(practice.organization_id, "interchange")
        write_atomically(self.folder(practice, "sent"), f"276-{control:09d}.x12",
                         write_276(questions, submitter_id=submitter, now=now, control_number=control,
                                   receiver_id=RECEIVER.etin, usage=self.usage))  # fmt: skip
        return respond_277(questions, submitter_id=submitter, now=now, control_number=control)


def _members(organization_id: int, payer_id: str, member_id: str) -> list[SandboxMember]:
    return list(
        db.session.scalars(
            select(SandboxMember)
            .where(
                SandboxMember.organization_id == organization_id,
                SandboxMember.payer_id == payer_id.strip(),
                SandboxMember.member_id == member_id.strip(),
            )
            .order_by(SandboxMember.id)
        )
    )


NOT_FOUND = BenefitsAnswer(False, False, None, None, None, None, None, False)


def benefits_answer(practice: Practice, question: EligibilityQuestion) -> BenefitsAnswer:
    """What the Sandbox payer knows about the member asked about (its member file; the module's rules)."""

    members = _members(practice.organization_id, question.payer_id, question.member_id)
    if not members:
        return replace(NOT_FOUND, rejection="75")
    if question.dependent:
        same_name = [m for m in members if m.relationship != "18"
                     and m.first_name.strip().upper() == question.first_name.strip().upper()]  # fmt: skip
        if not same_name:
            return replace(NOT_FOUND, rejection="77")
        member = next((m for m in same_name if m.date_of_birth == question.date_of_birth), None)
    else:
        subscriber = [m for m in members if m.relationship == "18"]
        if not subscriber:
            return replace(NOT_FOUND, rejection="75")
        member = next((m for m in subscriber if m.date_of_birth == question.date_of_birth), None)
    if member is None:
        return replace(NOT_FOUND, rejection="71")
    if not member.is_active_on(question.service_date):
        return NOT_FOUND
    visits_left = None if member.visits_allowed is None else max(member.visits_allowed - member.visits_used, 0)
    return BenefitsAnswer(
        active=True, in_network=member.in_network, copay=member.copay, coinsurance_percent=member.coinsurance_percent,
        deductible_remaining=member.deductible_remaining, visits_allowed=member.visits_allowed,
        visits_remaining=visits_left, auth_required=member.auth_required,
        carve_out_payer_name=member.carve_out_payer_name or "", carve_out_payer_id=member.carve_out_payer_id or "",
    )  # fmt: skip


def default_benefits(member_id: str, payer_kind: str) -> dict[str, object]:
    """Benefits a seed gives a member when it does not choose them (varied by a hash of the member ID): Medicaid
    pays everything, Medicare 20% after a $257 deductible (met on even hashes), commercial plans one of
    ``PROFILES``; 30 visits a year with ``hash % 10`` used."""
    h = member_hash(member_id)
    if payer_kind == "medicaid":
        copay, coinsurance, deductible = Decimal("0.00"), None, Decimal("0.00")
    elif payer_kind == "medicare":
        copay, coinsurance, deductible = None, Decimal("20"), Decimal("0.00") if h % 2 == 0 else Decimal("257.00")
    else:
        copay, coinsurance, deductible = PROFILES[h % len(PROFILES)]
    return {"copay": copay, "coinsurance_percent": coinsurance, "deductible_remaining": deductible,
            "visits_allowed": VISITS_PER_YEAR, "visits_used": h % 10}  # fmt: skip


def enroll_member(
    *, organization_id: int, payer_id: str, payer_kind: str, member_id: str, first_name: str, last_name: str,
    date_of_birth: date, sex: str, effective_from: date, effective_to: date | None = None, relationship: str = "18",
    **benefits: object,
) -> SandboxMember:  # fmt: skip
    """Add one person to the Sandbox's member file (the demo seed and the tests; never from our coverages).
    Benefits not given come from ``default_benefits``. The caller commits."""
    values = {**default_benefits(member_id, payer_kind), **benefits}
    member = SandboxMember(
        organization_id=organization_id, payer_id=payer_id, member_id=member_id, relationship=relationship,
        first_name=first_name, last_name=last_name, date_of_birth=date_of_birth, sex=sex or "U",
        effective_from=effective_from, effective_to=effective_to, **values,
    )  # fmt: skip
    db.session.add(member)
    return member
