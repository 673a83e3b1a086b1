"""Posting a 277 claim status response: status categories updated and logged with their meanings, records
requests and "not found" become work, finalized claims wait for the 835, and reposting changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backoffice import signals
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.errors import ValidationFailed
from backoffice.exchange.status_posting import outcome_for, post_277
from backoffice.extensions import db
from backoffice.work.models import Interaction, WorkItem
from tests import factories as f
from tests.factories import NOW
from tests.factories_edi_posting import make_claim, make_edi_file, make_submission, x277
from tests.x12_checks import shared_sample

LATER = NOW + timedelta(days=1)


@pytest.fixture
def org(ctx):  # noqa: ANN001, ANN201
    organization = f.make_org()
    practice = f.make_practice(organization)
    patient = f.make_patient(practice, f.make_payer(organization))
    return organization, practice, patient


def _claim(org, status: ClaimStatus = ClaimStatus.ACCEPTED) -> Claim:  # noqa: ANN001
    claim = make_claim(org[1], org[2], status=status)
    make_submission(claim, ack_status="accepted" if status != ClaimStatus.SUBMITTED else None)
    return claim


def _log(claim: Claim) -> list[str]:
    return list(
        db.session.scalars(select(Interaction.body).where(Interaction.claim_id == claim.id).order_by(Interaction.id))
    )


def _counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(WorkItem.id))), db.session.scalar(select(func.count(Interaction.id)))


@pytest.mark.parametrize(
    ("category", "outcome"),
    [("F1", "finalized"), ("F2", "finalized"), ("F4", "finalized"), ("P1", "pending"), ("P3", "pending"),
     ("R4", "records_requested"), ("A4", "not_found"), ("A7", "rejected"), ("A2", "accepted"), ("E0", "error"),
     ("D0", "other")],
)  # fmt: skip
def test_each_category_has_one_follow_up_outcome(category: str, outcome: str) -> None:
    assert outcome_for(category) == outcome


def test_a_277_updates_each_claim_and_logs_its_codes_with_their_meanings(org) -> None:  # noqa: ANN001
    paid, denied, pending = _claim(org), _claim(org), _claim(org)
    text = x277(
        [f"TRN*2*{paid.account_number}", "STC*F1:65*20261120**150*95.50*20261118*ACH*20261121*EFT777",
         "REF*1K*PAYER-CLAIM-1"],
        [f"TRN*2*{denied.account_number}", "STC*F2:88:IL*20261120**200*0"],
        [f"TRN*2*{pending.account_number}", "STC*P1:20*20261119"],
    )  # fmt: skip
    result = post_277(organization_id=org[0].id, text=text, now=NOW)
    assert [(c.account_number, c.category, c.status_code, c.outcome) for c in result.claims] == [
        (paid.account_number, "F1", "65", "finalized"),
        (denied.account_number, "F2", "88", "finalized"),
        (pending.account_number, "P1", "20", "pending"),
    ]
    assert [(c.status_category, c.status_at) for c in (paid, denied, pending)] == [("F1", NOW)] * 1 + [
        ("F2", NOW), ("P1", NOW)
    ]  # fmt: skip
    # Finalized is only logged: the 835 posts the money and moves the claim.
    assert paid.status == denied.status == ClaimStatus.ACCEPTED and _counts()[0] == 0
    assert _log(paid) == [
        "277 status as of 2026-11-20: F1:65 Finalized, payment: Claim/line has been paid"
        " (paid 95.50, on 2026-11-21, check/EFT EFT777, payer claim PAYER-CLAIM-1)"
    ]
    assert _log(denied) == [
        "277 status as of 2026-11-20: F2:88:IL Finalized, denial: Entity not eligible for benefits for submitted"
        " dates of service (subscriber) (paid 0.00)"
    ]


def test_a_documentation_request_opens_a_records_item(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    result = post_277(organization_id=org[0].id, text=x277([f"TRN*2*{claim.account_number}", "STC*R4:252"]), now=NOW)
    assert result.claims[0].outcome == "records_requested" and claim.status_category == "R4"
    item = db.session.scalars(select(WorkItem)).one()
    assert (item.kind, item.queue, item.claim_id, item.sla_policy) == ("work_denial", "records", claim.id,
                                                                       "records:3bd")  # fmt: skip


def test_not_found_is_a_rejection_to_resubmit_as_an_original(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    result = post_277(organization_id=org[0].id, text=x277([f"TRN*2*{claim.account_number}", "STC*A4:35"]), now=NOW)
    assert result.claims[0].outcome == "not_found"
    assert claim.status == ClaimStatus.REJECTED and claim.status_category == "A4"
    item = db.session.scalars(select(WorkItem)).one()
    assert (item.kind, item.queue) == ("fix_rejection", "rejections")
    reason = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == item.id)).one()
    assert "payer has no claim on file: resubmit as original" in reason


def test_a_claim_is_found_by_its_ref_ej_account_when_the_trace_is_not_ours(org) -> None:  # noqa: ANN001
    claim = _claim(org, status=ClaimStatus.SUBMITTED)
    text = x277(["TRN*2*INQUIRY-77", f"REF*EJ*{claim.account_number}", "STC*A2:20"])
    result = post_277(organization_id=org[0].id, text=text, now=NOW)
    assert result.claims[0].outcome == "accepted" and claim.status == ClaimStatus.ACCEPTED


def test_inquiry_level_errors_are_reported_not_posted(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    text = x277([f"TRN*2*{claim.account_number}", "STC*P2:20"], inquiry=["TRN*2*R0001", "STC*E0:0"])
    result = post_277(organization_id=org[0].id, text=text, now=NOW)
    assert result.inquiry_messages == [
        "level 21: E0:0 Response not possible, error on the request: Cannot provide further status electronically"
    ]
    assert [c.category for c in result.claims] == ["P2"]


def test_posting_the_same_277_twice_changes_nothing_the_second_time(org) -> None:  # noqa: ANN001
    records, missing, finalized = _claim(org), _claim(org), _claim(org)
    text = x277(
        [f"TRN*2*{records.account_number}", "STC*R4:252"], [f"TRN*2*{missing.account_number}", "STC*A4:35"],
        [f"TRN*2*{finalized.account_number}", "STC*F1:65"],
    )  # fmt: skip
    post_277(organization_id=org[0].id, text=text, now=NOW)
    before = _counts()
    again = post_277(organization_id=org[0].id, text=text, now=LATER)
    assert [c.changed for c in again.claims] == [False, False, False] and _counts() == before
    assert (records.status_at, missing.status_at, finalized.status_at) == (NOW, NOW, NOW)


def test_an_unknown_claim_refuses_the_file_without_an_edi_file_and_changes_nothing(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    text = x277([f"TRN*2*{claim.account_number}", "STC*F1:65"], ["TRN*2*GHOST-1", "STC*F1:65"])
    with pytest.raises(
        ValidationFailed, match="277: no submitted claim of this organization for account number.s. GHOST-1"
    ):
        post_277(organization_id=org[0].id, text=text, now=NOW)
    db.session.expire_all()
    assert claim.status_category is None and _counts() == (0, 0)
    inbound = make_edi_file(org[0].id, kind="277")
    result = post_277(organization_id=org[0].id, text=text, now=NOW, edi_file_id=inbound.id)
    assert result.unmatched == ["GHOST-1"] and claim.status_category == "F1"
    item = db.session.get(WorkItem, result.exception_item_id)
    assert (item.kind, item.edi_file_id) == ("posting_exception", inbound.id)


def test_a_malformed_277_is_refused_naming_the_segment(org) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match=r"277: segment \d+ \(STC\): STC02 is not a valid date"):
        post_277(organization_id=org[0].id, text=x277(["TRN*2*X-1", "STC*F1:65*20261399"]), now=NOW)


def test_the_claim_level_status_sample_posts_each_claim(org) -> None:  # noqa: ANN001
    text = shared_sample("277/lfh__claim-level-status.277")
    claims = [make_claim(org[1], org[2], status=ClaimStatus.ACCEPTED, account_number=a)
              for a in ("SM123456", "J0234567", "ABCXYC3")]  # fmt: skip
    result = post_277(organization_id=org[0].id, text=text, now=NOW)
    assert [(c.account_number, c.category, c.outcome) for c in result.claims] == [
        ("SM123456", "P3", "pending"), ("J0234567", "F0", "finalized"), ("ABCXYC3", "F2", "finalized")
    ]  # fmt: skip
    assert [c.status_category for c in claims] == ["P3", "F0", "F2"]


def test_a_later_records_request_opens_a_new_item_but_the_same_one_does_not(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    first = x277([f"TRN*2*{claim.account_number}", "STC*R4:252*20261120"])
    post_277(organization_id=org[0].id, text=first, now=NOW)
    post_277(organization_id=org[0].id, text=first, now=LATER)
    post_277(organization_id=org[0].id, text=x277([f"TRN*2*{claim.account_number}", "STC*R4:252*20261215"]), now=LATER)
    keys = db.session.scalars(select(WorkItem.dedupe_key).order_by(WorkItem.id))
    assert list(keys) == [
        f"work_denial:claim:{claim.id}:v1:R4:2026-11-20",
        f"work_denial:claim:{claim.id}:v1:R4:2026-12-15",
    ]


def test_a_void_the_277_accepts_closes_and_signals_claim_voided(org) -> None:  # noqa: ANN001
    claim = make_claim(org[1], org[2], status=ClaimStatus.SUBMITTED, frequency_code="8", payer_claim_number="PCN1")
    make_submission(claim, ack_status=None)
    heard: list[int] = []

    def listen(sender: Claim, **kw: object) -> None:
        heard.append(sender.id)

    signals.claim_voided.connect(listen)
    try:
        post_277(organization_id=org[0].id, text=x277([f"TRN*2*{claim.account_number}", "STC*A2:20*20261119"]),
                 now=NOW)  # fmt: skip
    finally:
        signals.claim_voided.disconnect(listen)
    assert claim.status == ClaimStatus.CLOSED and heard == [claim.id]
    assert any(body.startswith("Void accepted (277)") for body in _log(claim))
