"""Routing services against the database: items that become ready are routed by the first matching rule, to a
queue, a person or a pool; every decision is logged; Get next orders by priority, deadline, dollars, family."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.routing import services as routing
from backoffice.routing.models import RoutingRule
from backoffice.work import chains, claiming, services
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState, Mode
from tests import factories as f

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    other_practice = f.make_practice(org, name="Harbor")
    medicaid = f.make_payer(org, name="Medicaid", kind="medicaid")
    aetna = f.make_payer(org, name="Aetna")
    priya = f.make_user(org, practices=[practice], name="Priya", skills=["medicaid"])
    marcus = f.make_user(org, practices=[practice], name="Marcus")
    harbor_only = f.make_user(org, practices=[other_practice], name="Hana", skills=["medicaid"])
    return {"org": org, "practice": practice, "other": other_practice, "medicaid": medicaid, "aetna": aetna,
            "priya": priya, "marcus": marcus, "hana": harbor_only}  # fmt: skip


def make_rule(org, **kw) -> RoutingRule:  # noqa: ANN001
    rule = RoutingRule(organization_id=org.id, name=kw.pop("name", "Rule"), created_at=NOW, updated_at=NOW,
                       user_ids=kw.pop("user_ids", []), **kw)  # fmt: skip
    db.session.add(rule)
    db.session.commit()
    return rule


def denial(w, *, family: str = "eligibility", payer=None, **kw) -> WorkItem:  # noqa: ANN001
    item, _ = chains.add_item(
        practice_id=kw.pop("practice", w["practice"]).id, kind="work_denial", now=kw.pop("now", NOW),
        reason="test denial", session_id=f.make_session(w["practice"]).id, payer_id=(payer or w["medicaid"]).id,
        denial_family=family, reason_code="CO-22", amount=kw.pop("amount", D("120.00")), **kw,
    )  # fmt: skip
    db.session.commit()
    return item


def assignment_logs(item: WorkItem) -> list[Interaction]:
    return list(
        db.session.scalars(
            select(Interaction)
            .where(Interaction.work_item_id == item.id, Interaction.kind == InteractionKind.ASSIGNMENT)
            .order_by(Interaction.id)
        )
    )


def open_items(user, count: int, practice) -> None:  # noqa: ANN001
    for item in f.make_ready_items(practice, count):
        item.assignee_id = user.id
    db.session.commit()


def test_without_rules_items_keep_their_default_queue_and_no_owner(world) -> None:  # noqa: ANN001
    item = denial(world)
    assert (item.queue, item.assignee_id) == ("denials", None)
    assert assignment_logs(item) == []


def test_a_person_rule_assigns_the_one_owner_and_logs_the_rule_and_reason(world) -> None:  # noqa: ANN001
    rule = make_rule(world["org"], name="Medicaid denials", payer_id=world["medicaid"].id, target_queue="medicaid",
                     distribution="person", target_user_id=world["priya"].id, required_skill="medicaid")  # fmt: skip
    item = denial(world)
    assert (item.queue, item.assignee_id, item.state) == ("medicaid", world["priya"].id, ItemState.READY)
    (log,) = assignment_logs(item)
    assert log.body == "Routed by rule 'Medicaid denials' (person: Priya)"
    assert log.actor_label == "router" and log.actor_user_id is None
    assert log.data["rule_id"] == rule.id and log.data["rule"] == "Medicaid denials"
    assert log.data["distribution"] == "person" and log.data["reason"] == "person: Priya"
    assert log.data["to_user_id"] == world["priya"].id
    # The other payer's denial does not match.
    assert denial(world, payer=world["aetna"]).assignee_id is None


def test_the_first_active_rule_by_position_wins(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="Inactive first", position=1, active=False, target_queue="never")
    make_rule(world["org"], name="Broad", position=50, target_queue="broad")
    make_rule(world["org"], name="Eligibility", position=20, denial_family="eligibility", target_queue="elig")
    assert denial(world).queue == "elig"
    assert denial(world, family="coding").queue == "broad"


def test_round_robin_cycles_through_the_pool_and_skips_a_deactivated_person(world) -> None:  # noqa: ANN001
    third = f.make_user(world["org"], practices=[world["practice"]], name="Zoe")
    ids = sorted([world["priya"].id, world["marcus"].id, third.id])
    rule = make_rule(world["org"], name="Aetna RR", payer_id=world["aetna"].id, distribution="round_robin",
                     user_ids=ids)  # fmt: skip
    got = [denial(world, payer=world["aetna"]).assignee_id for _ in range(4)]
    assert got == [ids[0], ids[1], ids[2], ids[0]]
    db.session.refresh(rule)
    assert rule.last_assigned_user_id == ids[0]
    db.session.get(type(third), ids[1]).active = False
    db.session.commit()
    got = [denial(world, payer=world["aetna"]).assignee_id for _ in range(3)]
    assert got == [ids[2], ids[0], ids[2]]


def test_a_router_with_a_stale_cursor_does_not_pick_from_it(world) -> None:  # noqa: ANN001
    ids = sorted([world["priya"].id, world["marcus"].id])
    rule = make_rule(world["org"], distribution="round_robin", user_ids=ids)
    assert routing._move_cursor(rule.id, None, ids[0]) is True
    assert routing._move_cursor(rule.id, None, ids[1]) is False  # someone moved it since we read None
    db.session.commit()
    assert denial(world).assignee_id == ids[1]


def test_least_loaded_picks_the_person_with_fewest_open_items_and_says_so(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="Denials – Aetna", payer_id=world["aetna"].id, distribution="least_loaded",
              user_ids=[world["priya"].id, world["marcus"].id])  # fmt: skip
    open_items(world["priya"], 3, world["practice"])
    open_items(world["marcus"], 5, world["practice"])
    item = denial(world, payer=world["aetna"])
    assert item.assignee_id == world["priya"].id
    (log,) = assignment_logs(item)
    assert log.body == "Routed by rule 'Denials – Aetna' (least loaded: Priya 3 open vs Marcus 5)"


def test_an_unqualified_person_is_never_chosen_and_the_log_says_why(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="To Hana", distribution="person", target_user_id=world["hana"].id)
    item = denial(world)
    assert item.assignee_id is None and item.queue == "denials"
    (log,) = assignment_logs(item)
    assert "Hana does not serve the practice" in log.body and "left in queue denials" in log.body


def test_an_empty_pool_leaves_the_item_in_the_queue_with_the_reason(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="Spanish", distribution="least_loaded", required_skill="spanish",
              target_queue="spanish")  # fmt: skip
    item = denial(world)
    assert (item.queue, item.assignee_id) == ("spanish", None)
    assert "pool empty" in assignment_logs(item)[0].data["reason"]


def test_automated_items_are_not_routed_until_handed_to_a_person(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="Appeals to Priya", kind="appeal", distribution="person",
              target_user_id=world["priya"].id)  # fmt: skip
    item, _ = chains.add_item(practice_id=world["practice"].id, kind="appeal", now=NOW, reason="draft",
                                session_id=f.make_session(world["practice"]).id, mode=Mode.AUTOMATED)  # fmt: skip
    db.session.commit()
    assert item.assignee_id is None and assignment_logs(item) == []
    services.hand_over_to_manual(item=item, now=NOW, reason="letter needs a person", source="automation")
    assert (item.mode, item.assignee_id) == (Mode.MANUAL, world["priya"].id)
    assert len(assignment_logs(item)) == 1


def test_a_released_dependent_is_routed(world) -> None:  # noqa: ANN001
    make_rule(world["org"], name="Charges to Marcus", kind="enter_charge", distribution="person",
              target_user_id=world["marcus"].id)  # fmt: skip
    session = f.make_session(world["practice"])
    first, second = chains.create_chain(session=session, kinds=["verify_benefits", "enter_charge"], now=NOW)
    assert first.assignee_id is None and second.state == ItemState.BLOCKED and second.assignee_id is None
    services.complete_item(item=first, actor=world["priya"], now=NOW)
    db.session.refresh(second)
    assert (second.state, second.assignee_id) == (ItemState.READY, world["marcus"].id)
    assert assignment_logs(second)[0].body == "Routed by rule 'Charges to Marcus' (person: Marcus)"


def test_an_item_about_a_claim_carries_its_payer_and_open_balance(world) -> None:  # noqa: ANN001
    patient = f.make_patient(world["practice"], world["aetna"])
    claim = Claim(practice_id=world["practice"].id, patient_id=patient.id, payer_id=world["aetna"].id,
                  account_number="ACC-R1", total_charge=D("200.00"), paid_amount=D("90.00"),
                  adjustment_amount=D("30.00"), patient_responsibility=D("20.00"), created_at=NOW)  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    item, _ = chains.add_item(practice_id=world["practice"].id, kind="fix_rejection", now=NOW, reason="x",
                                claim_id=claim.id)  # fmt: skip
    db.session.commit()
    assert (item.payer_id, item.amount) == (world["aetna"].id, D("60.00"))


def test_create_chain_records_the_primary_payer(world) -> None:  # noqa: ANN001
    patient = f.make_patient(world["practice"], world["medicaid"])
    session = f.make_session(world["practice"], patient=patient)
    (item,) = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW)
    assert item.payer_id == world["medicaid"].id


def test_the_rules_are_read_once_per_transaction(world, monkeypatch) -> None:  # noqa: ANN001
    make_rule(world["org"], target_queue="x")
    calls = []
    original = routing.as_rule
    monkeypatch.setattr(routing, "as_rule", lambda row: calls.append(row.id) or original(row))
    routing.active_rules(world["org"].id)
    routing.active_rules(world["org"].id)
    assert len(calls) == 1
    db.session.commit()
    routing.active_rules(world["org"].id)
    assert len(calls) == 2


# --- Get next order --------------------------------------------------------------------------------------


def ready(w, **values) -> WorkItem:  # noqa: ANN001, ANN003
    (item,) = f.make_ready_items(w["practice"], 1)
    for name, value in values.items():
        setattr(item, name, value)
    db.session.commit()
    return item


def claimed_order(w, count: int) -> list[int]:  # noqa: ANN001
    return [claiming.claim_next_item(user=w["priya"], now=NOW).id for _ in range(count)]


def test_get_next_takes_priority_first_then_the_earliest_deadline(world) -> None:  # noqa: ANN001
    due = NOW + timedelta(days=1)
    late_rich = ready(world, due_at=due + timedelta(days=3), amount=D("900"))
    soon_poor = ready(world, due_at=due, amount=D("10"))
    urgent = ready(world, due_at=due + timedelta(days=9), priority=50)
    no_deadline = ready(world, due_at=None, amount=D("5000"))
    assert claimed_order(world, 4) == [urgent.id, soon_poor.id, late_rich.id, no_deadline.id]


def test_with_the_same_deadline_more_dollars_come_first_and_no_amount_last(world) -> None:  # noqa: ANN001
    due = NOW + timedelta(days=1)
    unknown = ready(world, due_at=due, amount=None)
    small = ready(world, due_at=due, amount=D("50"), denial_family="coding")
    big = ready(world, due_at=due, amount=D("500"), denial_family="timely_filing")
    assert claimed_order(world, 3) == [big.id, small.id, unknown.id]


def test_with_the_same_deadline_and_dollars_the_more_recoverable_family_comes_first(world) -> None:  # noqa: ANN001
    due = NOW + timedelta(days=1)
    not_denial = ready(world, due_at=due, amount=D("100"))
    timely = ready(world, due_at=due, amount=D("100"), denial_family="timely_filing")
    auth = ready(world, due_at=due, amount=D("100"), denial_family="authorization")
    coding = ready(world, due_at=due, amount=D("100"), denial_family="coding")
    assert claimed_order(world, 4) == [coding.id, auth.id, timely.id, not_denial.id]


def test_an_item_routed_to_one_biller_is_not_handed_to_another(world) -> None:  # noqa: ANN001
    make_rule(world["org"], distribution="person", target_user_id=world["marcus"].id)
    item = denial(world)
    assert claiming.claim_next_item(user=world["priya"], now=NOW) is None
    assert claiming.claim_next_item(user=world["marcus"], now=NOW).id == item.id


def test_entering_the_charge_prices_the_sessions_open_items(ctx) -> None:  # noqa: ANN001
    from backoffice.claims.services import enter_charge  # noqa: PLC0415
    from tests.test_charge_entry import DOS, FEES, TODAY  # noqa: PLC0415

    org = f.make_org()
    practice = f.make_practice(org, fee_schedule=FEES)
    payer = f.make_payer(org, payer_id="AETNA")
    provider = f.make_provider(practice, npi="1234567893", credential="LCSW")
    session = f.make_session(practice, provider, f.make_patient(practice, payer), date_of_service=DOS, minutes=53,
                             diagnoses=["F33.1"])  # fmt: skip
    first, later = chains.create_chain(session=session, kinds=["enter_charge", "submit"], now=NOW)
    assert first.payer_id == payer.id and first.amount is None
    claim = enter_charge(session=session, now=NOW, today=TODAY)
    assert claim.total_charge == D("200.00")  # 53 minutes: 90837
    for item in (first, later):
        db.session.refresh(item)
        assert (item.amount, item.payer_id) == (D("200.00"), payer.id)


def test_the_planner_routes_a_ready_manual_head_and_leaves_blocked_steps_alone(world, redis_conn) -> None:  # noqa: ANN001
    from backoffice.intake.planning import plan_sessions  # noqa: PLC0415

    make_rule(world["org"], name="Everything to Marcus", distribution="person", target_user_id=world["marcus"].id)
    session = f.make_session(world["practice"])  # no coverage in force: a person verifies benefits
    plan_sessions(session_ids=[session.id], now=NOW)
    items = list(db.session.scalars(select(WorkItem).where(WorkItem.session_id == session.id).order_by(WorkItem.id)))
    head = next(i for i in items if i.state == ItemState.READY)
    assert head.mode == Mode.MANUAL and head.assignee_id == world["marcus"].id
    assert all(i.assignee_id is None for i in items if i.state == ItemState.BLOCKED)
    (log,) = assignment_logs(head)
    assert log.body == "Routed by rule 'Everything to Marcus' (person: Marcus)" and log.session_id == session.id


def test_the_preview_takes_turns_like_routing_would_and_changes_nothing(world) -> None:  # noqa: ANN001
    from backoffice.routing.queries import preview  # noqa: PLC0415

    ids = sorted([world["priya"].id, world["marcus"].id])
    f.make_ready_items(world["practice"], 3)  # before the rule: waiting, unassigned
    rule = make_rule(world["org"], name="RR", kind="verify_benefits", distribution="round_robin", user_ids=ids)
    supervisor = f.make_user(world["org"], role="supervisor")
    rows = preview(rule, supervisor)
    assert [row.decision.assignee_id for row in rows] == [ids[0], ids[1], ids[0]]
    db.session.refresh(rule)
    assert rule.last_assigned_user_id is None
    assert all(i.assignee_id is None for i in db.session.scalars(select(WorkItem)))


def test_a_saved_rule_keeps_skill_and_queue_in_lower_case_like_peoples(world) -> None:  # noqa: ANN001
    supervisor = f.make_user(world["org"], role="supervisor")
    values = {"name": "Medicaid", "distribution": "least_loaded", "required_skill": " Medicaid "}
    values["target_queue"] = "Denials"
    rule = routing.save_rule(actor=supervisor, now=NOW, values=values)
    assert (rule.required_skill, rule.target_queue) == ("medicaid", "denials")
    assert denial(world).assignee_id == world["priya"].id  # the only one with skill "medicaid"
