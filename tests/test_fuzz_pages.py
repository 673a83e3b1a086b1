"""Property-based: no list filter and no form of the main pages answers a 500, whatever is typed into it (NUL,
Unicode digits, NaN/Infinity/1e30, year 1, emoji, very long text). Runs on SQLite and, in CI, on PostgreSQL, which
is the one that cannot store a NUL. The app runs with TESTING on, so an unhandled exception fails the test itself.

The POST forms are found in the pages themselves (every ``<form method="post">`` and its field names), so a new
form on these pages is fuzzed without a line here.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_token
from tests.test_authorization_matrix import ADMIN, BILLER, SUPERVISOR, build_world, signed_in_clients

HOSTILE = ["", " ", "\x00", "a\x00b", "²", "①", "٣", "１２", "NaN", "nan", "Infinity", "-Infinity", "1e30", "-1",
           "0", "0.001", "$5", "1,000.00", "99999999999999999999", "0001-01-01", "9999-12-31", "2026-02-30",
           "2026-11-18", "2026-11-18T10:00", "😀", "Rivera:Jr", "A*B~C^D", "=1+1", "<script>", "Ann\nLee", "\x1b[31m",
           "Иванов", "a" * 3000, "yes", "on", "1"]  # fmt: skip
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))

# Every list page's GET filters (from the views: work/queries.parse_filter, balances, appeals, supervisor, audit).
FILTERS: dict[str, tuple[str, ...]] = {
    "/queue": ("kind", "practice", "payer", "due", "amount_min", "amount_max", "queue", "more"),
    "/patients": ("q", "page"),
    "/appeals": ("status", "family", "payer_id", "practice_id", "due_within"),
    "/supervisor/reassign": (
        "kind",
        "reason_code",
        "payer_id",
        "practice_id",
        "queue",
        "min_age_days",
        "max_age_days",
        "min_amount",
        "max_amount",
        "assignee",
        "sla",
        "preview",
    ),  # fmt: skip
    "/supervisor/breaches": ("kind", "payer_id", "practice_id", "queue", "min_amount", "max_amount", "sla"),
    "/supervisor/write-offs": ("state",),
    "/admin/audit": ("user_id", "patient_id", "action", "date_from", "date_to"),
    "/admin/audit.csv": ("user_id", "patient_id", "action", "date_from", "date_to"),
    "/reports": ("practice", "payer", "from", "to"),
    "/appeals/report": ("practice_id", "payer_id", "from", "to"),
    "/api/v1/work-items": ("kind", "queue"),
    "/login": ("next",),
}
# Pages whose POST forms are fuzzed (the object pages of the practice the biller serves), and endpoints left out.
FORM_PAGES = ("/queue", "/items/{item}", "/patients/{patient}", "/appeals/{appeal}", "/supervisor/reassign",
              "/supervisor/write-offs", "/supervisor/routing", "/supervisor/routing/new",
              "/supervisor/routing/{routing_rule}/edit", "/practices/{practice}/sliding-scale",
              "/admin/appeal-templates/new", "/admin/appeal-templates/{template}", "/admin/automation")  # fmt: skip
SKIP_ACTIONS = re.compile(r"^/logout$")

FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>.*?</form>", re.IGNORECASE | re.DOTALL)
ACTION = re.compile(r"\baction=\"([^\"]+)\"")
NAME = re.compile(r"<(?:input|select|textarea|button)\b[^>]*\bname=\"([^\"]+)\"", re.IGNORECASE)


def _forms(client: FlaskClient, pages: list[str]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(page, action, field names) of every POST form on the pages."""
    found = []
    for page in pages:
        html = client.get(page).text
        for form in FORM.findall(html):
            action = ACTION.search(form)
            url = unescape(action.group(1)) if action is not None else page  # no action: posts to its page
            names = tuple(sorted({n for n in NAME.findall(form) if n != "csrf_token"}))
            if not SKIP_ACTIONS.match(url):
                found.append((page, url, names))
    return sorted(set(found))


@pytest.fixture
def world(app: Flask) -> tuple[Any, dict[Any, FlaskClient]]:
    built = build_world(app)
    return built, signed_in_clients(app, built)


def test_no_list_filter_answers_a_500(world: tuple[Any, dict[Any, FlaskClient]]) -> None:
    _, clients = world
    seen: set[int] = set()

    @settings(max_examples=250, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(FILTERS)), st.data())
    def check(path: str, data: st.DataObject) -> None:
        names = FILTERS[path]
        args = data.draw(st.dictionaries(st.sampled_from(names), VALUES, max_size=len(names)))
        role = data.draw(st.sampled_from([ADMIN, SUPERVISOR, BILLER]))
        response = clients[role].get(path, query_string=args)
        seen.add(response.status_code)
        assert response.status_code < 500, (path, args, role)

    check()
    assert 200 in seen and 400 in seen  # bad values were named (400 for a NUL), good ones answered


def test_no_form_of_the_main_pages_answers_a_500(world: tuple[Any, dict[Any, FlaskClient]]) -> None:
    built, clients = world
    own = built.objects["own"]
    pages = [page.format(**own) for page in FORM_PAGES]
    client = clients[ADMIN]  # admins see every form of their organization
    forms = _forms(client, pages)
    assert len(forms) >= 25, forms  # the item page alone has a dozen
    token = csrf_token(client.get("/queue").text)
    answered: dict[str, set[int]] = {}

    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(forms), st.data())
    def check(form: tuple[str, str, tuple[str, ...]], data: st.DataObject) -> None:
        page, action, names = form
        values = data.draw(st.fixed_dictionaries({}, optional={name: VALUES for name in names})) if names else {}
        response = client.post(action, data={**values, "csrf_token": token})
        answered.setdefault(action, set()).add(response.status_code)
        assert response.status_code < 500, (action, values)

    check()
    assert len(answered) >= len({action for _, action, _ in forms}) // 2  # most forms were really exercised
