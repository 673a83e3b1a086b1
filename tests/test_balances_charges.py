"""Charge entry for self-pay sessions: the patient is billed the session fee (the sliding-scale tier in force on
the date of service), once, and the charge-entry item is completed in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backoffice.balances import charges, queries, services
from backoffice.errors import InvalidTransition
from backoffice.extensions import db
from backoffice.patients.models import LedgerEntry
from backoffice.work import chains
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests import test_balances
from tests.conftest import csrf_token
from tests.factories import NOW, make_session
from tests.test_balances import World, sign_in

world = test_balances.world


def charge_item(w: World, patient=None, minutes: int = 45) -> WorkItem:  # noqa: ANN001
    session = make_session(w.practice, w.provider, patient or w.patient, minutes=minutes)
    (item,) = chains.create_chain(session=session, kinds=["enter_charge"], now=NOW)
    return item


def test_a_self_pay_session_is_charged_at_the_tier_in_force_on_its_date(world: World) -> None:
    earlier = NOW - timedelta(days=10)
    services.determine_sliding_scale(patient=world.patient, household_size=1, annual_income="20000",
                                     evidence="pay stubs", actor=world.biller, now=earlier)  # fmt: skip
    item = charge_item(world)
    entries = charges.charge_self_pay_session(item=item, actor=world.biller, now=NOW)
    assert [(e.kind, e.amount) for e in entries] == [("self_pay_charge", Decimal("80.00"))]  # 90834 $160, tier B 50%
    assert "90834" in entries[0].reason and "sliding scale: B" in entries[0].reason
    assert item.state == ItemState.DONE and item.result["self_pay_charge"] == "80.00"
    with pytest.raises(InvalidTransition):
        charges.charge_self_pay_session(item=item, actor=world.biller, now=NOW)
    assert queries.balance(world.patient.id) == Decimal("80.00")


def test_a_determination_made_after_the_session_does_not_reprice_it(world: World) -> None:
    services.determine_sliding_scale(patient=world.patient, household_size=1, annual_income="20000",
                                     evidence="pay stubs", actor=world.biller, now=NOW)  # fmt: skip
    (entry,) = charges.charge_self_pay_session(item=charge_item(world), actor=world.biller, now=NOW)
    assert entry.amount == Decimal("160.00") and "fee schedule" in entry.reason


def test_an_insured_session_is_not_charged_to_the_patient(world: World) -> None:
    item = charge_item(world, world.insured)
    assert not charges.self_pay_item(item)
    with pytest.raises(InvalidTransition, match="not an open charge entry for a self-pay session"):
        charges.charge_self_pay_session(item=item, actor=world.biller, now=NOW)
    assert db.session.scalars(select(LedgerEntry)).all() == []


def test_the_item_page_offers_the_charge_once(world: World, client, auth) -> None:  # noqa: ANN001
    item, insured = charge_item(world).id, charge_item(world, world.insured).id
    sign_in(auth, "biller@example.test")
    html = client.get(f"/items/{item}").get_data(as_text=True)
    assert "Self-pay charge" in html and "Charge the patient $160.00" in html
    token = csrf_token(html)
    assert client.post(f"/items/{item}/self-pay-charge", data={"csrf_token": token}).status_code == 303
    again = client.post(f"/items/{item}/self-pay-charge", data={"csrf_token": token}, follow_redirects=True)
    assert "not an open charge entry" in again.get_data(as_text=True)
    db.session.remove()
    assert [e.amount for e in db.session.scalars(select(LedgerEntry))] == [Decimal("160.00")]
    assert "Self-pay charge" not in client.get(f"/items/{insured}").get_data(as_text=True)
