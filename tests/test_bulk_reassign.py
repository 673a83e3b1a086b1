"""Bulk reassign: filter → preview → confirm on exactly the previewed items, all or nothing, logged and audited;
and the SLA-breach list that feeds it."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.clock import utcnow
from backoffice.errors import Conflict, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.supervisor import queries, rules, services
from backoffice.supervisor.queries import ItemFilter
from backoffice.work import chains
from backoffice.work import services as work
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import InteractionKind, ItemState
from tests import factories as f
from tests.conftest import AuthActions, csrf_token

NOW = f.NOW


def make_denial(practice, *, code: str = "CO-50", amount: str = "100.00", payer=None, assignee=None,
                state: ItemState = ItemState.READY, created=NOW, due=None) -> WorkItem:  # fmt: skip
    """A work-denial item with the columns posting fills (set explicitly here)."""
    session = f.make_session(practice)
    item = chains.open_item(practice_id=practice.id, kind="work_denial", now=created, reason="test denial",
                          session_id=session.id)  # fmt: skip
    item.reason_code, item.amount = code, Decimal(amount)
    item.payer_id = payer.id if payer else None
    item.assignee_id = assignee.id if assignee else None
    item.state = state
    if due is not None:
        item.due_at = due
    db.session.commit()
    return item


@pytest.fixture
def floor(ctx: Flask) -> dict[str, Any]:
    org = f.make_org()
    calm, harbor = f.make_practice(org, name="Calm Mind"), f.make_practice(org, name="Harbor")
    aetna, cigna = f.make_payer(org, name="Aetna"), f.make_payer(org, name="Cigna")
    boss = f.make_user(org, role="supervisor", email="boss@example.test", name="Sam Supervisor")
    ann = f.make_user(org, practices=[calm, harbor], email="ann@example.test", name="Ann")
    bob = f.make_user(org, practices=[calm], email="bob@example.test", name="Bob")
    return {"org": org, "calm": calm, "harbor": harbor, "aetna": aetna, "cigna": cigna, "boss": boss, "ann": ann,
            "bob": bob}  # fmt: skip


def _ids(stmt) -> set[int]:
    return {item.id for item in db.session.scalars(stmt)}


def test_the_filter_picks_by_kind_carc_payer_practice_queue_age_amount_owner_and_sla(floor) -> None:
    w = floor
    co50 = make_denial(w["calm"], code="CO-50", amount="80.00", payer=w["aetna"])
    pr50 = make_denial(w["calm"], code="PR-50", amount="300.00", payer=w["cigna"], assignee=w["bob"])
    co97 = make_denial(
        w["harbor"],
        code="CO-97",
        amount="20.00",
        payer=w["aetna"],
        created=NOW - timedelta(days=40),
        due=NOW + timedelta(days=3),
    )
    late = make_denial(w["calm"], code="CO-16", due=NOW - timedelta(hours=1))
    (verify,) = f.make_ready_items(w["calm"], 1)
    boss = w["boss"]

    def pick(**kw: Any) -> set[int]:
        return _ids(queries.matching(boss, ItemFilter(**kw), NOW))

    assert pick(kind="work_denial") == {co50.id, pr50.id, co97.id, late.id}
    assert pick(reason_code="CO-50") == {co50.id}
    assert pick(reason_code="co-50") == {co50.id}
    assert pick(reason_code="50") == {co50.id, pr50.id}  # a bare CARC under any group code
    assert pick(payer_id=w["aetna"].id) == {co50.id, co97.id}
    assert pick(practice_id=w["harbor"].id) == {co97.id}
    assert pick(queue="eligibility") == {verify.id}
    assert pick(min_age_days=30) == {co97.id}
    assert pick(max_age_days=30, kind="work_denial") == {co50.id, pr50.id, late.id}
    assert pick(min_amount=Decimal("80.00"), max_amount=Decimal("300.00")) == {co50.id, pr50.id, late.id}
    assert pick(assignee=str(w["bob"].id)) == {pr50.id}
    assert pick(assignee="none", kind="work_denial") == {co50.id, co97.id, late.id}
    assert pick(sla="breached") == {late.id}


def test_the_filter_never_reaches_another_organization_done_or_automated_items(floor) -> None:
    w = floor
    other_org = f.make_org()
    make_denial(f.make_practice(other_org))
    done = make_denial(w["calm"], state=ItemState.DONE)
    automated = make_denial(w["calm"])
    automated.mode = "automated"
    db.session.commit()
    mine = make_denial(w["calm"])
    assert _ids(queries.matching(w["boss"], ItemFilter(), NOW)) == {mine.id}
    assert done.id and automated.id


def test_the_preview_counts_dollars_and_owners(floor) -> None:
    w = floor
    for owner in (w["ann"], w["ann"], w["bob"], None):
        make_denial(w["calm"], amount="50.25", assignee=owner)
    preview = queries.preview(w["boss"], ItemFilter(reason_code="CO-50"), NOW, cap=10)
    assert (preview.count, preview.total) == (4, Decimal("201.00"))
    assert dict(preview.by_owner) == {"Ann": 2, "Bob": 1, "unassigned": 1}
    assert len(preview.snapshot) == 4 and len(preview.items) == 4
    capped = queries.preview(w["boss"], ItemFilter(reason_code="CO-50"), NOW, cap=3)
    assert capped.count == 4 and capped.snapshot == []  # too many to act on: nothing to sign


def _snapshot(boss: User, **kw: Any) -> list[tuple[int, str, int | None]]:
    return queries.preview(boss, ItemFilter(**kw), NOW, cap=rules.MAX_BULK_ITEMS).snapshot


def test_confirming_to_one_person_moves_every_item_logs_each_and_audits_the_counts(floor) -> None:
    w = floor
    started = make_denial(w["calm"], assignee=w["bob"], state=ItemState.IN_PROGRESS)
    waiting = make_denial(w["calm"])
    already = make_denial(w["calm"], assignee=w["ann"])
    result = services.bulk_reassign(actor=w["boss"], now=NOW, previewed=_snapshot(w["boss"], reason_code="CO-50"),
                                    target="person", assignee=w["ann"], reason="Bob is out")  # fmt: skip
    assert (result.moved, result.unchanged) == (2, 1)
    for item in (started, waiting, already):
        db.session.refresh(item)
        assert item.assignee_id == w["ann"].id
    assert started.state == ItemState.READY  # the new owner starts it themselves
    logs = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT)).all()
    assert {log.work_item_id for log in logs} == {started.id, waiting.id}
    assert all(log.data["bulk"] == result.bulk_id and log.body == "Bob is out" for log in logs)
    assert all(log.actor_user_id == w["boss"].id and log.data["to_user_id"] == w["ann"].id for log in logs)
    by_item = {log.work_item_id: log for log in logs}
    assert (by_item[started.id].from_state, by_item[started.id].to_state) == ("in_progress", "ready")
    assert by_item[started.id].data["from_user_id"] == w["bob"].id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "supervisor:bulk_reassign"))
    assert event.user_id == w["boss"].id and event.target_id == result.bulk_id
    assert event.data == {"target": "person", "previewed": 3, "moved": 2, "unchanged": 1,
                          "to_user_ids": {str(w["ann"].id): 2}}  # fmt: skip


def test_back_to_the_queue_unassigns(floor) -> None:
    w = floor
    item = make_denial(w["calm"], assignee=w["bob"])
    services.bulk_reassign(actor=w["boss"], now=NOW, previewed=_snapshot(w["boss"]), target="queue", reason="rebalance")
    db.session.refresh(item)
    assert item.assignee_id is None and item.state == ItemState.READY


def _nothing_moved(items: list[WorkItem], owners: list[int | None]) -> None:
    db.session.expire_all()
    assert [db.session.get(WorkItem, i.id).assignee_id for i in items] == owners
    assert db.session.scalar(select(Interaction.id).where(Interaction.kind == InteractionKind.ASSIGNMENT)) is None
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "supervisor:bulk_reassign")) is None


def test_an_item_that_changed_owner_since_the_preview_refuses_the_whole_batch(floor) -> None:
    w = floor
    items = [make_denial(w["calm"]) for _ in range(3)]
    snapshot = _snapshot(w["boss"])
    work.reassign_item(item=items[1], actor=w["boss"], now=NOW, assignee=w["bob"], reason="took it")
    with pytest.raises(Conflict, match=rf"1 of the 3 previewed items changed since the preview \(#{items[1].id}\)"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=snapshot, target="person", assignee=w["ann"],
                               reason="x")  # fmt: skip
    db.session.expire_all()
    assert [db.session.get(WorkItem, i.id).assignee_id for i in items] == [None, w["bob"].id, None]
    bulk = db.session.scalars(select(Interaction).where(Interaction.kind == InteractionKind.ASSIGNMENT)).all()
    assert [log.body for log in bulk] == ["took it"]  # only the single reassign


def test_an_item_that_changed_state_since_the_preview_refuses_too(floor) -> None:
    w = floor
    items = [make_denial(w["calm"]) for _ in range(2)]
    snapshot = _snapshot(w["boss"])
    work.complete_item(item=items[0], actor=w["ann"], now=NOW)
    with pytest.raises(Conflict, match="nothing was reassigned"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=snapshot, target="queue", reason="x")
    assert db.session.get(WorkItem, items[1].id).assignee_id is None


def test_a_person_who_does_not_serve_an_items_practice_refuses_naming_the_item(floor) -> None:
    w = floor
    calm = make_denial(w["calm"])
    harbor = make_denial(w["harbor"])
    with pytest.raises(ValidationFailed, match=rf"Bob does not serve the practice of item #{harbor.id}"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=_snapshot(w["boss"]), target="person",
                               assignee=w["bob"], reason="x")  # fmt: skip
    _nothing_moved([calm, harbor], [None, None])


def test_spreading_gives_each_item_to_the_least_loaded_person_who_serves_it(floor) -> None:
    w = floor
    for _ in range(2):  # Ann already has two open items elsewhere
        make_denial(w["calm"], code="CO-16", assignee=w["ann"])
    harbor = make_denial(w["harbor"], due=NOW + timedelta(hours=1))  # most urgent: goes first
    calm = [make_denial(w["calm"], due=NOW + timedelta(days=1, minutes=i)) for i in range(4)]
    result = services.bulk_reassign(actor=w["boss"], now=NOW, previewed=_snapshot(w["boss"], reason_code="CO-50"),
                                    target="spread", spread_to=[w["ann"], w["bob"]], reason="even out")  # fmt: skip
    db.session.expire_all()
    owners = [db.session.get(WorkItem, i.id).assignee_id for i in [harbor, *calm]]
    ann, bob = w["ann"].id, w["bob"].id
    # Harbor: only Ann serves it (3 open). Then Bob (0) takes items until he catches up with Ann, then turns.
    assert owners == [ann, bob, bob, bob, ann if ann < bob else bob]
    assert sum(result.per_assignee.values()) == 5


def test_spread_rule_is_least_loaded_first_with_ties_to_the_lower_id() -> None:
    chosen = rules.spread([(1, 10), (2, 10), (3, 10), (4, 20)], {7: 1, 5: 0, 9: 0}, lambda u, p: p == 10 or u == 9)
    assert chosen == {1: 5, 2: 9, 3: 5, 4: 9}
    assert rules.spread([(1, 30)], {5: 0}, lambda u, p: False) == {1: None}


def test_only_supervisors_reassign_a_reason_is_required_and_the_cap_holds(floor, monkeypatch) -> None:
    w = floor
    items = [make_denial(w["calm"]) for _ in range(3)]
    snapshot = _snapshot(w["boss"])
    with pytest.raises(NotAllowed):
        services.bulk_reassign(actor=w["ann"], now=NOW, previewed=snapshot, target="queue", reason="x")
    with pytest.raises(ValidationFailed, match="reason: required"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=snapshot, target="queue", reason="  ")
    with pytest.raises(ValidationFailed, match="spread across: choose at least one person"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=snapshot, target="spread", reason="x")
    monkeypatch.setattr(services, "MAX_BULK_ITEMS", 2)
    with pytest.raises(ValidationFailed, match="3 items; at most 2 per action"):
        services.bulk_reassign(actor=w["boss"], now=NOW, previewed=snapshot, target="queue", reason="x")
    _nothing_moved(items, [None, None, None])


def test_a_preview_token_is_signed_personal_and_carries_the_snapshot(floor, app: Flask) -> None:
    w = floor
    snapshot = [(1, "ready", None), (2, "in_progress", w["bob"].id)]
    with app.test_request_context():
        token = services.sign_preview(actor=w["boss"], snapshot=snapshot, filters={"reason_code": "CO-50"})
        assert services.read_preview(token, actor=w["boss"]) == (snapshot, {"reason_code": "CO-50"})
        other = f.make_user(w["org"], role="supervisor")
        with pytest.raises(ValidationFailed, match="made by someone else"):
            services.read_preview(token, actor=other)
        with pytest.raises(ValidationFailed, match="not a valid preview"):
            services.read_preview(token[:-3] + "abc", actor=w["boss"])


# --- views -------------------------------------------------------------------------------------------------


def _setup_views(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        calm = f.make_practice(org, name="Calm Mind")
        f.make_user(org, role="supervisor", email="boss@example.test", name="Sam Supervisor")
        ann = f.make_user(org, practices=[calm], email="ann@example.test", name="Ann")
        bob = f.make_user(org, practices=[calm], email="bob@example.test", name="Bob")
        now = utcnow()
        items = [make_denial(calm, amount="125.00", created=now - timedelta(days=3), assignee=bob) for _ in range(2)]
        other = make_denial(calm, code="CO-97", created=now - timedelta(days=3))
        return {"ann": ann.id, "bob": bob.id, "a": items[0].id, "b": items[1].id, "other": other.id}


def _preview(client: FlaskClient, **args: str):
    return client.get("/supervisor/reassign", query_string={"preview": "1", **args})


def test_supervisor_previews_and_confirms_in_the_browserless_flow(app: Flask, client: FlaskClient,
                                                                   auth: AuthActions) -> None:  # fmt: skip
    ids = _setup_views(app)
    auth.login("boss@example.test")
    page = _preview(client, reason_code="CO-50").get_data(as_text=True)
    assert "2 item(s) · $250.00" in page and "Bob 2" in page
    assert f"#{ids['a']}" in page and f"#{ids['other']}" not in page
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/supervisor/reassign/confirm", data={
        "csrf_token": csrf_token(page), "token": token, "target": "person", "assignee_id": ids["ann"],
        "reason": "Bob is out"})  # fmt: skip
    assert response.status_code == 303
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reassigned 2 item(s) (Ann: 2)" in done
    with app.app_context():
        assert {db.session.get(WorkItem, i).assignee_id for i in (ids["a"], ids["b"])} == {ids["ann"]}


def test_a_confirm_without_a_reason_or_with_a_forged_token_changes_nothing(app: Flask, client: FlaskClient,
                                                                         auth: AuthActions) -> None:  # fmt: skip
    ids = _setup_views(app)
    auth.login("boss@example.test")
    page = _preview(client, reason_code="CO-50").get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([^"]+)"', page).group(1)
    base = {"csrf_token": csrf_token(page), "target": "queue"}
    missing = client.post("/supervisor/reassign/confirm", data={**base, "token": token, "reason": ""},
                          follow_redirects=True)  # fmt: skip
    assert "Reason: This field is required." in missing.get_data(as_text=True)
    assert "2 item(s) · $250.00" in missing.get_data(as_text=True)  # back on the same preview
    forged = client.post("/supervisor/reassign/confirm", data={**base, "token": token + "x", "reason": "r"},
                         follow_redirects=True)  # fmt: skip
    assert "preview: not a valid preview" in forged.get_data(as_text=True)
    with app.app_context():
        assert {db.session.get(WorkItem, i).assignee_id for i in (ids["a"], ids["b"])} == {ids["bob"]}


def test_a_preview_over_the_cap_says_so_and_offers_no_confirm(app: Flask, client: FlaskClient, auth: AuthActions,
                                                             monkeypatch) -> None:  # fmt: skip
    from backoffice.supervisor import views

    _setup_views(app)
    monkeypatch.setattr(views, "MAX_BULK_ITEMS", 1)
    auth.login("boss@example.test")
    page = _preview(client, reason_code="CO-50").get_data(as_text=True)
    assert "2 items match: at most 1 can be reassigned in one action. Narrow the filters." in page
    assert 'name="token"' not in page


def test_billers_get_403_on_every_supervisor_screen(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _setup_views(app)
    auth.login("ann@example.test")
    assert client.get("/supervisor/reassign").status_code == 403
    assert client.get("/supervisor/breaches").status_code == 403
    assert client.get("/supervisor/write-offs").status_code == 403
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    assert client.post("/supervisor/reassign/confirm", data={"csrf_token": token}).status_code == 403


def test_the_breach_list_filters_shows_overdue_and_links_to_a_prefilled_bulk_reassign(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context():
        org = f.make_org()
        calm, harbor = f.make_practice(org, name="Calm Mind"), f.make_practice(org, name="Harbor")
        f.make_user(org, role="supervisor", email="boss@example.test")
        bob = f.make_user(org, practices=[calm, harbor], name="Bob")
        now = utcnow()
        late = make_denial(calm, due=now - timedelta(days=2, hours=3), assignee=bob)
        late_harbor = make_denial(harbor, due=now - timedelta(hours=2))
        on_time = make_denial(calm, due=now + timedelta(days=1))
        parked = make_denial(calm, due=now - timedelta(days=1), state=ItemState.SNOOZED)
        ids = {"late": late.id, "harbor": late_harbor.id, "on_time": on_time.id, "parked": parked.id,
               "calm": calm.id, "bob": bob.id}  # fmt: skip
    auth.login("boss@example.test")
    page = client.get("/supervisor/breaches").get_data(as_text=True)
    assert f"#{ids['late']}<" in page and f"#{ids['harbor']}<" in page
    # A snoozed item past its due date is breached too (issue 18): snoozing never stops the SLA.
    assert f"#{ids['on_time']}<" not in page and f"#{ids['parked']}<" in page
    assert "overdue 2d 3h" in page
    filtered = client.get("/supervisor/breaches", query_string={"practice_id": ids["calm"]}).get_data(as_text=True)
    assert f"#{ids['late']}<" in filtered and f"#{ids['harbor']}<" not in filtered
    link = re.search(r'href="([^"]+)" id="reassign-breaches"', filtered).group(1).replace("&amp;", "&")
    assert f"practice_id={ids['calm']}" in link and "sla=breached" in link
    preview = client.get(link).get_data(as_text=True)
    assert "2 item(s)" in preview and f"#{ids['late']}<" in preview and f"#{ids['parked']}<" in preview
    by_owner = client.get("/supervisor/breaches", query_string={"assignee": ids["bob"]}).get_data(as_text=True)
    assert f"#{ids['late']}<" in by_owner and f"#{ids['harbor']}<" not in by_owner
    unknown = client.get("/supervisor/breaches", query_string={"practice_id": "999999"}).get_data(as_text=True)
    assert "Practice: Not a valid choice." in unknown  # said, not silently dropped
    board = client.get("/supervisor").get_data(as_text=True)
    assert 'href="/supervisor/breaches"' in board
