"""The routing configuration screen: supervisors and admins only, validated rules, audited changes."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.extensions import db
from backoffice.routing.models import RoutingRule
from tests import factories as f
from tests.conftest import AuthActions, csrf_token


def _world(app: Flask) -> dict[str, int]:
    with app.app_context():
        org = f.make_org()
        calm = f.make_practice(org, name="Calm Mind")
        harbor = f.make_practice(org, name="Harbor")
        payer = f.make_payer(org, name="Aetna")
        biller = f.make_user(org, practices=[calm], email="biller@example.test", name="Bea Biller")
        harbor_biller = f.make_user(org, practices=[harbor], email="hb@example.test", name="Hal Harbor")
        f.make_user(org, role="supervisor", email="sup@example.test", name="Sam Super")
        f.make_user(org, role="admin", email="admin@example.test", name="Ada Admin")
        f.make_ready_items(calm, 2)
        return {"calm": calm.id, "harbor": harbor.id, "payer": payer.id, "biller": biller.id, "hb": harbor_biller.id}


def _rule_form(**overrides: object) -> dict[str, object]:
    data = {"name": "Aetna to Bea", "position": "10", "active": "y", "practice_id": "0", "payer_id": "0", "kind": "",
            "denial_family": "", "required_skill": "", "target_queue": "", "distribution": "none",
            "target_user_id": "0"}  # fmt: skip
    data.update(overrides)
    return data


def _rules(app: Flask) -> list[RoutingRule]:
    with app.app_context():
        return list(db.session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def test_billers_get_403_and_supervisors_and_admins_see_the_page(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    _world(app)
    auth.login("biller@example.test")
    assert client.get("/supervisor/routing").status_code == 403
    assert client.get("/supervisor/routing/new").status_code == 403
    auth.logout()
    for email in ("sup@example.test", "admin@example.test"):
        auth.login(email)
        page = client.get("/supervisor/routing")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "No rules" in html and "Bea Biller" in html and "verify_benefits" not in html
        assert "eligibility" in html  # queue depth panel
        auth.logout()


def test_a_supervisor_creates_a_person_rule_and_the_change_is_audited(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("sup@example.test")
    token = csrf_token(client.get("/supervisor/routing/new").get_data(as_text=True))
    response = client.post("/supervisor/routing/new", data=_rule_form(
        csrf_token=token, practice_id=str(ids["calm"]), payer_id=str(ids["payer"]), distribution="person",
        target_user_id=str(ids["biller"]), target_queue="denials"))  # fmt: skip
    assert response.status_code == 303
    (rule,) = _rules(app)
    assert (rule.name, rule.distribution, rule.target_user_id, rule.practice_id) == (
        "Aetna to Bea", "person", ids["biller"], ids["calm"])  # fmt: skip
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin:routing_rule_saved")).one()
        assert event.target_id == str(rule.id) and event.data["distribution"] == "person"
    assert "Aetna to Bea" in client.get("/supervisor/routing").get_data(as_text=True)


def test_a_person_who_does_not_serve_the_practice_is_refused_and_nothing_is_saved(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    auth.login("sup@example.test")
    token = csrf_token(client.get("/supervisor/routing/new").get_data(as_text=True))
    form = _rule_form(
        csrf_token=token, practice_id=str(ids["calm"]), distribution="person", target_user_id=str(ids["hb"])
    )
    response = client.post("/supervisor/routing/new", data=form)
    assert response.status_code == 422
    assert "person: Hal Harbor does not serve the rule&#39;s practice" in response.get_data(as_text=True)
    assert _rules(app) == []
    response = client.post("/supervisor/routing/new", data=_rule_form(csrf_token=token, name=""))
    assert response.status_code == 422 and "Name: This field is required." in response.get_data(as_text=True)
    response = client.post("/supervisor/routing/new", data=_rule_form(csrf_token=token, target_queue=""))
    assert "target queue: required" in response.get_data(as_text=True)
    assert _rules(app) == []


def test_rules_are_reordered_deactivated_and_edited(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _world(app)
    auth.login("admin@example.test")
    token = csrf_token(client.get("/supervisor/routing/new").get_data(as_text=True))
    for name, position, queue in (("First", "10", "coding"), ("Second", "20", "posting")):
        client.post("/supervisor/routing/new", data=_rule_form(csrf_token=token, name=name, position=position,
                                                                target_queue=queue))  # fmt: skip
    first, second = _rules(app)
    client.post(f"/supervisor/routing/{second.id}/move", data={"csrf_token": token, "direction": "up"})
    assert [r.name for r in _rules(app)] == ["Second", "First"]
    client.post(f"/supervisor/routing/{first.id}/active", data={"csrf_token": token, "active": "0"})
    assert [r.active for r in _rules(app)] == [True, False]
    bad = client.post(f"/supervisor/routing/{first.id}/move", data={"csrf_token": token, "direction": "sideways"})
    assert bad.status_code == 303 and [r.name for r in _rules(app)] == ["Second", "First"]
    edit = client.get(f"/supervisor/routing/{first.id}/edit").get_data(as_text=True)
    assert '<option selected value="coding">' in edit
    client.post(f"/supervisor/routing/{first.id}/edit", data=_rule_form(csrf_token=token, name="First!",
                                                                          target_queue="rejections"))  # fmt: skip
    assert {r.name: r.target_queue for r in _rules(app)} == {"Second": "posting", "First!": "rejections"}
    with app.app_context():
        actions = sorted(db.session.scalars(select(AuditEvent.action)))
    assert actions.count("admin:routing_rule_saved") == 3 and "admin:routing_rule_moved" in actions
    assert "admin:routing_rule_deactivated" in actions


def test_another_organizations_rule_is_a_404(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    _world(app)
    with app.app_context():
        other = f.make_org()
        rule = RoutingRule(
            organization_id=other.id, name="Theirs", target_queue="x", created_at=f.NOW, updated_at=f.NOW
        )
        db.session.add(rule)
        db.session.commit()
        rule_id = rule.id
    auth.login("sup@example.test")
    assert client.get(f"/supervisor/routing/{rule_id}/edit").status_code == 404
    assert client.get(f"/supervisor/routing/{rule_id}/preview").status_code == 404


def test_a_supervisor_sets_a_billers_queues_and_skills(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    ids = _world(app)
    auth.login("sup@example.test")
    token = csrf_token(client.get("/supervisor/routing").get_data(as_text=True))
    form = {"csrf_token": token, "queues": "denials, eligibility", "skills": "Medicaid"}
    response = client.post(f"/supervisor/routing/people/{ids['biller']}", data=form)
    assert response.status_code == 303
    with app.app_context():
        user = db.session.get(User, ids["biller"])
        assert (user.queues, user.skills) == (["denials", "eligibility"], ["medicaid"])
        assert db.session.scalars(select(AuditEvent).where(AuditEvent.action == "admin:user_routing_saved")).one()
    client.post(f"/supervisor/routing/people/{ids['biller']}", data={"csrf_token": token, "queues": "bad queue!"})
    with app.app_context():
        assert db.session.get(User, ids["biller"]).queues == ["denials", "eligibility"]  # refused: unchanged


def test_the_preview_lists_what_a_rule_would_route_now_without_changing_anything(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    ids = _world(app)
    with app.app_context():
        org_id = db.session.get(User, ids["biller"]).organization_id
        rule = RoutingRule(organization_id=org_id, name="Benefits to Bea", kind="verify_benefits",
                           distribution="person", target_user_id=ids["biller"], user_ids=[], created_at=f.NOW,
                           updated_at=f.NOW)  # fmt: skip
        db.session.add(rule)
        db.session.commit()
        rule_id = rule.id
    auth.login("sup@example.test")
    html = client.get(f"/supervisor/routing/{rule_id}/preview").get_data(as_text=True)
    assert "2 unassigned items it would route now" in html and "person: Bea Biller" in html
    with app.app_context():
        from backoffice.work.models import WorkItem  # noqa: PLC0415

        assert all(i.assignee_id is None for i in db.session.scalars(select(WorkItem)))
