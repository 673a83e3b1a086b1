"""The balances demo seeding on a small world: tiers per practice, determinations, self-pay charges at the tier
price, a plan with a missed instalment and its reminder, a pending GFE with its issue item."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from backoffice.balances import queries
from backoffice.balances.demo import seed_balances
from backoffice.balances.models import GoodFaithEstimate
from backoffice.extensions import db
from backoffice.patients.models import Coverage, LedgerEntry
from backoffice.work.models import WorkItem
from tests import test_balances
from tests.factories import NOW, make_patient, make_session
from tests.test_balances import World

world = test_balances.world


def test_the_demo_seeds_tiers_determinations_a_plan_with_a_missed_instalment_and_a_pending_gfe(world: World) -> None:
    payer_id = db.session.scalar(select(Coverage.payer_id).where(Coverage.patient_id == world.patient.id))
    second = make_patient(world.practice, first_name="Sam", last_name="Second")
    db.session.add(Coverage(patient_id=second.id, payer_id=payer_id, member_id="SP1", priority="primary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    for day in (date(2026, 10, 5), date(2026, 10, 12)):
        make_session(world.practice, world.provider, world.patient, date_of_service=day)
    seed_balances(NOW)
    assert len(queries.tiers(world.practice.id)) == len(queries.tiers(world.other.id)) == 4
    determination = queries.current_determination(world.patient.id, NOW.date())
    assert determination is not None and determination.fpl_percent == 90  # 14,500 / 15,960
    charges = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "self_pay_charge")).all()
    assert [c.amount for c in charges] == [Decimal("25.00"), Decimal("25.00")]  # tier A's flat fee, not $160
    plan = queries.open_plan(world.patient.id)
    assert plan.total == Decimal("50.00") and plan.instalments[0].paid_on is not None
    assert plan.instalments[1].due_on < NOW.date() and plan.instalments[1].paid_amount == 0
    kinds = {(i.kind, i.patient_id) for i in db.session.scalars(select(WorkItem))}
    assert kinds == {("payment_reminder", world.patient.id), ("issue_gfe", second.id)}
    assert db.session.scalar(select(GoodFaithEstimate)).state == "draft"
