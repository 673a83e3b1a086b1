"""In a real browser at 1,440 px: a denial item from an 835 shows its claim header, which stays in view while the page
scrolls; a long unbroken note wraps instead of widening the page; Complete and next opens the next item."""

from __future__ import annotations

from flask import Flask

from backoffice.extensions import db
from backoffice.work.models import WorkItem
from backoffice.work.rules import ItemState
from tests import factories as f
from tests.browser import shot, sign_in
from tests.test_claim_context import _world

WIDTH = 1440
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def test_the_claim_header_stays_in_view_and_nothing_overflows_at_1440(app: Flask, page) -> None:  # noqa: ANN001
    ids = _world(app)
    page.set_viewport_size({"width": WIDTH, "height": 640})
    sign_in(page, "biller@example.test")
    page.goto(f"/items/{ids['denial']}")
    header = page.locator("#item-context")
    for text in ("Zimmer, Ana", ids["member"], "CALM-77", "Example Health Plan", "$200.00"):
        assert text in header.inner_text()
    long_text = "REF" + "X9" * 200  # a pasted reference with no spaces
    for n in range(4):
        page.click("#note summary")
        page.fill("#note textarea", f"{long_text}-{n}")
        page.click("#note form button[type=submit]")
        page.wait_for_selector("text=Note added.")
    assert page.evaluate(NO_OVERFLOW)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(100)
    assert page.evaluate("window.scrollY") > 200  # the page did scroll
    box = header.bounding_box()
    assert box is not None and -1 <= box["y"] <= 5  # stuck to the top of the viewport
    shot(page, "claim-context-1-scrolled")
    page.goto("/queue?sort=patient&dir=asc")
    assert page.evaluate(NO_OVERFLOW)
    assert "Zimmer, Ana" in page.locator("table.items").first.inner_text() or "Zimmer, Ana" in page.content()


def test_complete_and_next_takes_the_biller_to_the_next_item(app: Flask, page) -> None:  # noqa: ANN001
    ids = _world(app)
    with app.app_context():
        head = db.session.get(WorkItem, ids["head"])
        (second,) = f.make_ready_items(head.practice, 1)
        second_id = second.id
    page.set_viewport_size({"width": WIDTH, "height": 900})
    sign_in(page, "biller@example.test")
    page.goto(f"/items/{ids['head']}")
    page.click("text=Take and start")
    page.wait_for_selector("text=Started.")
    page.select_option("#complete select[name=outcome]", "resolved")
    page.click("#complete-and-next")
    page.wait_for_url(f"**/items/{second_id}")
    assert page.evaluate(NO_OVERFLOW)
    shot(page, "claim-context-2-next")
    with app.app_context():
        assert db.session.get(WorkItem, ids["head"]).state == ItemState.DONE
        assert db.session.get(WorkItem, second_id).assignee_id is not None
