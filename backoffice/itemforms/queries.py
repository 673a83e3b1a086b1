"""Reads for the item forms: the session, coverages, benefits and authorizations on file, the claim, the item's
evidence, and the live scrub of edited claim lines (the real scrubber over the patient's day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.claims.services import priced_lines
from backoffice.coding.rules import CodingResult, LineDraft
from backoffice.extensions import db
from backoffice.itemforms.rules import LineEdit, differences_from_coding
from backoffice.patients.models import Authorization, BenefitsCheck, Coverage
from backoffice.scrubber.queries import primary_coverage, same_day_inputs
from backoffice.scrubber.rules import scrub
from backoffice.sessions.models import Session
from backoffice.work.models import Interaction, WorkItem


def session_for(item: WorkItem) -> Session | None:
    """The session an item is about: its own, else its claim's."""
    if item.session_id is not None:
        return db.session.get(Session, item.session_id)
    claim = db.session.get(Claim, item.claim_id) if item.claim_id is not None else None
    return db.session.get(Session, claim.session_id) if claim is not None and claim.session_id else None


def coverages_for(patient_id: int) -> list[Coverage]:
    """The patient's coverages, primary first."""
    stmt = select(Coverage).where(Coverage.patient_id == patient_id).order_by(Coverage.priority, Coverage.id)
    return list(db.session.scalars(stmt))


def default_coverage(session: Session) -> Coverage | None:
    """The coverage a benefits check or an authorization is about by default: primary in force on the DOS."""
    return primary_coverage(session.patient_id, session.date_of_service)


def latest_benefits(patient_id: int, payer_id: int, *, source: str | None = None) -> BenefitsCheck | None:
    """The newest benefits check for the patient and payer (of ``source`` when given: "271", "manual")."""
    stmt = select(BenefitsCheck).where(BenefitsCheck.patient_id == patient_id, BenefitsCheck.payer_id == payer_id)
    if source is not None:
        stmt = stmt.where(BenefitsCheck.source == source)
    return db.session.scalar(stmt.order_by(BenefitsCheck.checked_at.desc(), BenefitsCheck.id.desc()).limit(1))


def authorizations_for(patient_id: int, payer_id: int | None = None) -> list[Authorization]:
    """The patient's authorizations (with one payer when given), latest ending first."""
    stmt = select(Authorization).where(Authorization.patient_id == patient_id)
    if payer_id is not None:
        stmt = stmt.where(Authorization.payer_id == payer_id)
    return list(db.session.scalars(stmt.order_by(Authorization.end_date.desc(), Authorization.id.desc())))


def usable_authorization(patient_id: int, payer_id: int, day: date, cpts: Sequence[str]) -> Authorization | None:
    """An authorization of this payer in force on ``day`` with units left for one of ``cpts`` (§8.3 claim-time
    checks); with no CPT known, any in-force authorization with units left."""
    for auth in authorizations_for(patient_id, payer_id):
        covers = not cpts or bool(set(cpts) & set(auth.cpt_codes or ()))
        if auth.start_date <= day <= auth.end_date and auth.remaining > 0 and covers:
            return auth
    return None


def claim_for(item: WorkItem) -> Claim | None:
    """The claim an item is about: its own, else its session's original primary claim."""
    if item.claim_id is not None:
        return db.session.get(Claim, item.claim_id)
    if item.session_id is None:
        return None
    return db.session.scalar(
        select(Claim)
        .where(Claim.session_id == item.session_id, Claim.payer_sequence == "P", Claim.parent_claim_id.is_(None))
        .order_by(Claim.id)
    )


def chain_item(session_id: int, kind: str) -> WorkItem | None:
    """The session's item of ``kind`` (planned or added), if any."""
    return db.session.scalar(
        select(WorkItem).where(WorkItem.session_id == session_id, WorkItem.kind == kind).order_by(WorkItem.id).limit(1)
    )


def evidence_of(item: WorkItem) -> dict[str, Any]:
    """The evidence the item was opened (or handed to a person) with: the 999/277CA errors of a rejection, the
    codes, amount and deadline of a denial, the findings of a failed audit. Later rows add to it (an appeal handed
    to a person keeps the denial's codes beside its draft)."""
    rows = db.session.scalars(
        select(Interaction).where(Interaction.work_item_id == item.id).order_by(Interaction.at, Interaction.id)
    )
    evidence: dict[str, Any] = {}
    for row in rows:
        found = (row.data or {}).get("evidence")
        if isinstance(found, dict):
            evidence.update(found)
    return evidence


def opening_reason(item: WorkItem) -> str | None:
    """The body of the row that opened the item (e.g. the rejection in words)."""
    return db.session.scalar(
        select(Interaction.body)
        .where(Interaction.work_item_id == item.id, Interaction.to_state == "ready")
        .order_by(Interaction.at, Interaction.id)
        .limit(1)
    )


@dataclass(frozen=True)
class Preview:
    """Edited lines as the claim would carry them (modifiers the scrubber adds, charges from the fee schedule)
    and every finding: the coding engine's and scrubber's for these lines, fee schedule gaps, edits from coding."""

    lines: list[dict[str, Any]]
    findings: list[dict[str, str]]
    total: Decimal
    claim_lines: list[Any]

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.get("severity") == "error")


def _draft(line: LineEdit) -> LineDraft:
    return LineDraft(line.cpt, line.modifiers, line.units, line.pos, line.pointers)


def as_edits(lines: Sequence[Any]) -> list[LineEdit]:
    """Claim lines or line drafts as LineEdits."""
    out = []
    for line in lines:
        pos = getattr(line, "place_of_service", None) or getattr(line, "pos", "")
        pointers = getattr(line, "diagnosis_pointers", ())
        out.append(LineEdit(line.cpt, tuple(line.modifiers or ()), int(line.units), pos, tuple(pointers or ())))
    return out


def scrub_lines(session: Session, lines: Sequence[LineEdit] | None, *, today: date) -> tuple[Preview, Coverage] | None:
    """Scrub ``session`` with ``lines`` in place of what the coding engine derives (None: the coded lines), together
    with the patient's other sessions that day with the same clinician; None without primary coverage in force."""
    found = same_day_inputs(session)
    if found is None:
        return None
    inputs, index, coverage = found
    coded = inputs[index].coding
    if lines is not None:
        inputs[index] = replace(inputs[index], coding=CodingResult(tuple(_draft(x) for x in lines), coded.findings))
    result = scrub(inputs, today=today)[index]
    claim_lines, findings = priced_lines(session, result)
    if lines is not None:
        findings.extend(differences_from_coding(lines, as_edits(coded.lines)))
    shown = [
        {"cpt": line.cpt, "modifiers": " ".join(line.modifiers), "units": line.units, "pos": line.place_of_service,
         "pointers": " ".join(str(p) for p in line.diagnosis_pointers), "charge": f"{line.charge:.2f}"}
        for line in claim_lines
    ]  # fmt: skip
    total = sum((line.charge for line in claim_lines), Decimal("0.00"))
    return Preview(shown, findings, total, claim_lines), coverage
