"""Authorizations that count (billing-rules §8.3), against the real database: each billed claim takes a visit (or
its units) from the authorization in force for its payer, CPT and date of service; the scrubber stops a session no
authorization can take; the 837P carries that authorization's number; a void or a payer reversal gives the units
back; the re-authorization watch sees real consumption and the sessions already held."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backoffice import signals
from backoffice.authorizations.models import AuthorizationUse
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.claims.services import enter_charge, reopen_rejected_claim
from backoffice.exchange.claim_batches import stored_claim_entry
from backoffice.extensions import db
from backoffice.patients.models import Authorization
from backoffice.remits.services import post_835
from backoffice.scrubber.queries import scrub_stored_session
from backoffice.sessions.models import Session
from backoffice.sweeps import services as sweeps
from backoffice.work.models import Interaction, WorkItem
from tests import factories as f
from tests.test_post_835 import clp, era, svc

FIRST = date(2026, 6, 3)  # a Wednesday inside the ICD-10-CM release the checks use


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


@pytest.fixture
def w(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org, fee_schedule={"90837": "200.00", "90834": "150.00"})
    payer = f.make_payer(org, payer_id="1512345678", prior_auth_cpts=["90837"], filing_limit_days=365)
    provider = f.make_provider(practice, npi="1234567893")
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    auth = Authorization(patient_id=patient.id, payer_id=payer.id, number="PA-10", cpt_codes=["90837"],
                         counts_visits=True, authorized=10, used=0, start_date=date(2026, 6, 1),
                         end_date=date(2026, 12, 31))  # fmt: skip
    db.session.add(auth)
    db.session.commit()
    return {"org": org, "practice": practice, "payer": payer, "provider": provider, "patient": patient, "auth": auth}


def session(w, day: date, **kw):  # noqa: ANN001, ANN003, ANN201
    values = {"date_of_service": day, "minutes": 53, "diagnoses": ["F33.1"]} | kw
    return f.make_session(w["practice"], w["provider"], w["patient"], **values)


def bill(w, day: date) -> Claim:  # noqa: ANN001
    """The session of ``day`` held and entered the next day."""
    return enter_charge(session=session(w, day), now=at(day + timedelta(days=1)), today=day + timedelta(days=1))


def rules_of(claim: Claim) -> list[str]:
    return [finding["rule"] for finding in claim.findings]


def first_log(item: WorkItem) -> str:
    query = select(Interaction.body).where(Interaction.work_item_id == item.id).order_by(Interaction.id)
    return db.session.scalars(query).first()


def reauth_items(w) -> list[WorkItem]:  # noqa: ANN001
    return list(db.session.scalars(select(WorkItem).where(WorkItem.authorization_id == w["auth"].id)))


def test_ten_visits_the_reauth_item_comes_before_the_ninth_and_the_scrubber_stops_the_eleventh(w) -> None:  # noqa: ANN001
    days = [FIRST + timedelta(weeks=n) for n in range(11)]
    for n, day in enumerate(days[:8], start=1):
        claim = bill(w, day)
        assert claim.status == ClaimStatus.SCRUBBED, rules_of(claim)
        db.session.refresh(w["auth"])
        assert w["auth"].used == n
        sweeps.watch_authorizations(now=at(day + timedelta(days=1)))
        assert len(reauth_items(w)) == (1 if n >= 8 else 0), f"after session {n}"
    (item,) = reauth_items(w)
    assert item.kind == "reauthorize" and item.created_at < at(days[8])
    body = first_log(item)
    assert "authorization PA-10" in body and "8 of 10 used" in body
    assert [bill(w, day).status for day in days[8:10]] == [ClaimStatus.SCRUBBED] * 2
    eleventh = bill(w, days[10])
    assert eleventh.status == ClaimStatus.DRAFT and "AUTH-EXHAUSTED" in rules_of(eleventh)
    db.session.refresh(w["auth"])
    assert (w["auth"].used, w["auth"].remaining) == (10, 0)
    assert db.session.scalar(select(func.count()).select_from(AuthorizationUse)) == 10


def test_the_837p_ref_g1_is_the_number_of_the_authorization_the_claim_drew_on(w) -> None:  # noqa: ANN001
    claim = bill(w, FIRST)
    assert claim.lines[0].cpt == "90837"
    db.session.expire_all()  # the factories' rows hold plain strings where the columns give enums
    _, _, info = stored_claim_entry(claim)
    assert info.prior_auth == "PA-10"  # the session itself carried no auth_number


def test_a_session_out_of_the_authorization_dates_is_stopped(w) -> None:  # noqa: ANN001
    claim = bill(w, date(2026, 5, 27))
    assert claim.status == ClaimStatus.DRAFT and "AUTH-DATES" in rules_of(claim)
    db.session.refresh(w["auth"])
    assert w["auth"].used == 0


def test_a_session_scrubbed_again_is_not_stopped_by_its_own_visit(w) -> None:  # noqa: ANN001
    w["auth"].used = 9  # nine taken before we billed anything
    db.session.commit()
    claim = bill(w, FIRST)
    assert claim.status == ClaimStatus.SCRUBBED
    result, _ = scrub_stored_session(_session_of(claim), today=FIRST)
    assert not [x for x in result.findings if x.rule.startswith("AUTH-")]


def _session_of(claim: Claim) -> Session:
    return db.session.get(Session, claim.session_id)


def test_a_void_gives_the_visit_back_and_the_next_session_goes_through(w) -> None:  # noqa: ANN001
    w["auth"].used = 9
    db.session.commit()
    tenth = bill(w, FIRST)
    blocked = bill(w, FIRST + timedelta(weeks=1))
    assert "AUTH-EXHAUSTED" in rules_of(blocked)
    now = at(FIRST + timedelta(days=10))
    signals.claim_voided.send(tenth, now=now)
    db.session.commit()
    db.session.refresh(w["auth"])
    assert w["auth"].used == 9
    use = db.session.scalar(select(AuthorizationUse).where(AuthorizationUse.claim_id == tenth.id))
    assert use.released_at == now and "voided" in use.released_reason
    result, _ = scrub_stored_session(_session_of(blocked), today=FIRST + timedelta(days=10))
    assert not [x for x in result.findings if x.rule.startswith("AUTH-")]
    logs = db.session.scalars(select(Interaction.body).where(Interaction.claim_id == tenth.id)).all()
    assert any(body.startswith("Authorization units given back") for body in logs)


def test_a_payer_reversal_gives_the_visit_back_and_a_repayment_takes_it_again(w) -> None:  # noqa: ANN001
    claim = bill(w, FIRST)
    claim.status = ClaimStatus.SUBMITTED
    db.session.commit()
    org, account, now = w["org"].id, claim.account_number, at(FIRST + timedelta(days=20))
    post_835(organization_id=org, now=now, text=era(clp(account, "1", "200", "150", "0",
                                                        svc("90837", "200", "150", "CAS*CO*45*50"))))  # fmt: skip
    db.session.refresh(w["auth"])
    assert w["auth"].used == 1
    post_835(organization_id=org, now=now, text=era(clp(account, "22", "-200", "-150", "0",
             svc("90837", "-200", "-150", "CAS*CO*45*-50")), trace="EFT2"))  # fmt: skip
    db.session.refresh(w["auth"])
    assert w["auth"].used == 0
    post_835(organization_id=org, now=now, text=era(clp(account, "1", "200", "150", "0",
             svc("90837", "200", "150", "CAS*CO*45*50")), trace="EFT3"))  # fmt: skip
    db.session.refresh(w["auth"])
    assert w["auth"].used == 1
    assert db.session.scalar(select(func.count()).select_from(AuthorizationUse)) == 1
    assert D(claim.total_charge) == D("200.00")


def test_the_watch_counts_sessions_held_but_not_billed_yet(w) -> None:  # noqa: ANN001
    for n in range(6):
        bill(w, FIRST + timedelta(weeks=n))
    now = at(FIRST + timedelta(weeks=6, days=1))
    sweeps.watch_authorizations(now=now)
    assert reauth_items(w) == []  # 4 left
    session(w, FIRST + timedelta(weeks=5, days=3))  # held since the last one billed, not billed yet
    session(w, FIRST + timedelta(weeks=6))
    sweeps.watch_authorizations(now=now)
    (item,) = reauth_items(w)
    body = first_log(item)
    assert "6 of 10 used" in body


def test_a_claim_reopened_after_a_rejection_does_not_take_its_visit_twice(w) -> None:  # noqa: ANN001
    claim = bill(w, FIRST)
    claim.status = ClaimStatus.REJECTED
    db.session.commit()
    reopen_rejected_claim(claim=claim, actor=None, now=at(FIRST + timedelta(days=3)))
    db.session.refresh(w["auth"])
    assert w["auth"].used == 1
    assert db.session.scalar(select(func.count()).select_from(AuthorizationUse)) == 1
