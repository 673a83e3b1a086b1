"""Test data for posting inbound EDI: claims as they stand after submission, their submissions, inbound files,
and X12 interchanges built from segment lists (SE/GE/IEA counts computed)."""

from __future__ import annotations

import hashlib
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.exchange.models import ClaimSubmission, EdiFile
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import Patient
from tests.factories import NOW

_seq = itertools.count(1)
ISA = "ISA*00*          *00*          *ZZ*PAYER          *ZZ*SUBMITTER      *261122*1200*^*00501*000000001*0*P*:~"


def interchange(gs: str, set_id: str, body: list[str], version: str) -> str:
    """One ISA/GS/ST…SE/GE/IEA around ``body`` (the segments after ST)."""
    segments = [f"ST*{set_id}*0001*{version}", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    return ISA + "".join(f"{s}~\n" for s in [gs, *segments, "GE*1*1", "IEA*1*000000001"])


def x999(*groups: list[str]) -> str:
    """A 999 acknowledging the AK1…AK9 groups given."""
    body = [segment for group in groups for segment in group]
    return interchange("GS*FA*PAYER*SUBMITTER*20261122*1200*1*X*005010X231A1", "999", body, "005010X231A1")


def x277ca(*claims: list[str]) -> str:
    """A 277CA with one patient-level HL per claim: each item is ["TRN*2*ACCOUNT", "STC*…", …]."""
    body = ["BHT*0085*08*B0001*20261122*1200*TH", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345",
            "TRN*1*B0001", "DTP*050*D8*20261122", "DTP*009*D8*20261122", "HL*2*1*21*1",
            "NM1*41*2*SUBMITTER*****46*ETIN", "TRN*2*BATCH7", "STC*A1:19:PR*20261122*WQ*300", "HL*3*2*19*1",
            "NM1*85*2*PRACTICE*****XX*1234567893", "TRN*1*0"]  # fmt: skip
    for n, segments in enumerate(claims, start=4):
        body += [f"HL*{n}*3*PT", "NM1*QC*1*DOE*JANE****MI*MEMBER123", *segments]
    return interchange("GS*HN*PAYER*SUBMITTER*20261122*1200*1*X*005010X214", "277", body, "005010X214")


def make_claim(
    practice: Practice, patient: Patient, *, status: ClaimStatus = ClaimStatus.SUBMITTED, **kw: Any
) -> Claim:
    """A claim with one 90834 line, as it stands after it was sent."""
    n = next(_seq)
    coverage = patient.coverages[0]
    values: dict[str, Any] = {
        "practice_id": practice.id, "patient_id": patient.id, "payer_id": coverage.payer_id,
        "coverage_id": coverage.id, "account_number": f"ACC-{n}", "status": status, "frequency_code": "1",
        "total_charge": Decimal("150.00"), "created_at": NOW, "submitted_at": NOW,
        "lines": [ClaimLine(line_number=1, date_of_service=date(2026, 11, 16), cpt="90834", modifiers=[], units=1,
                            place_of_service="11", diagnosis_pointers=[1], charge=Decimal("150.00"))],
    }  # fmt: skip
    values.update(kw)
    claim = Claim(**values)
    db.session.add(claim)
    db.session.commit()
    return claim


def make_edi_file(organization_id: int, *, direction: str = "inbound", kind: str = "999", **kw: Any) -> EdiFile:
    n = next(_seq)
    values: dict[str, Any] = {
        "organization_id": organization_id, "direction": direction, "kind": kind, "filename": f"file-{n}.x12",
        "sha256": hashlib.sha256(f"file-{n}".encode()).hexdigest(), "status": "processed", "summary": {},
        "problems": [], "created_at": NOW,
    }  # fmt: skip
    values.update(kw)
    file = EdiFile(**values)
    db.session.add(file)
    db.session.commit()
    return file


def make_submission(claim: Claim, *, group: str = "41", transaction: str = "0001", version: int | None = None,
                    ack_status: str | None = None) -> ClaimSubmission:  # fmt: skip
    """The claim's version sent in an 837P with GS06 ``group`` and ST02 ``transaction``."""
    organization_id = db.session.get(Practice, claim.practice_id).organization_id
    sent = make_edi_file(organization_id, direction="outbound", kind="837P")
    submission = ClaimSubmission(
        claim_id=claim.id, claim_version=version or claim.version, edi_file_id=sent.id,
        interchange_control_number="000000007", group_control_number=group, transaction_control_number=transaction,
        frequency_code=claim.frequency_code, submitted_at=NOW, ack_status=ack_status,
    )  # fmt: skip
    db.session.add(submission)
    db.session.commit()
    return submission


def x277(*claims: list[str], inquiry: list[str] | None = None) -> str:
    """A 277 claim status response with one subscriber-level HL per claim: ["TRN*2*ACCOUNT", "STC*…", …]."""
    body = ["BHT*0010*08*R0001*20261122*1200*DG", "HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*12345",
            "HL*2*1*21*1", "NM1*41*2*SUBMITTER*****46*ETIN", *(inquiry or []), "HL*3*2*19*1",
            "NM1*1P*2*PRACTICE*****XX*1234567893"]  # fmt: skip
    for n, segments in enumerate(claims, start=4):
        body += [f"HL*{n}*3*22*0", "NM1*IL*1*DOE*JANE****MI*MEMBER123", *segments]
    return interchange("GS*HN*PAYER*SUBMITTER*20261122*1200*7*X*005010X212", "277", body, "005010X212")
