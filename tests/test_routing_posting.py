"""Routing the denial items an 835 creates in bulk: one in-memory pass, the same rules and logs as one item."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.remits.services import post_835
from backoffice.routing.models import RoutingRule
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind
from tests import factories as f
from tests.test_post_835 import NOW, clp, era, make_claim, svc

D = Decimal


@pytest.fixture
def setup(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    return org, practice, payer, patient


def coding_denial(account: str) -> str:
    return clp(account, "4", "150", "0", "0", svc("90834", "150", "0", "CAS*CO*4*150"))


def test_denials_posted_in_bulk_carry_payer_amount_family_and_code_and_are_routed_round_robin(setup) -> None:  # noqa: ANN001
    org, practice, payer, _ = setup
    ann = f.make_user(org, practices=[practice], name="Ann")
    ben = f.make_user(org, practices=[practice], name="Ben")
    rule = RoutingRule(organization_id=org.id, name="Coding RR", denial_family="coding", distribution="round_robin",
                       user_ids=[ann.id, ben.id], created_at=NOW, updated_at=NOW)  # fmt: skip
    db.session.add(rule)
    db.session.commit()
    for n in range(3):
        make_claim(setup, f"RR{n}", ("90834", "150.00"))
    result = post_835(organization_id=org.id, now=NOW, text=era(*(coding_denial(f"RR{n}") for n in range(3))))
    assert result.denial_items == 3
    items = list(db.session.scalars(select(WorkItem).order_by(WorkItem.id)))
    assert [(i.payer_id, i.amount, i.denial_family, i.reason_code) for i in items] == [
        (payer.id, D("150.00"), "coding", "CO-4")
    ] * 3
    assert [i.assignee_id for i in items] == [ann.id, ben.id, ann.id]
    db.session.refresh(rule)
    assert rule.last_assigned_user_id == ann.id
    logs = {
        log.work_item_id: log
        for log in db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT))
    }
    assert set(logs) == {i.id for i in items}
    first = logs[items[0].id]
    assert first.body.startswith("Routed by rule 'Coding RR' (round robin: Ann")
    assert first.data["rule_id"] == rule.id and first.data["distribution"] == "round_robin"
    assert first.claim_id == items[0].claim_id


def test_bulk_least_loaded_counts_what_it_just_assigned(setup) -> None:  # noqa: ANN001
    org, practice, _, _ = setup
    ann = f.make_user(org, practices=[practice], name="Ann")
    ben = f.make_user(org, practices=[practice], name="Ben")
    for item in f.make_ready_items(practice, 2):
        item.assignee_id = ann.id
    db.session.add(RoutingRule(organization_id=org.id, name="LL", distribution="least_loaded", denial_family="coding",
                               user_ids=[], created_at=NOW, updated_at=NOW))  # fmt: skip
    db.session.commit()
    for n in range(4):
        make_claim(setup, f"LL{n}", ("90834", "150.00"))
    post_835(organization_id=org.id, now=NOW, text=era(*(coding_denial(f"LL{n}") for n in range(4))))
    denials = list(db.session.scalars(select(WorkItem).where(WorkItem.kind == "work_denial").order_by(WorkItem.id)))
    # Ben 0, Ann 2 → Ben, Ben (1 vs 2), then tie 2-2 goes to the lower id (Ann), then Ben (2 vs 3).
    assert [i.assignee_id for i in denials] == [ben.id, ben.id, ann.id, ben.id]


def test_posting_without_rules_leaves_denials_in_their_family_queue(setup) -> None:  # noqa: ANN001
    org, *_ = setup
    make_claim(setup, "NR1", ("90834", "150.00"))
    post_835(organization_id=org.id, now=NOW, text=era(coding_denial("NR1")))
    item = db.session.scalars(select(WorkItem)).one()
    assert (item.queue, item.assignee_id) == ("coding", None)
    assert db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT)).all() == []
