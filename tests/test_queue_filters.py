"""Queue filters: kind, practice, payer, due, amount range and queue, parsed from GET parameters (bad values
reported by field and ignored), applied in SQL to My queue and the team queue, kept in the page's form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backoffice.extensions import db
from backoffice.work import queries
from backoffice.work.queries import QueueFilter
from tests import factories as f
from tests.conftest import AuthActions

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
NY = ZoneInfo("America/New_York")
D = Decimal


@pytest.fixture
def world(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    calm, harbor = f.make_practice(org, name="Calm"), f.make_practice(org, name="Harbor")
    aetna, cigna = f.make_payer(org, name="Aetna"), f.make_payer(org, name="Cigna")
    biller = f.make_user(org, practices=[calm])
    supervisor = f.make_user(org, role="supervisor")
    return {"org": org, "calm": calm, "harbor": harbor, "aetna": aetna, "cigna": cigna, "biller": biller,
            "supervisor": supervisor}  # fmt: skip


def item(practice, **values):  # noqa: ANN001, ANN003, ANN201
    (made,) = f.make_ready_items(practice, 1, kind=values.pop("kind", "verify_benefits"))
    for name, value in values.items():
        setattr(made, name, value)
    db.session.commit()
    return made


def ids(items) -> list[int]:  # noqa: ANN001
    return sorted(i.id for i in items)


def test_good_parameters_parse_and_round_trip_as_link_arguments(world) -> None:  # noqa: ANN001
    args = {"kind": "work_denial", "practice": str(world["calm"].id), "payer": str(world["aetna"].id), "due": "week",
            "amount_min": "$1,000", "amount_max": "2500.5", "queue": "denials"}  # fmt: skip
    parsed, errors = queries.parse_filter(args, world["biller"])
    assert errors == []
    assert parsed == QueueFilter("work_denial", world["calm"].id, world["aetna"].id, "week", D("1000.00"),
                                 D("2500.50"), "denials")  # fmt: skip
    assert queries.parse_filter(parsed.args(), world["biller"]) == (parsed, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"kind": "surgery"}, "kind: unknown work kind 'surgery'"),
        ({"practice": "abc"}, "practice: expected a practice id, got 'abc'"),
        ({"payer": "-1"}, "payer: expected a payer id, got '-1'"),
        ({"payer": "999999"}, "payer: not a payer of your organization"),
        ({"due": "yesterday"}, "due: expected one of overdue, today, week"),
        ({"amount_min": "lots"}, "amount from: 'lots' is not an amount"),
        ({"amount_max": "-5"}, "amount to: between 0 and 10,000,000"),
        ({"amount_max": "NaN"}, "amount to: 'NaN' is not an amount"),
        ({"amount_min": "500", "amount_max": "100"}, "amount: 'from' is more than 'to'"),
    ],
)
def test_a_bad_value_is_reported_by_field_and_left_out(world, args, message) -> None:  # noqa: ANN001
    parsed, errors = queries.parse_filter({**args, "queue": "denials"}, world["biller"])
    assert errors == [message]
    assert parsed == QueueFilter(queue="denials")  # the good part of the filter still applies


def test_a_practice_the_biller_does_not_serve_is_refused(world) -> None:  # noqa: ANN001
    parsed, errors = queries.parse_filter({"practice": str(world["harbor"].id)}, world["biller"])
    assert errors == ["practice: not one of your practices"] and parsed.practice_id is None
    assert queries.parse_filter({"practice": str(world["harbor"].id)}, world["supervisor"])[1] == []


def test_each_filter_narrows_the_team_queue(world) -> None:  # noqa: ANN001
    calm, harbor = world["calm"], world["harbor"]
    a = item(calm, payer_id=world["aetna"].id, amount=D("100"), due_at=NOW - timedelta(hours=1))
    b = item(calm, payer_id=world["cigna"].id, amount=D("900"), due_at=NOW + timedelta(hours=3))
    c = item(harbor, kind="enter_charge", amount=None, due_at=NOW + timedelta(days=2))
    d = item(harbor, payer_id=world["aetna"].id, amount=D("400"), due_at=NOW + timedelta(days=9), queue="aetna")
    sup = world["supervisor"]

    def team(**kw) -> list[int]:  # noqa: ANN003
        return ids(queries.team_items(sup, filters=QueueFilter(**kw), now=NOW, tz=NY))

    assert team() == ids([a, b, c, d])
    assert team(kind="enter_charge") == [c.id]
    assert team(practice_id=calm.id) == ids([a, b])
    assert team(payer_id=world["aetna"].id) == ids([a, d])
    assert team(due="overdue") == [a.id]
    assert team(due="today") == [b.id]  # due before midnight in New York, not yet overdue
    assert team(due="week") == ids([b, c])  # through Sunday; d is due next week
    assert team(amount_min=D("400")) == ids([b, d])
    assert team(amount_min=D("100"), amount_max=D("400")) == ids([a, d])
    assert team(queue="aetna") == [d.id]
    assert team(practice_id=calm.id, amount_min=D("500")) == [b.id]


def test_my_queue_is_filtered_too(world) -> None:  # noqa: ANN001
    mine = item(world["calm"], assignee_id=world["biller"].id, amount=D("50"))
    item(world["calm"], assignee_id=world["biller"].id, amount=D("5000"))
    got = queries.my_items(world["biller"], filters=QueueFilter(amount_max=D("100")), now=NOW, tz=NY)
    assert ids(got) == [mine.id]


def test_due_windows_end_at_local_midnight_and_sunday(world) -> None:  # noqa: ANN001
    assert queries.due_window_end("today", NOW, NY) == datetime(2026, 11, 19, tzinfo=NY)
    assert queries.due_window_end("week", NOW, NY) == datetime(2026, 11, 23, tzinfo=NY)


def _view_world(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        calm = f.make_practice(org, name="Calm Mind")
        payer = f.make_payer(org, name="Aetna")
        f.make_user(org, practices=[calm], email="biller@example.test")
        cheap, dear = f.make_ready_items(calm, 2)
        cheap.amount, dear.amount, dear.payer_id = D("20"), D("800"), payer.id
        db.session.commit()
        return {"cheap": cheap.id, "dear": dear.id, "payer": payer.id}


def test_the_queue_page_filters_and_keeps_the_values_in_its_form(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids_ = _view_world(app)
    auth.login("biller@example.test")
    html = client.get(f"/queue?amount_min=100&payer={ids_['payer']}").get_data(as_text=True)
    assert f"#{ids_['dear']}" in html and f"#{ids_['cheap']}" not in html
    assert 'name="amount_min" value="100.00"' in html and f'<option value="{ids_["payer"]}" selected>Aetna' in html
    assert "$800.00" in html and "Clear filters" in html


def test_bad_filter_values_flash_a_clear_message_not_a_500(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids_ = _view_world(app)
    auth.login("biller@example.test")
    response = client.get("/queue?amount_min=abc&due=soon&kind=%3Cscript%3E")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Filter ignored: amount from: &#39;abc&#39; is not an amount" in html
    assert "Filter ignored: due: expected one of overdue, today, week" in html
    assert "<script>" not in html
    assert f"#{ids_['dear']}" in html and f"#{ids_['cheap']}" in html  # nothing applied from the bad values


def test_the_team_queue_lists_by_priority_then_due_date_across_practices_and_states(world) -> None:  # noqa: ANN001
    calm, harbor = world["calm"], world["harbor"]
    day = timedelta(days=1)
    low_soon = item(harbor, priority=0, due_at=NOW + day)
    high_late = item(calm, priority=7, due_at=NOW + 5 * day)
    high_soon = item(harbor, priority=7, due_at=NOW + 2 * day)
    mid_snoozed = item(calm, priority=3, due_at=NOW + day, state="snoozed", snoozed_until=NOW + 3 * day)
    low_no_due = item(calm, priority=0, due_at=None)
    expected = [high_soon.id, high_late.id, mid_snoozed.id, low_soon.id, low_no_due.id]
    sup = world["supervisor"]
    assert [i.id for i in queries.team_items(sup, now=NOW, tz=NY)] == expected
    for limit in (1, 2, 3, 4):  # a page that ends inside a priority or right after one
        assert [i.id for i in queries.team_items(sup, limit=limit, now=NOW, tz=NY)] == expected[:limit]


def test_the_queue_page_shows_50_rows_first_and_a_link_for_200_that_keeps_the_filter(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        org = f.make_org()
        calm = f.make_practice(org, name="Calm Mind")
        f.make_user(org, practices=[calm], email="biller@example.test")
        f.make_ready_items(calm, 55)
    auth.login("biller@example.test")
    html = client.get("/queue?kind=verify_benefits").get_data(as_text=True)
    assert html.count('class="sla-') == 50 and "Showing the first 50." in html
    assert 'href="/queue?kind=verify_benefits&amp;more=1"' in html
    more = client.get("/queue?kind=verify_benefits&more=1").get_data(as_text=True)
    assert more.count('class="sla-') == 55 and "Showing the first" not in more


def test_assignable_users_are_the_active_people_who_serve_the_items_practice(world) -> None:  # noqa: ANN001
    (waiting,) = f.make_ready_items(world["calm"], 1)
    f.make_user(world["org"], practices=[world["calm"]], active=False)
    f.make_user(world["org"], practices=[world["harbor"]])
    admin = f.make_user(world["org"], role="admin")
    got = {u.id for u in queries.assignable_users(waiting, world["supervisor"])}
    assert got == {world["biller"].id, world["supervisor"].id, admin.id}
