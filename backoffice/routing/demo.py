"""Demo routing: a few sensible rules for the demo organization and skills on its billers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer
from backoffice.routing.models import RoutingRule

SKILLS = {  # login → skills
    "biller1": ["coding", "records"],
    "biller2": ["appeals"],
    "biller3": ["medicaid", "spanish"],
}


def seed_routing(now: datetime) -> None:
    """Skills on the demo billers and four rules: Medicaid denials to the Medicaid specialist, credentialing
    denials to the supervisor, Aetna rejections round-robin among billers 1–3, timely filing least-loaded."""
    org = db.session.scalar(select(Organization).where(Organization.slug == "summit-billing"))
    if org is None:
        return
    users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User).where(User.organization_id == org.id))}
    for login, skills in SKILLS.items():
        if login in users:
            users[login].skills = skills
    payers = {p.payer_id: p.id for p in db.session.scalars(select(Payer).where(Payer.organization_id == org.id))}
    billers = [users[login].id for login in ("biller1", "biller2", "biller3") if login in users]
    specs = [
        dict(name="Medicaid denials – Medicaid specialist", payer_id=payers.get("MEDICAID"), kind="work_denial",
             required_skill="medicaid", target_queue="denials", distribution="least_loaded"),
        dict(name="Credentialing denials – supervisor", denial_family="credentialing", target_queue="credentialing",
             distribution="person", target_user_id=users["supervisor"].id if "supervisor" in users else None),
        dict(name="Aetna rejections – round robin", payer_id=payers.get("AETNA"), kind="fix_rejection",
             distribution="round_robin", user_ids=billers),
        dict(name="Timely filing – least loaded", denial_family="timely_filing", target_queue="timely-filing",
             distribution="least_loaded", user_ids=billers),
    ]  # fmt: skip
    for position, spec in enumerate(specs, start=1):
        spec.setdefault("user_ids", [])
        db.session.add(
            RoutingRule(organization_id=org.id, position=position * 10, created_at=now, updated_at=now, **spec)
        )
    db.session.commit()
