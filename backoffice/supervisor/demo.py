"""Demo data for the supervisor screens: the demo's open appeal items (denials being worked) get the columns an 835
posting fills (CARC, denial family, dollars at stake, payer), so bulk reassign can filter them by CARC, payer and
amount. Items only; the demo's work stays one chain per session (its seed test checks that)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.patients.models import Coverage
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState, WorkKind

# (CARC, denial family, dollars): mostly medical necessity, as in behavioral health (billing-rules §6.5).
DENIALS = [
    ("CO-50", "medical_necessity", "165.00"),
    ("CO-50", "medical_necessity", "120.00"),
    ("CO-151", "medical_necessity", "165.00"),
    ("CO-50", "medical_necessity", "95.00"),
    ("CO-119", "benefit_maximum", "140.00"),
    ("CO-197", "authorization", "165.00"),
]
OPEN = [ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED]


def seed_supervisor(now: datetime) -> None:
    """Fill CARC, family, amount and payer on open appeal items that have none yet."""
    rows = db.session.execute(
        select(WorkItem, Coverage.payer_id)
        .join(Session, Session.id == WorkItem.session_id)
        .join(Coverage, Coverage.patient_id == Session.patient_id)
        .where(
            WorkItem.kind == WorkKind.APPEAL,
            WorkItem.state.in_([s.value for s in OPEN]),
            WorkItem.reason_code.is_(None),
            Coverage.priority == "primary",
        )
        .order_by(WorkItem.id)
    ).all()
    for n, (item, payer_id) in enumerate(rows):
        code, family, amount = DENIALS[n % len(DENIALS)]
        item.reason_code, item.denial_family, item.amount, item.payer_id = code, family, Decimal(amount), payer_id
    db.session.commit()
