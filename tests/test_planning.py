"""Chain planning: the pure planner's rules, then set-based planning of new sessions on the real database."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.automation.runner import AUTOMATION_JOB
from backoffice.extensions import db
from backoffice.intake.planning import pending_session_ids, plan_sessions
from backoffice.intake.rules import (
    AuthFacts,
    BenefitsFacts,
    PlanningFacts,
    filing_priority,
    fresh_days,
    plan_for,
)
from backoffice.patients.models import Authorization, BenefitsCheck
from backoffice.sessions.models import Session
from backoffice.tasks import get_queue
from backoffice.work.chains import create_chain
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import ItemState, Mode
from tests.factories import NOW, make_org, make_patient, make_payer, make_practice, make_provider, make_session

ALL = frozenset({"verify_benefits", "obtain_preauth", "enter_charge", "audit", "submit", "follow_up", "appeal"})
DOS = date(2026, 11, 16)


def facts(**kw: object) -> PlanningFacts:
    values: dict[str, object] = {
        "session_id": 1, "date_of_service": DOS, "owned_steps": ALL, "cpts": ("90837",), "payer_code": "AETNA",
        "payer_kind": "commercial", "prior_auth_cpts": frozenset(), "filing_limit_days": 90,
    }  # fmt: skip
    values.update(kw)
    return PlanningFacts(**values)  # type: ignore[arg-type]


def reason(plan, kind: str) -> str:  # noqa: ANN001
    return next(step.reason for step in plan.steps + plan.skipped if step.kind == kind)


# --- pure rules ---------------------------------------------------------------------------------------


def test_a_new_commercial_session_gets_the_full_chain_and_never_an_appeal() -> None:
    plan = plan_for(facts(), now=NOW)
    assert plan.kinds == ["verify_benefits", "enter_charge", "audit", "submit", "follow_up"]
    assert all(step.automated for step in plan.steps)
    assert reason(plan, "verify_benefits") == "no benefits record on file"


def test_fresh_benefits_skip_verification_with_the_date_and_window() -> None:
    check = BenefitsFacts(datetime(2026, 11, 10, 12, tzinfo=UTC), active=True)
    plan = plan_for(facts(benefits=check), now=NOW)
    assert "verify_benefits" not in plan.kinds
    assert reason(plan, "verify_benefits") == "skipped: benefits checked 2026-11-10 (fresh for 30 days)"


def test_stale_benefits_are_verified_again_automatically() -> None:
    check = BenefitsFacts(NOW - timedelta(days=31), active=True)
    plan = plan_for(facts(benefits=check), now=NOW)
    assert plan.steps[0].kind == "verify_benefits" and plan.steps[0].automated
    assert "older than 30 days" in plan.steps[0].reason


def test_the_practice_can_shorten_the_fresh_window() -> None:
    check = BenefitsFacts(NOW - timedelta(days=10), active=True)
    plan = plan_for(facts(benefits=check, overrides={"benefits_fresh_days": 7}), now=NOW)
    assert plan.kinds[0] == "verify_benefits"
    assert fresh_days({}) == 30
    with pytest.raises(ValueError, match="benefits_fresh_days"):
        fresh_days({"benefits_fresh_days": -1})


def test_an_inactive_last_check_needs_a_person() -> None:
    check = BenefitsFacts(NOW - timedelta(days=2), active=False)
    step = plan_for(facts(benefits=check), now=NOW).steps[0]
    assert (step.kind, step.automated) == ("verify_benefits", False)
    assert "inactive" in step.reason


def test_no_coverage_in_force_makes_verification_manual_and_skips_preauth() -> None:
    plan = plan_for(facts(payer_kind=None, payer_code=None, cpts=()), now=NOW)
    first = plan.steps[0]
    assert (first.kind, first.automated) == ("verify_benefits", False)
    assert "no coverage in force" in first.reason
    assert "obtain_preauth" not in plan.kinds


def test_preauth_is_planned_manual_when_the_payer_requires_it_and_nothing_covers_it() -> None:
    used_up = AuthFacts("7", frozenset({"90837"}), 0, date(2026, 1, 1), date(2026, 12, 31))
    plan = plan_for(facts(prior_auth_cpts=frozenset({"90837"}), authorizations=(used_up,)), now=NOW)
    assert plan.kinds[:2] == ["verify_benefits", "obtain_preauth"]
    step = plan.steps[1]
    assert not step.automated
    assert step.reason == "AETNA requires auth for 90837 and no authorization has units left"


def test_an_authorization_with_units_left_in_its_dates_skips_preauth() -> None:
    good = AuthFacts("8", frozenset({"90837"}), 3, date(2026, 10, 1), date(2026, 12, 31))
    plan = plan_for(facts(prior_auth_cpts=frozenset({"90837"}), authorizations=(good,)), now=NOW)
    assert "obtain_preauth" not in plan.kinds
    assert reason(plan, "obtain_preauth") == "skipped: authorized: 90837 (authorization 8, 3 left)"


def test_an_expired_or_other_code_authorization_does_not_count() -> None:
    expired = AuthFacts("1", frozenset({"90837"}), 5, date(2026, 1, 1), date(2026, 6, 30))
    other = AuthFacts("2", frozenset({"90834"}), 5, date(2026, 1, 1), date(2026, 12, 31))
    plan = plan_for(facts(prior_auth_cpts=frozenset({"90837"}), authorizations=(expired, other)), now=NOW)
    assert "obtain_preauth" in plan.kinds


def test_a_fresh_check_saying_auth_required_plans_preauth() -> None:
    check = BenefitsFacts(NOW - timedelta(days=1), active=True, auth_required=True)
    plan = plan_for(facts(benefits=check), now=NOW)
    assert plan.kinds[0] == "obtain_preauth"


def test_preauth_not_required_says_so() -> None:
    plan = plan_for(facts(prior_auth_cpts=frozenset({"90791"})), now=NOW)
    assert reason(plan, "obtain_preauth") == "skipped: AETNA requires no prior auth for 90837"


def test_only_the_steps_the_practice_owns_are_planned() -> None:
    plan = plan_for(facts(owned_steps=frozenset({"enter_charge", "submit"})), now=NOW)
    assert plan.kinds == ["enter_charge", "submit"]
    assert "the practice does this step itself" in reason(plan, "verify_benefits")


def test_self_pay_gets_only_the_charge() -> None:
    plan = plan_for(facts(payer_kind="self_pay", prior_auth_cpts=frozenset({"90837"})), now=NOW)
    assert plan.kinds == ["enter_charge"]
    assert reason(plan, "submit") == "skipped: self-pay session, no insurer to bill"
    assert plan.priority == 0


def test_coding_errors_make_charge_entry_manual() -> None:
    plan = plan_for(facts(coding_errors=("CODE-TIME-UNDER-16",)), now=NOW)
    step = next(s for s in plan.steps if s.kind == "enter_charge")
    assert not step.automated and "CODE-TIME-UNDER-16" in step.reason


def test_priority_rises_as_the_filing_deadline_nears() -> None:
    today = date(2026, 11, 18)
    assert filing_priority(date(2026, 11, 16), 90, today) == 0
    assert filing_priority(date(2026, 9, 15), 90, today) == 10  # deadline 2026-12-14: 26 days left
    assert filing_priority(date(2026, 9, 1), 90, today) == 30  # deadline 2026-11-30: 12 days left
    assert filing_priority(date(2026, 8, 25), 90, today) == 60  # deadline 2026-11-23: 5 days left
    assert filing_priority(date(2026, 11, 16), None, today) == 0


# --- set-based planning ------------------------------------------------------------------------------


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    org = make_org()
    practice = make_practice(org, owned_steps=sorted(ALL))
    payer = make_payer(org, payer_id="AETNA", prior_auth_cpts=["90837"])
    provider = make_provider(practice)
    return org, practice, payer, provider


def _items(session_id: int) -> dict[str, WorkItem]:
    return {i.kind: i for i in db.session.scalars(select(WorkItem).where(WorkItem.session_id == session_id))}


def test_plan_sessions_writes_chains_dependencies_logs_and_jobs(world, redis_conn) -> None:  # noqa: ANN001
    org, practice, payer, provider = world
    patient = make_patient(practice, payer)
    db.session.add(
        BenefitsCheck(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id, source="271",
                      checked_at=NOW - timedelta(days=3), active=True, copay=Decimal("20.00"))
    )  # fmt: skip
    db.session.commit()
    needs_auth = make_session(practice, provider, patient, minutes=55)  # 90837
    short = make_session(practice, provider, make_patient(practice, payer), minutes=40)  # 90834
    uninsured = make_session(practice, provider, make_patient(practice))
    assert pending_session_ids() == [needs_auth.id, short.id, uninsured.id]

    summary = plan_sessions(session_ids=[needs_auth.id, short.id, uninsured.id], now=NOW)

    assert (summary.planned, summary.already_planned) == (3, 0)
    first = _items(needs_auth.id)
    assert set(first) == {"obtain_preauth", "enter_charge", "audit", "submit", "follow_up"}  # benefits fresh
    assert first["obtain_preauth"].state == ItemState.READY and first["obtain_preauth"].mode == Mode.MANUAL
    assert first["obtain_preauth"].due_at == datetime(2026, 11, 20, 22, 0, tzinfo=UTC)  # 2 bd, 17:00 New York
    assert first["enter_charge"].state == ItemState.BLOCKED and first["enter_charge"].due_at is None
    assert first["follow_up"].state == ItemState.BLOCKED
    deps = set(db.session.execute(select(WorkItemDependency.item_id, WorkItemDependency.depends_on_id)).all())
    assert (first["enter_charge"].id, first["obtain_preauth"].id) in deps
    assert (first["follow_up"].id, first["submit"].id) in deps
    second = _items(short.id)
    assert list(second)[0] == "verify_benefits" and second["verify_benefits"].mode == Mode.AUTOMATED
    assert "obtain_preauth" not in second
    third = _items(uninsured.id)
    assert third["verify_benefits"].mode == Mode.MANUAL
    assert summary.items == 5 + 5 + 5
    assert summary.enqueued == 1  # only the automated ready head: verify_benefits of `short`
    jobs = get_queue("default", redis_conn).jobs
    assert [(job.func_name, list(job.args)) for job in jobs] == [(AUTOMATION_JOB, [second["verify_benefits"].id])]
    log = db.session.scalar(select(Interaction).where(Interaction.work_item_id == first["obtain_preauth"].id))
    assert (
        log.body
        == "Planned Obtain prior auth (manual): AETNA requires auth for 90837 and no authorization has units left"
    )
    skipped = db.session.scalar(
        select(Interaction).where(Interaction.session_id == needs_auth.id, Interaction.work_item_id.is_(None))
    )
    assert "benefits checked" in skipped.body
    assert pending_session_ids() == []
    assert set(db.session.scalars(select(Session.planned_at))) == {NOW}


def test_planning_twice_plans_nothing_twice(world, redis_conn) -> None:  # noqa: ANN001
    _, practice, payer, provider = world
    sessions = [make_session(practice, provider, make_patient(practice, payer)) for _ in range(3)]
    ids = [s.id for s in sessions]
    plan_sessions(session_ids=ids, now=NOW)
    count = db.session.scalar(select(func.count(WorkItem.id)))
    again = plan_sessions(session_ids=ids, now=NOW + timedelta(minutes=1))
    assert (again.planned, again.already_planned, again.items, again.enqueued) == (0, 3, 0, 0)
    assert db.session.scalar(select(func.count(WorkItem.id))) == count


def test_a_chain_planned_before_by_create_chain_is_kept(world, redis_conn) -> None:  # noqa: ANN001
    _, practice, payer, provider = world
    session = make_session(practice, provider, make_patient(practice, payer))
    create_chain(session=session, kinds=["enter_charge"], now=NOW)
    summary = plan_sessions(session_ids=[session.id], now=NOW)
    assert (summary.planned, summary.items) == (1, 0)
    assert list(_items(session.id)) == ["enter_charge"]
    assert db.session.scalar(select(Session.planned_at).where(Session.id == session.id)) == NOW


def test_an_authorization_with_units_on_file_skips_preauth_in_the_database(world, redis_conn) -> None:  # noqa: ANN001
    _, practice, payer, provider = world
    patient = make_patient(practice, payer)
    db.session.add(
        Authorization(patient_id=patient.id, payer_id=payer.id, number="A1", cpt_codes=["90837"], authorized=10,
                      used=4, start_date=date(2026, 1, 1), end_date=date(2026, 12, 31))
    )  # fmt: skip
    db.session.commit()
    session = make_session(practice, provider, patient, minutes=55)
    plan_sessions(session_ids=[session.id], now=NOW)
    assert "obtain_preauth" not in _items(session.id)


def test_self_pay_sessions_get_a_charge_only(world, redis_conn) -> None:  # noqa: ANN001
    org, practice, _, provider = world
    self_pay = make_payer(org, kind="self_pay")
    session = make_session(practice, provider, make_patient(practice, self_pay))
    summary = plan_sessions(session_ids=[session.id], now=NOW)
    assert list(_items(session.id)) == ["enter_charge"]
    assert summary.enqueued == 1


@pytest.mark.postgres
def test_two_planners_at_once_never_duplicate_items(app, world, redis_conn) -> None:  # noqa: ANN001
    _, practice, payer, provider = world
    ids = [make_session(practice, provider, make_patient(practice, payer)).id for _ in range(40)]
    db.session.remove()
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                results.append(plan_sessions(session_ids=ids, now=NOW))
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(r.planned for r in results) == 40
    dupes = db.session.execute(
        select(WorkItem.session_id, WorkItem.kind).group_by(WorkItem.session_id, WorkItem.kind)
        .having(func.count() > 1)
    ).all()  # fmt: skip
    assert dupes == []
    assert (
        db.session.scalar(select(func.count(WorkItem.id))) == 40 * 6
    )  # 53 minutes codes 90837, which AETNA authorizes
    assert db.session.scalar(select(func.count(Interaction.id)).where(Interaction.work_item_id.is_not(None))) == 240
