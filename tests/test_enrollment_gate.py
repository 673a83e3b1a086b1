"""Credentialing gates billing: a session whose rendering provider is not enrolled (effective) with the payer on the
date of service is planned with an await-enrolment step before submission; the claim waits with its filing deadline
as due date, and an enrolment that becomes effective (retroactively too) releases it to submission, logged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from backoffice.automation.runner import run_automated_item
from backoffice.clock import utcnow
from backoffice.credentialing.rules import EnrollmentFacts, enrolled_on, expiry_stage, hold_reason
from backoffice.credentialing.services import (
    EnrollmentInput,
    provider_input,
    save_enrollment,
    update_provider,
    watch_credential_expiries,
)
from backoffice.extensions import db
from backoffice.intake.planning import plan_sessions
from backoffice.intake.rules import PlanningFacts, plan_for
from backoffice.work.models import Interaction, WorkItem, WorkItemDependency
from backoffice.work.rules import ItemState, Mode
from backoffice.work.services import complete_item
from tests.factories import NOW, make_org, make_patient, make_payer, make_practice, make_provider, make_session

DOS = date(2026, 11, 16)
ALL = frozenset({"verify_benefits", "enter_charge", "audit", "submit", "follow_up"})


# --- pure rules ---------------------------------------------------------------------------------------


def test_a_provider_is_enrolled_only_from_its_effective_date_and_before_its_termination() -> None:
    effective = EnrollmentFacts("effective", date(2026, 11, 1), None)
    assert enrolled_on(effective, date(2026, 11, 1)) and enrolled_on(effective, date(2027, 5, 1))
    assert not enrolled_on(effective, date(2026, 10, 31))
    ended = EnrollmentFacts("terminated", date(2026, 1, 1), date(2026, 11, 1))
    assert enrolled_on(ended, date(2026, 10, 31)) and not enrolled_on(ended, date(2026, 11, 1))
    for status in ("not_started", "submitted", "pending", "denied"):
        assert not enrolled_on(EnrollmentFacts(status, date(2026, 1, 1), None), DOS)
    assert not enrolled_on(None, DOS)


def test_a_claim_is_held_only_when_the_payer_requires_enrolment() -> None:
    pending = EnrollmentFacts("pending", None, None)
    assert hold_reason(pending, DOS, required=False, payer_code="AETNA") is None
    assert "pending" in (hold_reason(pending, DOS, required=True, payer_code="AETNA") or "")
    assert "no enrolment" in (hold_reason(None, DOS, required=True, payer_code="AETNA") or "")
    later = EnrollmentFacts("effective", date(2026, 12, 1), None)
    assert "effective only from 2026-12-01" in (hold_reason(later, DOS, required=True, payer_code="AETNA") or "")


def _facts(**kw: object) -> PlanningFacts:
    values: dict[str, object] = {
        "session_id": 1, "date_of_service": DOS, "owned_steps": ALL, "cpts": ("90834",), "payer_code": "AETNA",
        "payer_kind": "commercial", "filing_limit_days": 90,
    }  # fmt: skip
    values.update(kw)
    return PlanningFacts(**values)  # type: ignore[arg-type]


def test_the_planner_puts_await_enrolment_between_audit_and_submission() -> None:
    plan = plan_for(_facts(enrollment_hold="enrolment with AETNA is pending"), now=NOW)
    assert plan.kinds == ["verify_benefits", "enter_charge", "audit", "await_enrollment", "submit", "follow_up"]
    assert plan_for(_facts(), now=NOW).kinds == ["verify_benefits", "enter_charge", "audit", "submit", "follow_up"]


def test_no_hold_when_we_do_not_submit_or_the_session_is_self_pay() -> None:
    held = "enrolment with AETNA is pending"
    assert "await_enrollment" not in plan_for(_facts(enrollment_hold=held, owned_steps=ALL - {"submit"}), now=NOW).kinds
    assert plan_for(_facts(enrollment_hold=held, payer_kind="self_pay"), now=NOW).kinds == ["enter_charge"]


@pytest.mark.parametrize(
    ("days", "stage"), [(91, None), (90, 90), (61, 90), (60, 60), (31, 60), (30, 30), (1, 30), (-5, 30)]
)
def test_expiry_reminders_fall_at_90_60_and_30_days(days: int, stage: int | None) -> None:
    today = date(2026, 11, 18)
    assert expiry_stage(today + timedelta(days=days), today) == stage
    assert expiry_stage(None, today) is None


# --- on the database ----------------------------------------------------------------------------------


def _world(*, required: bool = True) -> dict[str, object]:
    org = make_org()
    practice = make_practice(org)
    provider = make_provider(practice)
    payer = make_payer(org, payer_id="AETNA", enrollment_required_837=required)
    patient = make_patient(practice, payer)
    session = make_session(practice, provider, patient, date_of_service=DOS)
    return {"org": org, "practice": practice, "provider": provider, "payer": payer, "session": session}


def _items(session_id: int) -> dict[str, WorkItem]:
    rows = db.session.scalars(select(WorkItem).where(WorkItem.session_id == session_id).execution_options(
        populate_existing=True))  # fmt: skip
    return {item.kind: item for item in rows}


def _enrol(w: dict[str, object], status: str, effective_from: date | None = None) -> None:
    save_enrollment(
        practice=w["practice"],
        provider=w["provider"],
        payer=w["payer"],  # type: ignore[arg-type]
        data=EnrollmentInput(status=status, effective_from=effective_from),
        actor=None,
        now=utcnow(),
    )


def _to_the_hold(session_id: int) -> WorkItem:
    """Finish the steps before the hold (as their automation would) and return the await-enrolment item."""
    for kind in ("verify_benefits", "enter_charge", "audit"):
        complete_item(item=_items(session_id)[kind], actor=None, actor_label="test", now=utcnow())
    return _items(session_id)["await_enrollment"]


def test_a_session_whose_provider_is_not_enrolled_is_held_before_submission(ctx) -> None:  # noqa: ANN001
    w = _world()
    _enrol(w, "pending")
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    items = _items(w["session"].id)  # type: ignore[attr-defined]
    assert set(items) == {"verify_benefits", "enter_charge", "audit", "await_enrollment", "submit", "follow_up"}
    hold, submit = items["await_enrollment"], items["submit"]
    assert db.session.get(WorkItemDependency, (submit.id, hold.id)) is not None
    assert db.session.get(WorkItemDependency, (hold.id, items["audit"].id)) is not None
    planned = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == hold.id))
    assert "enrolment with AETNA is pending" in planned

    hold = _to_the_hold(w["session"].id)  # type: ignore[attr-defined]
    assert hold.state == ItemState.READY and hold.mode == Mode.AUTOMATED
    # The held item is due on the claim's filing deadline: 90 days from 2026-11-16 is Sunday 2027-02-14, and
    # Monday 2027-02-15 is Presidents' Day, so Tuesday 2027-02-16 at 17:00 New York.
    assert hold.due_at == datetime(2027, 2, 16, 22, 0, tzinfo=UTC) and hold.sla_policy == "filing-deadline"
    assert run_automated_item(hold.id, now=utcnow())["status"] == "deferred"
    hold = _items(w["session"].id)["await_enrollment"]  # type: ignore[attr-defined]
    assert hold.state == ItemState.SNOOZED
    assert _items(w["session"].id)["submit"].state == ItemState.BLOCKED  # type: ignore[attr-defined]
    waiting = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == hold.id)).all()
    assert any("filing deadline 2027-02-16 (90 days left)" in body for body in waiting)


def test_an_effective_enrolment_releases_the_held_claim_to_submission(ctx) -> None:  # noqa: ANN001
    w = _world()
    _enrol(w, "submitted")
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    hold = _to_the_hold(w["session"].id)  # type: ignore[attr-defined]
    run_automated_item(hold.id, now=utcnow())
    _enrol(w, "effective", date(2026, 11, 1))
    hold = _items(w["session"].id)["await_enrollment"]  # type: ignore[attr-defined]
    assert hold.state == ItemState.READY  # woken at once, in the enrolment's transaction
    logged = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == hold.id)).all()
    assert "Enrolment with AETNA effective from 2026-11-01: held claim released" in logged
    assert run_automated_item(hold.id, now=utcnow())["status"] == "done"
    items = _items(w["session"].id)  # type: ignore[attr-defined]
    assert items["await_enrollment"].state == ItemState.DONE
    assert items["submit"].state == ItemState.READY


def test_a_retroactive_effective_date_releases_and_a_later_one_does_not(ctx, clock_pin) -> None:  # noqa: ANN001
    w = _world()
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    hold = _to_the_hold(w["session"].id)  # type: ignore[attr-defined]
    run_automated_item(hold.id, now=utcnow())
    clock_pin.advance(days=20)
    _enrol(w, "effective", date(2026, 12, 1))  # effective, but only after the date of service
    assert _items(w["session"].id)["await_enrollment"].state == ItemState.SNOOZED  # type: ignore[attr-defined]
    _enrol(w, "effective", date(2026, 10, 1))  # the payer back-dates it: now it covers the session
    hold = _items(w["session"].id)["await_enrollment"]  # type: ignore[attr-defined]
    assert hold.state == ItemState.READY
    assert run_automated_item(hold.id, now=utcnow())["status"] == "done"
    assert _items(w["session"].id)["submit"].state == ItemState.READY  # type: ignore[attr-defined]


def test_a_payer_that_does_not_require_enrolment_holds_nothing(ctx) -> None:  # noqa: ANN001
    w = _world(required=False)
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    assert "await_enrollment" not in _items(w["session"].id)  # type: ignore[attr-defined]


def test_an_enrolment_effective_on_the_date_of_service_holds_nothing(ctx) -> None:  # noqa: ANN001
    w = _world()
    _enrol(w, "effective", DOS)
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    assert "await_enrollment" not in _items(w["session"].id)  # type: ignore[attr-defined]


def test_a_claim_still_held_two_weeks_before_its_deadline_goes_to_a_person_and_is_released_too(
    ctx,
    clock_pin,  # noqa: ANN001
) -> None:
    w = _world()
    plan_sessions(session_ids=[w["session"].id], now=utcnow())  # type: ignore[attr-defined]
    hold = _to_the_hold(w["session"].id)  # type: ignore[attr-defined]
    clock_pin.set(datetime(2027, 2, 5, 15, 0, tzinfo=UTC))
    assert run_automated_item(hold.id, now=utcnow())["status"] == "handed_over"
    hold = _items(w["session"].id)["await_enrollment"]  # type: ignore[attr-defined]
    assert hold.mode == Mode.MANUAL and hold.state == ItemState.READY
    assert "filing deadline 2027-02-16" in (hold.last_error or "")
    _enrol(w, "effective", date(2026, 11, 1))
    items = _items(w["session"].id)  # type: ignore[attr-defined]
    assert items["await_enrollment"].state == ItemState.DONE
    assert items["submit"].state == ItemState.READY


# --- the 90/60/30-day expiry watch (pinned clock) --------------------------------------------------------


def _renewals(provider_id: int) -> list[WorkItem]:
    return list(
        db.session.scalars(
            select(WorkItem)
            .where(WorkItem.provider_id == provider_id, WorkItem.kind == "renew_credential")
            .order_by(WorkItem.id)
            .execution_options(populate_existing=True)
        )
    )


def test_a_licence_gets_a_renewal_item_90_days_out_raised_at_60_and_a_new_one_at_30(ctx, clock_pin) -> None:  # noqa: ANN001
    practice = make_practice(make_org())
    today = utcnow().date()  # 2026-11-18, pinned
    provider = make_provider(practice, license_type="LCSW", license_number="LCSW-123", license_state="NY",
                             license_expires_on=today + timedelta(days=91))  # fmt: skip
    assert watch_credential_expiries(now=utcnow())["items_created"] == 0  # 91 days: too early
    clock_pin.advance(days=1)
    assert watch_credential_expiries(now=utcnow())["items_created"] == 1
    assert watch_credential_expiries(now=utcnow())["items_created"] == 0  # idempotent
    (first,) = _renewals(provider.id)
    assert first.queue == "credentialing" and "90-day reminder" in db.session.scalar(
        select(Interaction.body).where(Interaction.work_item_id == first.id)
    )
    assert first.due_at is not None and first.due_at.date() == provider.license_expires_on
    clock_pin.advance(days=30)  # 60 days left, the first item still open: raised, not duplicated
    assert watch_credential_expiries(now=utcnow()) == {"items_created": 0, "items_raised": 1}
    assert [i.priority for i in _renewals(provider.id)] == [10]
    complete_item(item=_renewals(provider.id)[0], actor=None, actor_label="test", now=utcnow())
    clock_pin.advance(days=30)  # 30 days left and the earlier item was closed without a renewal: a new item
    assert watch_credential_expiries(now=utcnow())["items_created"] == 1
    assert [i.priority for i in _renewals(provider.id)] == [10, 30]


def test_renewing_the_licence_closes_its_open_reminder(ctx, clock_pin) -> None:  # noqa: ANN001
    practice = make_practice(make_org())
    provider = make_provider(practice, license_type="LPC", license_number="LPC-9", license_state="NY",
                             license_expires_on=utcnow().date() + timedelta(days=30))  # fmt: skip
    watch_credential_expiries(now=utcnow())
    data = provider_input(provider, license_expires_on=utcnow().date() + timedelta(days=730))
    update_provider(provider=provider, data=data, actor=None, now=utcnow())
    (item,) = _renewals(provider.id)
    assert item.state == ItemState.DONE and item.result["resolved_by"] == "licence date changed"


def test_enrolment_revalidation_and_caqh_reattestation_get_reminders(ctx) -> None:  # noqa: ANN001
    w = _world()
    today = utcnow().date()
    save_enrollment(practice=w["practice"], provider=w["provider"], payer=w["payer"], actor=None, now=utcnow(),  # type: ignore[arg-type]
                    data=EnrollmentInput(status="effective", effective_from=date(2026, 1, 1),
                                         revalidation_due=today + timedelta(days=60),
                                         caqh_reattestation_due=today + timedelta(days=10)))  # fmt: skip
    assert watch_credential_expiries(now=utcnow())["items_created"] == 2
    items = _renewals(w["provider"].id)  # type: ignore[attr-defined]
    assert sorted(i.priority for i in items) == [10, 30]
    assert {i.payer_id for i in items} == {w["payer"].id}  # type: ignore[attr-defined]
