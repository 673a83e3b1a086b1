"""Demo data for the supervisor screens: denials with CARCs and dollars on Priya's desk (to bulk-reassign by CARC),
one write-off waiting for a supervisor and one already approved (claim closed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Practice
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session
from backoffice.supervisor.write_offs import decide_write_off, request_write_off
from backoffice.work.models import WorkItem
from backoffice.work.services import add_item

# (CARC, denial family, charge): five medical-necessity denials to move in one go, two timely-filing ones.
DENIALS = [
    ("CO-50", "medical_necessity", "165.00"),
    ("CO-50", "medical_necessity", "165.00"),
    ("CO-50", "medical_necessity", "120.00"),
    ("CO-50", "medical_necessity", "165.00"),
    ("CO-50", "medical_necessity", "95.00"),
    ("CO-29", "timely_filing", "165.00"),
    ("CO-29", "timely_filing", "120.00"),
]


def _user(org_id: int, login: str) -> User | None:
    return db.session.scalar(select(User).where(User.organization_id == org_id, User.email.like(f"{login}@%")))


def seed_supervisor(now: datetime) -> None:
    """Denied claims with work-denial items assigned to biller1, and two write-off requests from biller1."""
    org = db.session.scalar(select(Organization).order_by(Organization.id))
    if org is None:
        return
    biller, boss = _user(org.id, "biller1"), _user(org.id, "supervisor")
    practice = db.session.scalar(
        select(Practice).where(Practice.organization_id == org.id, Practice.slug == "calm-mind")
    )
    if biller is None or boss is None or practice is None:
        return
    sessions = db.session.scalars(
        select(Session).where(Session.practice_id == practice.id).order_by(Session.id).limit(len(DENIALS) * 3)
    ).all()
    items: list[WorkItem] = []
    for session, (code, family, charge) in zip(sessions[::3], DENIALS, strict=False):
        coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == session.patient_id))
        if coverage is None:
            continue
        denied_at = now - timedelta(days=len(items) * 4 + 3)
        amount = Decimal(charge)
        claim = Claim(
            practice_id=practice.id, session_id=session.id, patient_id=session.patient_id, payer_id=coverage.payer_id,
            coverage_id=coverage.id, account_number=f"DEMO-DEN-{session.id}", status=ClaimStatus.DENIED,
            total_charge=amount, created_at=denied_at - timedelta(days=40), submitted_at=denied_at - timedelta(days=30),
            adjudicated_at=denied_at,
            lines=[ClaimLine(line_number=1, date_of_service=session.date_of_service, cpt="90837", modifiers=[], units=1,
                             place_of_service="11", diagnosis_pointers=[1], charge=amount)],
        )  # fmt: skip
        db.session.add(claim)
        db.session.flush()
        item, _ = add_item(
            practice_id=practice.id, kind="work_denial", now=denied_at, claim_id=claim.id, queue="denials",
            reason=f"{code} on claim {claim.account_number}", dedupe_key=f"demo-denial:{claim.id}",
            source="835 posting",
        )  # fmt: skip
        item.reason_code, item.denial_family, item.amount, item.payer_id = code, family, amount, coverage.payer_id
        item.assignee_id = biller.id
        items.append(item)
    db.session.commit()
    timely = [item for item in items if item.reason_code == "CO-29"]
    for n, item in enumerate(timely):
        request = request_write_off(
            item=item, actor=biller, now=now - timedelta(hours=20 - n), balance="insurance", amount=item.amount,
            reason="timely_filing", note="Filed after the payer's 90-day limit; no proof of timely filing on record.",
        )  # fmt: skip
        if n == 0:
            decide_write_off(request=request, actor=boss, now=now - timedelta(hours=2), approve=True,
                             note="Confirmed: no clearinghouse acceptance inside the limit.")  # fmt: skip
