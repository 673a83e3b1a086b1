"""Onboarding a client: the first run (`backoffice setup`), the admin pages (admins change, supervisors read,
billers are kept out), CSV files in and out, users (invite, set-password link, initial password, deactivation with
items going back to their queues) and the audit trail of every change."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.audit.models import AuditEvent
from backoffice.cli import cli
from backoffice.errors import NotAllowed
from backoffice.extensions import db
from backoffice.onboarding import csv_files, people, services
from backoffice.onboarding.rules import Refused
from backoffice.orgs.models import ContractedRate, Organization, Payer, Practice
from backoffice.orgs.rules import complete_npi
from backoffice.routing.services import save_rule, set_user_routing
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.conftest import csrf_token
from tests.factories import NOW

GROUP_NPI = complete_npi("212345678")
BAD_NPI = GROUP_NPI[:9] + str((int(GROUP_NPI[9]) + 1) % 10)
PRACTICE = {
    "name": "Calm Mind Therapy", "slug": "calm-mind", "npi": GROUP_NPI, "tin": "123456789",
    "taxonomy": "1041C0700X", "time_zone": "America/New_York", "address_line1": "1 Main St", "city": "Albany",
    "state": "NY", "zip_code": "12207", "clearinghouse": "sandbox",
}  # fmt: skip
PAYERS_CSV = (
    "payer_id,name,kind,filing_limit_days,appeal_window_days,prior_auth_cpts,enrollment_required_837\n"
    "60054,Aetna,commercial,90,180,,yes\n"
    "SKCO0,Medicare Part B,medicare,365,120,,yes\n"
    "SELF,Self-pay,self_pay,365,365,,no\n"
)


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(ctx: Flask) -> dict[str, Any]:
    org = f.make_org()
    admin = f.make_user(org, role="admin", email="admin@example.com")
    supervisor = f.make_user(org, role="supervisor", email="sup@example.com")
    biller = f.make_user(org, role="biller", email="biller@example.com")
    return {"org": org, "admin": admin, "supervisor": supervisor, "biller": biller}


@pytest.fixture
def site(app: Flask) -> dict[str, Any]:
    """The same people for page tests, built in a context of their own: a page test must not hold an app context
    open around its requests (Flask-WTF keeps the CSRF token in ``g``, which would then outlive the request)."""
    with app.app_context():
        org = f.make_org()
        f.make_user(org, role="admin", email="admin@example.com")
        f.make_user(org, role="supervisor", email="sup@example.com")
        f.make_user(org, role="biller", email="biller@example.com")
        return {"org": org, "app": app}


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- First run ------------------------------------------------------------------------------------------------------


def test_setup_creates_the_company_and_its_admin_on_an_empty_database(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["setup", "--organization", "summit", "--organization-name", "Summit Billing",
                                 "--admin-email", "Owner@Summit.example", "--admin-name", "Olive Owner"])  # fmt: skip
    assert result.exit_code == 0, result.output
    link = re.search(r"/set-password/(\S+)", result.output)
    assert link
    with app.app_context():
        org = db.session.scalar(select(Organization))
        admin = db.session.scalar(select(User))
        assert org.slug == "summit" and org.mfa_required_roles == ["admin", "supervisor"]
        assert admin.email == "owner@summit.example" and admin.role.value == "admin"
        assert people.user_for_token(link.group(1), NOW) == admin
    again = runner.invoke(cli, ["setup", "--organization", "other", "--organization-name", "Other",
                                "--admin-email", "x@other.example", "--admin-name", "X", "--admin-password",
                                "violet staple orbit canyon"])  # fmt: skip
    assert again.exit_code == 1 and "already exists" in again.output
    with app.app_context():
        assert _count(Organization) == 1 and _count(User) == 1


def test_setup_with_a_bad_slug_or_password_changes_nothing(app: Flask) -> None:
    runner = app.test_cli_runner()
    bad = runner.invoke(cli, ["setup", "--organization", "Summit Co", "--organization-name", "Summit",
                              "--admin-email", "a@b.example", "--admin-name", "A"])  # fmt: skip
    assert bad.exit_code == 1 and "organization" in bad.output
    weak = runner.invoke(
        cli,
        [
            "setup",
            "--organization",
            "summit",
            "--organization-name",
            "Summit",
            "--admin-email",
            "a@b.example",
            "--admin-name",
            "A",
            "--admin-password",
            "password",
        ],
    )
    assert weak.exit_code == 1 and "password" in weak.output
    with app.app_context():
        assert _count(Organization) == 0 and _count(User) == 0


# --- Services -------------------------------------------------------------------------------------------------------


def test_a_practice_is_created_with_an_audit_event_of_its_fields(world: dict[str, Any]) -> None:
    practice = services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["admin"], now=NOW)
    assert practice.group_npi == GROUP_NPI and practice.timezone == "America/New_York"
    services.update_practice(practice=practice, values={"name": "Calm Mind"}, actor=world["admin"], now=NOW)
    created, updated = _audit("admin:practice_create")[0], _audit("admin:practice_update")[0]
    assert created.user_id == world["admin"].id and created.data["changes"]["group_npi"] == [None, GROUP_NPI]
    assert updated.data["changes"] == {"name": ["Calm Mind Therapy", "Calm Mind"]} and updated.at == NOW


def test_bad_practice_input_names_the_field_and_writes_nothing(world: dict[str, Any]) -> None:
    with pytest.raises(Refused) as refused:
        services.create_practice(organization_id=world["org"].id, values={**PRACTICE, "npi": BAD_NPI},
                                 actor=world["admin"], now=NOW)  # fmt: skip
    assert "npi: NPI check digit is wrong" in str(refused.value)
    services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["admin"], now=NOW)
    with pytest.raises(services.Duplicate, match="slug"):
        services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["admin"], now=NOW)
    assert _count(Practice) == 1 and len(_audit("admin:practice_create")) == 1


def test_only_admins_change_the_setup(world: dict[str, Any]) -> None:
    with pytest.raises(NotAllowed):
        services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["supervisor"], now=NOW)


def test_a_deactivated_practice_is_kept(world: dict[str, Any]) -> None:
    practice = services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["admin"], now=NOW)
    services.set_practice_active(practice=practice, active=False, actor=world["admin"], now=NOW)
    assert db.session.get(Practice, practice.id).active is False


def test_importing_the_payer_directory_export_changes_nothing(world: dict[str, Any]) -> None:

    rows, errors = csv_files.read(PAYERS_CSV, "payers")
    assert not errors
    assert services.import_payers(organization_id=world["org"].id, records=rows, actor=world["admin"], now=NOW) == (
        3,
        0,
        0,
    )
    self_pay = db.session.scalar(select(Payer).where(Payer.payer_id == "SELF"))
    assert self_pay.enrollment_required_837 is False and self_pay.enrollment_required_835 is False
    events = _count(AuditEvent)
    exported = csv_files.write("payers", services.payer_records(world["org"].id))
    again, errors = csv_files.read(exported, "payers")
    assert not errors
    assert services.import_payers(organization_id=world["org"].id, records=again, actor=world["admin"], now=NOW) == (
        0,
        0,
        3,
    )
    assert _count(AuditEvent) == events


def test_a_payer_directory_with_bad_rows_names_each_and_writes_nothing(world: dict[str, Any]) -> None:

    text = PAYERS_CSV + "BAD ID,Nobody,insurer,x,180,,maybe\n60054,Aetna again,commercial,90,180,,\n"
    rows, _ = csv_files.read(text, "payers")
    with pytest.raises(Refused) as refused:
        services.import_payers(organization_id=world["org"].id, records=rows, actor=world["admin"], now=NOW)
    found = {(e.row, e.field) for e in refused.value.errors}
    assert found == {(5, "payer_id"), (5, "kind"), (5, "filing_limit_days"), (5, "enrollment_required_837"),
                     (6, "payer_id")}  # fmt: skip
    assert _count(Payer) == 0


def _practice_with_payers(world: dict[str, Any]) -> Practice:
    practice = services.create_practice(organization_id=world["org"].id, values=PRACTICE, actor=world["admin"], now=NOW)
    f.make_payer(world["org"], payer_id="60054", name="Aetna")
    f.make_payer(world["org"], payer_id="SKCO0", name="Medicare", kind="medicare")
    return practice


def test_contracted_rates_replace_all_or_nothing_and_an_own_export_changes_nothing(world: dict[str, Any]) -> None:

    practice = _practice_with_payers(world)
    records = [
        {"payer_id": "60054", "cpt": "90834", "allowed": "98.50", "effective_from": "2026-01-01",
         "effective_to": "2026-12-31"},
        {"payer_id": "60054", "cpt": "90834", "allowed": "101.00", "effective_from": "2027-01-01"},
        {"payer_id": "SKCO0", "cpt": "90837", "modifier": "95", "allowed": "140.25", "effective_from": "2026-01-01"},
    ]  # fmt: skip
    assert services.replace_contracted_rates(practice=practice, records=records, actor=world["admin"], now=NOW) == (
        3,
        0,
        0,
    )
    bad = [*records, {"payer_id": "60054", "cpt": "90834", "allowed": "-1", "effective_from": "2026-06-01"},
           {"payer_id": "NOPE", "cpt": "90791", "allowed": "5", "effective_from": "2026-06-01"}]  # fmt: skip
    with pytest.raises(Refused) as refused:
        services.replace_contracted_rates(practice=practice, records=bad, actor=world["admin"], now=NOW)
    assert {(e.row, e.field) for e in refused.value.errors} == {(4, "allowed"), (5, "payer_id")}
    overlapping = [*records, {"payer_id": "60054", "cpt": "90834", "allowed": "99", "effective_from": "2026-06-01"}]
    with pytest.raises(Refused, match="overlap"):
        services.replace_contracted_rates(practice=practice, records=overlapping, actor=world["admin"], now=NOW)
    assert _count(ContractedRate) == 3
    events = _count(AuditEvent)
    rows, errors = csv_files.read(csv_files.write("rates", services.rate_records(practice)), "rates")
    assert not errors
    assert services.replace_contracted_rates(practice=practice, records=rows, actor=world["admin"], now=NOW) == (
        0,
        0,
        0,
    )
    assert _count(AuditEvent) == events
    assert services.replace_contracted_rates(practice=practice, records=rows[:1], actor=world["admin"], now=NOW) == (
        0,
        0,
        2,
    )
    change = _audit("admin:contracted_rates_update")[-1].data["changes"]
    assert change["SKCO0 90837-95 from 2026-01-01"] == ["140.25", None]


def test_the_fee_schedule_is_replaced_and_logged(world: dict[str, Any]) -> None:
    practice = _practice_with_payers(world)
    services.replace_fee_schedule(practice=practice, records=[{"cpt": "90834", "charge": "150"}],
                                  actor=world["admin"], now=NOW)  # fmt: skip
    services.replace_fee_schedule(practice=practice, records=[{"cpt": "90834", "charge": "160"},
                                                               {"cpt": "90837", "charge": "200"}],
                                  actor=world["admin"], now=NOW)  # fmt: skip
    assert db.session.get(Practice, practice.id).fee_schedule == {"90834": "160.00", "90837": "200.00"}
    assert _audit("admin:fee_schedule_update")[-1].data["changes"] == {"90834": ["150.00", "160.00"],
                                                                       "90837": [None, "200.00"]}  # fmt: skip


# --- Users ----------------------------------------------------------------------------------------------------------


def test_an_invite_without_a_password_gives_a_one_time_link(world: dict[str, Any]) -> None:
    practice = _practice_with_payers(world)
    user, token = people.invite_user(organization_id=world["org"].id, email="new@example.com", name="Nia New",
                                     role="biller", practices=[practice.slug], queues=["denials"],
                                     skills=["appeals"], actor=world["admin"], now=NOW)  # fmt: skip
    assert token and people.user_for_token(token, NOW) == user and user.practices == [practice]
    people.set_password_with_token(token=token, password="violet staple orbit canyon", now=NOW)
    assert people.user_for_token(token, NOW) is None  # used once
    with pytest.raises(NotAllowed):
        people.set_password_with_token(token=token, password="another violet staple orbit", now=NOW)


def test_queues_and_skills_come_from_the_lists(world: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="queues: 'denails' is not on the list"):
        people.invite_user(organization_id=world["org"].id, email="new@example.com", name="Nia New", role="biller",
                           queues=["denails"], actor=world["admin"], now=NOW)  # fmt: skip
    assert _count(User) == 3


def test_deactivating_a_user_returns_their_open_items_to_their_queues(world: dict[str, Any]) -> None:
    practice = f.make_practice(world["org"])
    biller = f.make_user(world["org"], practices=[practice], email="busy@example.com")
    items = f.make_ready_items(practice, 2)
    for item in items:
        item.assignee_id = biller.id
    db.session.commit()
    assert people.deactivate_user(user=biller, actor=world["admin"], now=NOW) == 2
    assert all(db.session.get(WorkItem, i.id).assignee_id is None for i in items)
    assert all(db.session.get(WorkItem, i.id).state == ItemState.READY for i in items)
    assert db.session.get(User, biller.id).active is False
    assert _audit("admin:user_items_returned")[0].data["items"] == [i.id for i in items]


# --- Pages ----------------------------------------------------------------------------------------------------------


def count(site: dict[str, Any], model: type) -> int:
    with site["app"].app_context():
        return _count(model)


def _post(client: Any, path: str, data: dict[str, Any], **kw: Any) -> Any:
    token = csrf_token(
        client.get(path if not path.endswith("/upload") else path.rsplit("/", 1)[0]).get_data(as_text=True)
    )
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=True, **kw)


def test_billers_are_kept_out(site: dict[str, Any], client: Any, auth: Any) -> None:
    auth.login("biller@example.com")
    assert client.get("/admin/practices").status_code == 403
    assert client.get("/admin/setup").status_code == 403


def test_supervisors_read_but_do_not_change(site: dict[str, Any], client: Any, auth: Any) -> None:
    auth.login("sup@example.com")
    assert client.get("/admin/practices").status_code == 200
    page = client.get("/admin/practices/new")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    assert client.post("/admin/practices/new", data={**PRACTICE, "csrf_token": token}).status_code == 403
    assert count(site, Practice) == 0


def test_the_practice_form_names_the_bad_field_and_saves_nothing(site: dict[str, Any], client: Any, auth: Any) -> None:
    auth.login("admin@example.com")
    page = _post(client, "/admin/practices/new", {**PRACTICE, "npi": BAD_NPI})
    assert "npi: NPI check digit is wrong" in page.get_data(as_text=True) and count(site, Practice) == 0
    page = _post(client, "/admin/practices/new", {**PRACTICE, "owned_steps": ["submit", "follow_up"]})
    assert "Practice created." in page.get_data(as_text=True)
    with site["app"].app_context():
        assert db.session.scalar(select(Practice)).owned_steps == ["submit", "follow_up"]
    page = _post(client, "/admin/practices/new", PRACTICE)
    assert "slug: a practice with slug &#39;calm-mind&#39; already exists" in page.get_data(as_text=True)
    assert count(site, Practice) == 1


def test_payer_directory_upload_and_download_round_trip(site: dict[str, Any], client: Any, auth: Any) -> None:
    auth.login("admin@example.com")
    data = {"file": (io.BytesIO(PAYERS_CSV.encode()), "payers.csv")}
    page = _post(client, "/admin/payers/upload", data, content_type="multipart/form-data")
    assert "3 added, 0 changed, 0 unchanged" in page.get_data(as_text=True)
    exported = client.get("/admin/payers.csv").get_data()
    page = _post(client, "/admin/payers/upload", {"file": (io.BytesIO(exported), "p.csv")},
                 content_type="multipart/form-data")  # fmt: skip
    assert "0 added, 0 changed, 3 unchanged" in page.get_data(as_text=True)
    bad = PAYERS_CSV + "ZZZ,Nobody,insurer,90,180,,\n"
    page = _post(client, "/admin/payers/upload", {"file": (io.BytesIO(bad.encode()), "p.csv")},
                 content_type="multipart/form-data")  # fmt: skip
    assert "row 5, column kind" in page.get_data(as_text=True) and count(site, Payer) == 3


def test_the_rates_table_names_the_row_and_column(site: dict[str, Any], client: Any, auth: Any) -> None:
    with site["app"].app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@example.com"))
        practice = _practice_with_payers({"org": site["org"], "admin": admin})
    auth.login("admin@example.com")
    rows = {"rows-0-payer_id": "60054", "rows-0-cpt": "90834", "rows-0-allowed": "98.50",
            "rows-0-effective_from": "2026-01-01", "rows-1-payer_id": "60054", "rows-1-cpt": "90834",
            "rows-1-allowed": "-4", "rows-1-effective_from": "2026-02-01"}  # fmt: skip
    page = _post(client, f"/admin/practices/{practice.slug}/rates", rows)
    text = page.get_data(as_text=True)
    assert "row 2, column allowed: must not be negative" in text and count(site, ContractedRate) == 0
    page = _post(client, f"/admin/practices/{practice.slug}/rates", {**rows, "rows-1-allowed": "99.00"})
    assert "row 2, column effective_from" in page.get_data(as_text=True) and "overlap" in page.get_data(as_text=True)
    rows["rows-0-effective_to"] = "2026-01-31"
    page = _post(client, f"/admin/practices/{practice.slug}/rates", {**rows, "rows-1-allowed": "99.00"})
    assert "Contracted rates saved." in page.get_data(as_text=True) and count(site, ContractedRate) == 2


def test_an_initial_password_must_be_changed_first(site: dict[str, Any], client: Any, auth: Any) -> None:
    with site["app"].app_context():
        people.invite_user(organization_id=site["org"].id, email="init@example.com", name="Ida Initial",
                           role="biller", password="orange kettle ribbon spark", actor=None, now=NOW)  # fmt: skip
    auth.login("init@example.com", "orange kettle ribbon spark")
    response = client.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    client.post("/account/password", data={"csrf_token": token, "current_password": "orange kettle ribbon spark",
                                           "new_password": "maple violin harbor quartz",
                                           "confirm": "maple violin harbor quartz"})  # fmt: skip
    with site["app"].app_context():
        user = db.session.scalar(select(User).where(User.email == "init@example.com"))
        assert user.password_change_required is False
    assert client.get("/queue").status_code == 200


def test_the_cli_imports_and_exports_the_same_files(app: Flask, tmp_path: Any) -> None:
    with app.app_context():
        org = f.make_org(slug="summit")
        f.make_practice(org, slug="calm-mind")
    runner = app.test_cli_runner()
    (tmp_path / "payers.csv").write_text(PAYERS_CSV)
    result = runner.invoke(cli, ["import", "payers", str(tmp_path / "payers.csv")])
    assert result.exit_code == 0 and "3 added, 0 changed, 0 unchanged" in result.output
    (tmp_path / "rates.csv").write_text("payer_id,cpt,allowed,effective_from\n60054,90834,98.50,2026-01-01\n")
    result = runner.invoke(cli, ["import", "rates", str(tmp_path / "rates.csv"), "--practice", "calm-mind"])
    assert result.exit_code == 0 and "1 added" in result.output
    for kind in ("payers", "rates"):
        exported = runner.invoke(cli, ["export", kind, "--practice", "calm-mind"]).output
        (tmp_path / f"{kind}-again.csv").write_text(exported)
        args = ["import", kind, str(tmp_path / f"{kind}-again.csv")]
        again = runner.invoke(cli, [*args, "--practice", "calm-mind"] if kind == "rates" else args)
        assert again.exit_code == 0 and (
            "3 unchanged" in again.output or "0 added, 0 changed, 0 removed" in again.output
        )
    (tmp_path / "bad.csv").write_text("payer_id,cpt,allowed,effective_from\nNOPE,90834,-1,2026-01-01\n")
    bad = runner.invoke(cli, ["import", "rates", str(tmp_path / "bad.csv"), "--practice", "calm-mind"])
    assert bad.exit_code == 1 and "row 2, column payer_id" in bad.output and "row 2, column allowed" in bad.output
    with app.app_context():
        assert _count(ContractedRate) == 1


def test_routing_rules_pick_their_queue_and_skill_from_the_lists(world: dict[str, Any]) -> None:

    values = {"name": "Denials", "distribution": "none", "target_queue": "denails"}
    with pytest.raises(Exception, match="target queue: 'denails' is not a queue"):
        save_rule(actor=world["admin"], now=NOW, values=values)
    with pytest.raises(Exception, match="required skill: 'juggling'"):
        save_rule(
            actor=world["admin"], now=NOW, values={**values, "target_queue": "denials", "required_skill": "juggling"}
        )
    assert (
        save_rule(actor=world["admin"], now=NOW, values={**values, "target_queue": "denials"}).target_queue == "denials"
    )
    with pytest.raises(Exception, match="queues: 'denails' is not on the list"):
        set_user_routing(actor=world["admin"], now=NOW, user=world["biller"], queues=["denails"], skills=[])


def test_the_supervisor_board_flags_a_queue_nobody_works(site: dict[str, Any], client: Any, auth: Any) -> None:
    with site["app"].app_context():
        practice = f.make_practice(site["org"])
        f.make_ready_items(practice, 1, kind="verify_benefits")
        biller = db.session.scalar(select(User).where(User.email == "biller@example.com"))
        biller.queues = ["eligibility", "denials"]
        db.session.commit()
    auth.login("sup@example.com")
    page = client.get("/supervisor").get_data(as_text=True)
    flagged = re.search(r'id="unworked-queues">([^<]*)<', page).group(1)
    assert "rejections" in flagged and "write-offs" in flagged and "patient-balances" in flagged
    assert "eligibility" not in flagged and "denials," not in flagged
