"""Posting 999 and 277CA acknowledgments: front-end rejections become fix-rejection work (never filed),
acceptances move claims to accepted, unknown control numbers or claims change nothing, reposting is harmless."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import enter_charge, reopen_rejected_claim
from backoffice.errors import InvalidTransition, ValidationFailed
from backoffice.exchange.ack_posting import post_277ca, post_999
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.work.models import Interaction, WorkItem
from tests import factories as f
from tests.factories import NOW
from tests.factories_edi_posting import make_claim, make_edi_file, make_submission, x277ca, x999
from tests.x12_checks import shared_sample

LATER = NOW + timedelta(hours=2)


@pytest.fixture
def org(ctx):  # noqa: ANN001, ANN201
    organization = f.make_org()
    practice = f.make_practice(organization)
    payer = f.make_payer(organization, payer_id="ACME")
    patient = f.make_patient(practice, payer)
    return organization, practice, patient


def _claim(org, **kw):  # noqa: ANN001, ANN003, ANN202
    return make_claim(org[1], org[2], **kw)


def _items(kind: str = "fix_rejection") -> list[WorkItem]:
    return list(db.session.scalars(select(WorkItem).where(WorkItem.kind == kind).order_by(WorkItem.id)))


def _log(claim: Claim) -> list[str]:
    rows = db.session.scalars(select(Interaction).where(Interaction.claim_id == claim.id).order_by(Interaction.id))
    return [row.body or "" for row in rows]


def _counts() -> tuple[int, int]:
    return db.session.scalar(select(func.count(WorkItem.id))), db.session.scalar(select(func.count(Interaction.id)))


REJECTED_SET = ["AK2*837*0001*005010X222A1", "IK3*NM1*17*2010BA*8", "IK4*9*67*7*BADID", "IK4*3:2*1065*1",
                "IK3*DTP*40**3", "IK5*R*5"]  # fmt: skip
ACCEPTED_SET = ["AK2*837*0002*005010X222A1", "IK5*A"]


def _group(*sets: list[str], group: str = "41", status: str = "P", extra: str = "") -> list[str]:
    n = len(sets)
    return [f"AK1*HC*{group}*005010X222A1", *(s for t in sets for s in t), f"AK9*{status}*{n}*{n}*{n - 1}{extra}"]


# ---- 999 ---------------------------------------------------------------------------------------------------------


def test_a_rejected_transaction_set_rejects_every_claim_in_it_with_the_errors_named(org) -> None:  # noqa: ANN001
    first, second, other = _claim(org), _claim(org), _claim(org)
    subs = [make_submission(first), make_submission(second), make_submission(other, transaction="0002")]
    result = post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET, ACCEPTED_SET)), now=NOW)
    assert result.rejected == [first.account_number, second.account_number]
    assert result.pending == [other.account_number]
    for claim, sub in zip((first, second), subs, strict=False):
        assert claim.status == ClaimStatus.REJECTED and claim.status_at == NOW
        assert (sub.ack_status, sub.acked_at) == ("rejected", NOW)
    items = _items()
    assert [(i.claim_id, i.queue, i.dedupe_key) for i in items] == [
        (first.id, "rejections", f"fix_rejection:claim:{first.id}:v1"),
        (second.id, "rejections", f"fix_rejection:claim:{second.id}:v1"),
    ]
    assert items[0].sla_policy == "default:fix_rejection:1bd"  # 6.6: fixed within 1 business day
    opened = db.session.scalars(select(Interaction).where(Interaction.work_item_id == items[0].id)).one()
    assert "IK5 R for transaction set 0001: 5 One or more segments in error" in opened.body
    assert "IK3 NM1 at 17 loop 2010BA: 8 Segment has data element errors" in opened.body
    assert "IK4 NM109 (element 67): 7 Invalid code value" in opened.body
    assert "IK4 NM103-2 (element 1065): 1 Required data element missing" in opened.body
    assert "IK3 DTP at 40: 3 Required segment missing" in opened.body
    assert "resubmit as an original" in opened.body and "BADID" not in opened.body  # IK404 may be patient data
    evidence = opened.data["evidence"]
    assert evidence["ik5"] == ["R", "5"] and evidence["ik3"][0]["ik4"][0] == {
        "position": 9, "component": None, "element": "67", "code": "7"
    }  # fmt: skip
    assert "BADID" not in str(evidence)
    assert any(body.startswith("Rejected by 999: 999 IK5 R") for body in _log(first))
    assert other.status == ClaimStatus.SUBMITTED and subs[2].ack_status is None
    assert _log(other) == ["999 A for transaction set 0002 of group 41 (999 0001); waiting for the 277CA"]


def test_a_rejected_group_rejects_even_the_sets_it_lists_as_accepted(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim, transaction="0002")
    text = x999(_group(ACCEPTED_SET, status="R", extra="*5"))
    result = post_999(organization_id=org[0].id, text=text, now=NOW)
    assert result.rejected == [claim.account_number] and claim.status == ClaimStatus.REJECTED
    (item,) = _items()
    reason = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == item.id)).one()
    assert "999 AK9 R: group 41 rejected (5 Number of included transaction sets does not match actual count)" in reason


def test_a_group_rejected_with_no_transaction_sets_rejects_every_claim_sent_in_the_group(org) -> None:  # noqa: ANN001
    one, two = _claim(org), _claim(org)
    make_submission(one, group="77", transaction="0001")
    make_submission(two, group="77", transaction="0002")
    post_999(organization_id=org[0].id, text=x999(["AK1*HC*77*005010X222A1", "AK9*R*2*2*0*4"]), now=NOW)
    assert one.status == two.status == ClaimStatus.REJECTED and len(_items()) == 2


def test_unknown_control_numbers_refuse_the_whole_999_and_change_nothing(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    sub = make_submission(claim)
    before = _counts()
    with pytest.raises(ValidationFailed, match="group 41 transaction set 0002") as error:
        post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET, ACCEPTED_SET)), now=NOW)
    assert "0001" not in str(error.value)
    db.session.expire_all()
    assert claim.status == ClaimStatus.SUBMITTED and sub.ack_status is None and _counts() == before


def test_another_organizations_submission_is_never_matched(org) -> None:  # noqa: ANN001
    other_org = f.make_org()
    other_practice = f.make_practice(other_org)
    stranger = make_claim(other_practice, f.make_patient(other_practice, f.make_payer(other_org)))
    make_submission(stranger)
    with pytest.raises(ValidationFailed, match="no claim submission of this organization for group 41"):
        post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW)
    assert stranger.status == ClaimStatus.SUBMITTED


def test_control_numbers_are_compared_as_numbers(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim, group="000000041", transaction="1")
    post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW)
    assert claim.status == ClaimStatus.REJECTED


def test_posting_the_same_999_twice_changes_nothing_the_second_time(org) -> None:  # noqa: ANN001
    rejected, accepted = _claim(org), _claim(org)
    make_submission(rejected)
    make_submission(accepted, transaction="0002")
    text = x999(_group(REJECTED_SET, ACCEPTED_SET))
    post_999(organization_id=org[0].id, text=text, now=NOW)
    before = _counts()
    again = post_999(organization_id=org[0].id, text=text, now=LATER)
    assert again.unchanged == [rejected.account_number, accepted.account_number] and not again.rejected
    assert _counts() == before and rejected.status_at == NOW


def test_a_999_for_a_version_already_reopened_does_not_reject_the_new_version(org) -> None:  # noqa: ANN001
    claim = _claim(org, status=ClaimStatus.DRAFT, version=2)
    sub = make_submission(claim, version=1)
    result = post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW)
    assert result.unchanged == [claim.account_number] and claim.status == ClaimStatus.DRAFT
    assert sub.ack_status == "rejected" and _items() == []


def test_acknowledgments_of_other_groups_are_skipped_not_refused(org) -> None:  # noqa: ANN001
    text = x999(["AK1*HS*5*005010X279A1", "AK2*270*0001*005010X279A1", "IK5*A", "AK9*A*1*1*1"])
    result = post_999(organization_id=org[0].id, text=text, now=NOW)
    assert result.skipped == ["group 5 (HS)"] and _counts() == (0, 0)


def test_a_malformed_999_is_refused_naming_the_segment(org) -> None:  # noqa: ANN001
    text = x999(["AK1*HC*41*005010X222A1", "AK2*837*0001*005010X222A1", "AK9*R*1*1*0"])
    with pytest.raises(ValidationFailed, match=r"999: segment \d+ \(AK9\): AK9 before the IK5"):
        post_999(organization_id=org[0].id, text=text, now=NOW)


def test_an_edi_file_of_another_organization_is_refused(org) -> None:  # noqa: ANN001
    stranger_file = make_edi_file(f.make_org().id)
    with pytest.raises(ValidationFailed, match=f"edi file {stranger_file.id}: not a file of this organization"):
        post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW, edi_file_id=stranger_file.id)


# ---- 277CA -------------------------------------------------------------------------------------------------------


def test_a_277ca_accepts_rejects_and_notes_pending_claims(org) -> None:  # noqa: ANN001
    ok, bad, waiting = _claim(org), _claim(org), _claim(org)
    subs = [make_submission(c) for c in (ok, bad, waiting)]
    text = x277ca(
        [f"TRN*2*{ok.account_number}", "STC*A2:20*20261122*WQ*150"],
        [f"TRN*2*{bad.account_number}", "STC*A7:562:85*20261122*U*150", "REF*D9*TRACE1"],
        [f"TRN*2*{waiting.account_number}", "STC*P1:20*20261122**150"],
    )
    result = post_277ca(organization_id=org[0].id, text=text, now=NOW)
    assert (result.accepted, result.rejected, result.pending) == (
        [ok.account_number], [bad.account_number], [waiting.account_number]
    )  # fmt: skip
    assert (ok.status, ok.accepted_at, ok.status_category, subs[0].ack_status) == (
        ClaimStatus.ACCEPTED, NOW, "A2", "accepted"
    )  # fmt: skip
    assert (bad.status, bad.status_category, subs[1].ack_status) == (ClaimStatus.REJECTED, "A7", "rejected")
    assert (waiting.status, waiting.status_category, waiting.status_at, subs[2].ack_status) == (
        ClaimStatus.SUBMITTED, "P1", NOW, None
    )  # fmt: skip
    (item,) = _items()
    assert item.claim_id == bad.id and item.queue == "rejections"
    reason = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == item.id)).one()
    assert (
        "277CA A7:562:85 Rejected for invalid information: Entity's National Provider Identifier (NPI)"
        " (billing provider)" in reason
    )
    assert _log(ok) == ["277CA A2:20 Accepted into adjudication: Accepted for processing"]


def test_a_payer_rejection_after_the_clearinghouse_accepted_still_rejects(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    post_277ca(organization_id=org[0].id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A1:19:PR"]), now=NOW)
    assert claim.status == ClaimStatus.ACCEPTED
    payer = x277ca([f"TRN*2*{claim.account_number}", "STC*A3:21*20261123*U", "STC*A6:254"])
    result = post_277ca(organization_id=org[0].id, text=payer, now=LATER)
    assert result.rejected == [claim.account_number] and claim.status == ClaimStatus.REJECTED
    assert claim.status_category == "A3" and len(_items()) == 1


def test_a_277ca_not_found_is_a_rejection(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    post_277ca(organization_id=org[0].id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A4:35"]), now=NOW)
    assert claim.status == ClaimStatus.REJECTED and claim.status_category == "A4" and len(_items()) == 1


def test_a_claim_rejected_by_the_999_and_the_277ca_gets_one_item(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW)
    result = post_277ca(
        organization_id=org[0].id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A7:562:85"]), now=LATER
    )
    assert result.unchanged == [claim.account_number] and len(_items()) == 1


def test_posting_the_same_277ca_twice_changes_nothing_the_second_time(org) -> None:  # noqa: ANN001
    ok, bad, waiting = _claim(org), _claim(org), _claim(org)
    for claim in (ok, bad, waiting):
        make_submission(claim)
    text = x277ca(
        [f"TRN*2*{ok.account_number}", "STC*A2:20"], [f"TRN*2*{bad.account_number}", "STC*A6:254"],
        [f"TRN*2*{waiting.account_number}", "STC*P1:20*20261122"],
    )  # fmt: skip
    post_277ca(organization_id=org[0].id, text=text, now=NOW)
    before = _counts()
    again = post_277ca(organization_id=org[0].id, text=text, now=LATER)
    assert sorted(again.unchanged) == sorted(c.account_number for c in (ok, bad, waiting))
    assert _counts() == before and ok.accepted_at == NOW and waiting.status_at == NOW


def test_an_unknown_claim_without_a_file_refuses_the_277ca_and_changes_nothing(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    text = x277ca([f"TRN*2*{claim.account_number}", "STC*A2:20"], ["TRN*2*NOPE-9", "STC*A2:20"])
    with pytest.raises(
        ValidationFailed, match="277CA: no submitted claim of this organization for account number.s. NOPE-9"
    ):
        post_277ca(organization_id=org[0].id, text=text, now=NOW)
    db.session.expire_all()
    assert claim.status == ClaimStatus.SUBMITTED and _counts() == (0, 0)


def test_an_unknown_claim_with_a_file_becomes_a_posting_exception_on_it(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    inbound = make_edi_file(org[0].id, kind="277CA")
    text = x277ca([f"TRN*2*{claim.account_number}", "STC*A2:20"], ["TRN*2*NOPE-9", "STC*A2:20"])
    result = post_277ca(organization_id=org[0].id, text=text, now=NOW, edi_file_id=inbound.id)
    assert result.unmatched == ["NOPE-9"] and claim.status == ClaimStatus.ACCEPTED
    (item,) = _items("posting_exception")
    assert (item.edi_file_id, item.practice_id, item.queue, result.exception_item_id) == (
        inbound.id, org[1].id, "posting", item.id
    )  # fmt: skip


# ---- reopening a rejection ----------------------------------------------------------------------------------------


def test_a_rejected_claim_reopens_as_the_next_version_of_an_original_and_is_rescrubbed(ctx) -> None:  # noqa: ANN001
    organization = f.make_org()
    practice = f.make_practice(organization, fee_schedule={"90837": "200.00", "96127": "15.00"})
    payer = f.make_payer(organization)
    patient = f.make_patient(practice, payer)
    session = f.make_session(practice, patient=patient, date_of_service=date(2026, 11, 16), minutes=53,
                             screening_count=1)  # fmt: skip
    claim = enter_charge(session=session, now=NOW, today=date(2026, 11, 18))
    assert claim.status == ClaimStatus.SCRUBBED
    claim.status = ClaimStatus.SUBMITTED
    db.session.commit()
    make_submission(claim)
    post_277ca(organization_id=organization.id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A7:254"]), now=NOW)
    reopened = reopen_rejected_claim(claim=claim, actor=None, now=LATER)
    assert (reopened.status, reopened.version, reopened.frequency_code) == (ClaimStatus.SCRUBBED, 2, "1")
    assert [line.cpt for line in reopened.lines] == ["90837", "96127"] and reopened.status_category is None
    assert (
        _log(claim)[-1] == "Reopened after a front-end rejection as version 2 (original, frequency 1); scrubbed clean"
    )
    with pytest.raises(InvalidTransition, match="only a rejected claim can be reopened"):
        reopen_rejected_claim(claim=reopened, actor=None, now=LATER)
    assert db.session.scalar(select(func.count(ClaimSubmission.id))) == 1


# ---- the shared samples --------------------------------------------------------------------------------------------


def test_the_rejected_999_sample_rejects_the_claim_sent_in_that_set(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim, group="28", transaction="0028")
    result = post_999(organization_id=org[0].id, text=shared_sample("999/ims__x12_999_rejected.txt"), now=NOW)
    assert result.rejected == [claim.account_number] and claim.status == ClaimStatus.REJECTED
    reason = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == _items()[0].id)).one()
    assert "IK3 NM at 17: 1 Unrecognized segment ID" in reason and "AK9 R: group 28 rejected" in reason


def test_the_accepted_999_sample_leaves_the_claim_waiting_for_the_277ca(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim, group="17456", transaction="1")
    result = post_999(organization_id=org[0].id, text=shared_sample("999/ims__x12_999_accepted.txt"), now=NOW)
    assert result.pending == [claim.account_number] and claim.status == ClaimStatus.SUBMITTED


def test_the_277ca_samples_accept_and_reject(org) -> None:  # noqa: ANN001
    accepted, rejected = _claim(org, account_number="5781"), _claim(org, account_number="3920394930203")
    make_submission(accepted)
    make_submission(rejected)
    post_277ca(organization_id=org[0].id, text=shared_sample("277/ims__x12_277CA_accepted.txt"), now=NOW)
    post_277ca(organization_id=org[0].id, text=shared_sample("277/ims__x12_277CA_rejected.txt"), now=NOW)
    assert (accepted.status, accepted.status_category) == (ClaimStatus.ACCEPTED, "A2")
    assert (rejected.status, rejected.status_category) == (ClaimStatus.REJECTED, "A7")
    reason = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == _items()[0].id)).one()
    assert "A7:562:85 Rejected for invalid information: Entity's National Provider Identifier (NPI)" in reason


def test_a_277ca_acceptance_does_not_undo_a_999_rejection_of_the_same_version(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    sub = make_submission(claim)
    post_999(organization_id=org[0].id, text=x999(_group(REJECTED_SET)), now=NOW)
    result = post_277ca(
        organization_id=org[0].id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A1:19:PR"]), now=LATER
    )
    assert result.pending == [claim.account_number] and not result.accepted
    assert (claim.status, claim.status_category, sub.ack_status) == (ClaimStatus.REJECTED, None, "rejected")
    assert _log(claim)[-1].endswith("(not applied: this version was already rejected)")


def test_a_forwarded_claim_counts_as_accepted(org) -> None:  # noqa: ANN001
    claim = _claim(org)
    make_submission(claim)
    post_277ca(organization_id=org[0].id, text=x277ca([f"TRN*2*{claim.account_number}", "STC*A0:16:PR"]), now=NOW)
    assert (claim.status, claim.status_category) == (ClaimStatus.ACCEPTED, "A0")


def test_a_reopened_claim_whose_fix_is_incomplete_stays_draft_with_the_findings(ctx) -> None:  # noqa: ANN001
    organization = f.make_org()
    practice = f.make_practice(organization, fee_schedule={"90837": "200.00", "96127": "15.00"})
    patient = f.make_patient(practice, f.make_payer(organization))
    session = f.make_session(practice, patient=patient, date_of_service=date(2026, 11, 16), minutes=53)
    claim = enter_charge(session=session, now=NOW, today=date(2026, 11, 18))
    claim.status = ClaimStatus.REJECTED
    practice.fee_schedule = {}
    db.session.commit()
    reopened = reopen_rejected_claim(claim=claim, actor=None, now=LATER)
    assert (reopened.status, reopened.version) == (ClaimStatus.DRAFT, 2)
    assert "FEE-MISSING" in [finding["rule"] for finding in reopened.findings]
    assert _log(claim)[-1].endswith("error(s) to fix before submission")


def test_a_rejected_claim_without_a_session_cannot_be_rescrubbed(org) -> None:  # noqa: ANN001
    claim = _claim(org, status=ClaimStatus.REJECTED)
    with pytest.raises(ValidationFailed, match=f"claim {claim.account_number}: no session to re-scrub"):
        reopen_rejected_claim(claim=claim, actor=None, now=NOW)
    assert claim.version == 1


def test_a_late_acknowledgment_closes_the_missing_acknowledgment_item(org) -> None:  # noqa: ANN001
    from backoffice.work.chains import open_item

    claim = _claim(org)
    make_submission(claim)
    chase = open_item(practice_id=claim.practice_id, kind="follow_up", claim_id=claim.id, now=NOW,
                      dedupe_key=f"claim:{claim.id}:ack", reason="no 999/277CA acknowledgment")  # fmt: skip
    text = x277ca([f"TRN*2*{claim.account_number}", "STC*A2:20*20261122*WQ*150"])
    post_277ca(organization_id=org[0].id, text=text, now=NOW + timedelta(days=3))
    db.session.refresh(chase)
    assert (str(chase.state), chase.result["resolved_by"]) == ("done", "277CA acceptance")
    bodies = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == chase.id)).all()
    assert bodies[-1] == "Acknowledgment received: nothing to chase"
