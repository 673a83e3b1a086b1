"""Posting an 835: amounts on claims and lines, statuses, patient ledger, denial routing to work items,
duplicates, unbalanced files, unmatched claims, reversals, secondary claims, all-or-nothing."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from backoffice.automation import runner
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.clearinghouse.base import inbound_files
from backoffice.errors import ValidationFailed
from backoffice.exchange.ingest import receive_file
from backoffice.exchange.models import EdiFile
from backoffice.extensions import db
from backoffice.patients.models import Coverage, LedgerEntry
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.remits.queries import patient_balance, prior_payer_for
from backoffice.remits.services import post_835
from backoffice.tasks import get_queue
from backoffice.work import chains
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from backoffice.x12.claim837_cob import line_adjudication_segments, other_payer_segments
from backoffice.x12.claim837_format import Field
from tests import factories as f

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York
NY = ZoneInfo("America/New_York")
DOS = date(2026, 11, 2)
GOLDEN = (
    Path(__file__).resolve().parents[2] / "shared" / "x12" / "samples" / "golden" / "handmade_835_mental_health.txt"
)
D = Decimal


@pytest.fixture
def setup(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", appeal_window_days=180)
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    return org, practice, payer, patient


def make_claim(setup, account: str, *lines: tuple[str, str], status: ClaimStatus = ClaimStatus.SUBMITTED) -> Claim:  # noqa: ANN001
    _, practice, payer, patient = setup
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    claim = Claim(practice_id=practice.id, patient_id=patient.id, payer_id=payer.id, coverage_id=coverage.id,
                  account_number=account, status=status, total_charge=sum(D(c) for _, c in lines), created_at=NOW,
                  lines=[ClaimLine(line_number=n, date_of_service=DOS, cpt=cpt, modifiers=[], units=1,
                                   place_of_service="11", diagnosis_pointers=[1], charge=D(charge))
                         for n, (cpt, charge) in enumerate(lines, start=1)])  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def era(*claims: str, trace: str = "EFT1", paid: str | None = None, plb: str = "", control: str = "0001") -> str:
    """An 835 with the given CLP loops; BPR02 is ΣCLP04 − PLB unless ``paid`` says otherwise."""
    body = "~".join(claims)
    total = sum(D(seg.split("*")[4]) for part in claims for seg in part.split("~") if seg.startswith("CLP*"))
    if plb:
        total -= D(plb.split("*")[4])
    bpr = f"BPR*I*{paid or total}*C*ACH*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261116"
    segments = ["ST*835*" + control, bpr,
                f"TRN*1*{trace}*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
                *([body] if body else [])] + ([plb] if plb else [])  # fmt: skip
    count = len("~".join(segments).split("~")) + 1  # a CLP loop is several segments
    segments.append(f"SE*{count}*{control}")
    return wrap("~".join(segments))


def wrap(transactions: str) -> str:
    isa = "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261116*0900*^*00501*000000101*0*P*:~"
    gs = "GS*HP*PAYER01*SUBMITTER01*20261116*0900*101*X*005010X221A1~"
    sets = sum(1 for segment in transactions.split("~") if segment.startswith("ST*"))
    return f"{isa}{gs}{transactions}~GE*{sets}*101~IEA*1*000000101~"


def clp(account: str, status: str, charge: str, paid: str, pr: str, *rest: str) -> str:
    return "~".join([f"CLP*{account}*{status}*{charge}*{paid}*{pr}*12*PCN-{account}*11*1", "NM1*QC*1****MI*M1", *rest])


def svc(cpt: str, charge: str, paid: str, *cas: str, day: str = "20261102") -> str:
    return "~".join([f"SVC*HC:{cpt}*{charge}*{paid}**1", f"DTM*472*{day}", *cas])


def items(**where) -> list[WorkItem]:  # noqa: ANN003
    query = select(WorkItem).filter_by(**where).order_by(WorkItem.id)
    return list(db.session.scalars(query))


def count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_paid_claim_posts_paid_contractual_and_patient_amounts(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    result = post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC1", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))),
    )
    assert (result.remittances_posted, result.claims_posted, result.claims_unmatched) == (1, 1, 0)
    assert result.denial_items == 0 and result.duplicates_refused == [] and result.problems == []
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.PAID and claim.payer_claim_number == "PCN-ACC1"
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("97.50"),
        D("32.50"),
        D("20.00"),
    )
    line = claim.lines[0]
    assert (line.paid_amount, line.adjustment_amount, line.patient_responsibility) == (
        D("97.50"),
        D("32.50"),
        D("20.00"),
    )
    payment = db.session.scalars(select(ClaimPayment)).one()
    assert payment.claim_id == claim.id and payment.paid == D("97.50") and payment.status_code == "1"
    adjustments = db.session.scalars(select(PaymentAdjustment).order_by(PaymentAdjustment.id)).all()
    assert [(a.group, a.reason, a.amount, a.disposition, a.claim_line_id) for a in adjustments] == [
        ("CO", "45", D("32.50"), "contractual", line.id),
        ("PR", "3", D("20.00"), "patient", line.id),
    ]
    ledger = db.session.scalars(select(LedgerEntry)).one()
    assert (ledger.kind, ledger.amount, ledger.reason, ledger.claim_id) == ("patient_responsibility", D("20.00"),
                                                                            "PR-3 copay", claim.id)  # fmt: skip
    assert patient_balance(setup[3].id) == D("20.00")
    logs = db.session.scalars(
        select(Interaction).where(Interaction.claim_id == claim.id).order_by(Interaction.id)
    ).all()
    (log,) = logs  # one row per posted claim, naming both transitions (no 277CA had arrived)
    assert (log.from_state, log.to_state, log.data["transitions"]) == (
        "submitted",
        "paid",
        [["submitted", "accepted"], ["accepted", "paid"]],
    )
    assert "paid 97.50, contractual 32.50, patient 20.00" in log.body and "CO-45 32.50" in log.body
    assert log.body.endswith("claim submitted → accepted → paid")
    assert "Patient" not in " ".join(log.body for log in logs)  # no patient names in the log


def test_a_medical_necessity_denial_becomes_an_appeal_item_in_the_appeals_queue(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC2", ("90837", "200.00"), status=ClaimStatus.ACCEPTED)
    result = post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC2", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*50*200"))),
    )
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.DENIED and claim.paid_amount == D("0.00")
    assert result.denial_items == 1
    (item,) = items(claim_id=claim.id)
    payment_id = db.session.scalar(select(ClaimPayment.id))
    # Automated first: the appeal step drafts the letter from the denial, then hands the item to a biller.
    assert (item.kind, item.queue, item.mode.value, item.claim_payment_id) == (
        "appeal",
        "appeals",
        "automated",
        payment_id,
    )
    # 5 business days from Wed 18 Nov 2026 (Thanksgiving 26 Nov is a holiday): Wed 25 Nov 17:00 New York.
    assert item.due_at.astimezone(NY) == datetime(2026, 11, 25, 17, 0, tzinfo=NY)
    assert (
        item.sla_policy == "denial:medical_necessity:5bd"
        and item.dedupe_key == f"denial:{claim.id}:v1:medical_necessity"
    )
    assert item.priority > 0
    log = db.session.scalar(select(Interaction).where(Interaction.work_item_id == item.id))
    assert log.data["evidence"]["appeal_deadline"] == "2027-05-15" and "ACC2: CO-50 $200.00" in log.body


def test_a_denials_appeal_draft_is_enqueued_on_the_high_queue_when_the_posting_commits(setup, redis_conn) -> None:  # noqa: ANN001
    """The draft does not wait behind the day's other automated steps on ``default``: its job reaches ``high`` with
    the posting's commit, so a worker drafts it while the next file is still being posted."""
    claim = make_claim(setup, "ACC2", ("90837", "200.00"), status=ClaimStatus.ACCEPTED)
    redis_conn.flushdb()
    post_835(organization_id=setup[0].id, now=NOW,
             text=era(clp("ACC2", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*50*200"))))  # fmt: skip
    (item,) = items(claim_id=claim.id, kind="appeal")
    assert [job.args for job in get_queue("high", redis_conn).jobs] == [[item.id]]
    assert get_queue("default", redis_conn).jobs == []


def test_an_appeal_deadline_sooner_than_the_sla_is_the_due_date(setup) -> None:  # noqa: ANN001
    setup[2].appeal_window_days = 3
    db.session.commit()
    make_claim(setup, "ACC3", ("90837", "200.00"))
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC3", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*50*200"))),
    )
    (item,) = items(kind="appeal")
    assert item.due_at.astimezone(NY) == datetime(2026, 11, 19, 17, 0, tzinfo=NY)  # paid 16 Nov + 3 days
    assert item.sla_policy == "appeal-deadline"


def test_denials_route_by_family_with_rarcs_refining_co16(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC4", ("90834", "150.00"), ("90785", "30.00"), ("96127", "15.00"))
    text = era(clp("ACC4", "1", "195", "100", "0",
                   svc("90834", "150", "100", "CAS*CO*45*50"),
                   svc("90785", "30", "0", "CAS*CO*16*30", "LQ*HE*M62"),
                   svc("96127", "15", "0", "CAS*CO*16*15", "LQ*HE*MA130")))  # fmt: skip
    result = post_835(organization_id=setup[0].id, now=NOW, text=text)
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.PARTIALLY_PAID and claim.adjustment_amount == D("50.00")
    assert result.denial_items == 2
    by_queue = {item.queue: item for item in items(claim_id=claim.id)}
    assert set(by_queue) == {"authorization", "coding"}
    assert {item.kind for item in by_queue.values()} == {"work_denial"}
    assert by_queue["authorization"].due_at.astimezone(NY) == datetime(2026, 11, 20, 17, 0, tzinfo=NY)
    assert by_queue["coding"].sla_policy == "denial:coding:2bd"
    logs = {i.queue: db.session.scalar(select(Interaction).where(Interaction.work_item_id == i.id))
            for i in by_queue.values()}  # fmt: skip
    assert "new claim" in logs["coding"].body and logs["coding"].data["evidence"]["appealable"] is False
    assert [a.disposition for a in db.session.scalars(select(PaymentAdjustment).order_by(PaymentAdjustment.id))] == [
        "contractual",
        "denial",
        "denial",
    ]


def test_the_same_payment_twice_is_refused_and_posts_once(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC5", ("90834", "150.00"))
    text = era(clp("ACC5", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20")))
    post_835(organization_id=setup[0].id, now=NOW, text=text)
    again = post_835(organization_id=setup[0].id, now=NOW, text=text)
    assert again.remittances_posted == 0 and again.duplicates_refused == [("1512345678", "EFT1")]
    db.session.refresh(claim)
    assert claim.paid_amount == D("97.50") and count(Remittance) == 1 and count(ClaimPayment) == 1
    assert count(LedgerEntry) == 1


def test_an_unbalanced_transaction_without_a_file_is_refused_and_nothing_is_posted(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC6", ("90834", "150.00"))
    text = era(clp("ACC6", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*30", "CAS*PR*3*20")))
    with pytest.raises(ValidationFailed, match=r"835 transaction 0001 \(trace EFT1\) does not balance.*claim ACC6"):
        post_835(organization_id=setup[0].id, now=NOW, text=text)
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00") and claim.status == ClaimStatus.SUBMITTED and count(Remittance) == 0


def test_an_unbalanced_transaction_in_a_file_becomes_a_posting_exception(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC7", ("90834", "150.00"))
    edi = EdiFile(organization_id=setup[0].id, practice_id=setup[1].id, direction="inbound", kind="835",
                  filename="era.835", sha256="0" * 64, status="received", created_at=NOW)  # fmt: skip
    db.session.add(edi)
    db.session.commit()
    text = era(clp("ACC7", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20")),
               paid="100")  # fmt: skip
    result = post_835(organization_id=setup[0].id, now=NOW, text=text, edi_file_id=edi.id)
    assert result.remittances_posted == 0 and result.exception_items == 1 and count(ClaimPayment) == 0
    (item,) = items(kind="posting_exception")
    assert item.edi_file_id == edi.id and item.queue == "posting"
    assert "BPR02" in result.problems[0]


def test_an_unmatched_claim_is_kept_and_becomes_an_exception_item(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC8", ("90834", "150.00"))
    result = post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(
            clp("ACC8", "1", "150", "150", "0", svc("90834", "150", "150")),
            clp("NOPE1", "1", "100", "80", "0", svc("90832", "100", "80", "CAS*CO*45*20")),
        ),
    )
    assert (result.claims_posted, result.claims_unmatched, result.exception_items) == (1, 1, 1)
    orphan = db.session.scalar(select(ClaimPayment).where(ClaimPayment.account_number == "NOPE1"))
    assert orphan.claim_id is None and orphan.paid == D("80.00")
    (item,) = items(kind="posting_exception")
    assert item.claim_payment_id == orphan.id and item.dedupe_key.endswith(":unmatched:NOPE1")
    assert db.session.scalar(select(Remittance.claims_unmatched)) == 1


def test_a_reversal_takes_the_payment_and_the_patient_balance_back(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC9", ("90834", "150.00"))
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC9", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))),
    )
    result = post_835(organization_id=setup[0].id, now=NOW, text=era(
        clp("ACC9", "22", "-150", "-97.5", "-20", svc("90834", "-150", "-97.5", "CAS*CO*45*-32.5", "CAS*PR*3*-20")),
        trace="EFT2"))  # fmt: skip
    assert result.remittances_posted == 1 and result.denial_items == 0
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.DENIED
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (D("0.00"),) * 3
    assert claim.lines[0].paid_amount == D("0.00")
    kinds = [(e.kind, e.amount) for e in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
    assert kinds == [("patient_responsibility", D("20.00")), ("reversal", D("-20.00"))]
    assert patient_balance(setup[3].id) == D("0.00")
    assert db.session.scalar(select(ClaimPayment.is_reversal).where(ClaimPayment.status_code == "22")) is True


def test_a_reversal_with_its_correction_nets_to_the_corrected_amounts(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC10", ("90834", "150.00"))
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC10", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))),
    )
    post_835(organization_id=setup[0].id, now=NOW, text=era(
        clp("ACC10", "22", "-150", "-97.5", "-20", svc("90834", "-150", "-97.5", "CAS*CO*45*-32.5", "CAS*PR*3*-20")),
        clp("ACC10", "1", "150", "110", "20", svc("90834", "150", "110", "CAS*CO*45*20", "CAS*PR*3*20")),
        trace="EFT3"))  # fmt: skip
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.PAID
    assert (claim.paid_amount, claim.adjustment_amount, claim.patient_responsibility) == (
        D("110.00"),
        D("20.00"),
        D("20.00"),
    )
    assert patient_balance(setup[3].id) == D("20.00")


def test_patient_responsibility_goes_to_a_secondary_claim_when_there_is_secondary_coverage(setup) -> None:  # noqa: ANN001
    org = setup[0]
    second = with_secondary_coverage(setup)
    claim = make_claim(setup, "ACC11", ("90834", "150.00"), ("96127", "15.00"))
    post_835(organization_id=org.id, now=NOW, text=era(
        clp("ACC11", "1", "165", "107.5", "25", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*1*20"),
            svc("96127", "15", "10", "CAS*PR*2*5"))))  # fmt: skip
    assert count(LedgerEntry) == 0
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "ACC11S"))
    assert (secondary.payer_sequence, secondary.parent_claim_id, secondary.payer_id) == ("S", claim.id, second.id)
    assert secondary.status == ClaimStatus.SCRUBBED and secondary.total_charge == D("165.00")
    assert [(line.cpt, line.charge) for line in secondary.lines] == [("90834", D("150.00")), ("96127", D("15.00"))]
    (submit,) = items(kind="submit")
    assert (submit.claim_id, submit.dedupe_key, submit.mode.value) == (secondary.id, f"claim:{secondary.id}:submit",
                                                                       "automated")  # fmt: skip
    prior = prior_payer_for(secondary)
    assert prior.payer.payer_id == "1512345678" and prior.claim_filing_indicator == "CI"
    assert [(line.paid, [(a.group, a.reason, a.amount) for a in line.adjustments]) for line in prior.lines] == [
        (D("97.50"), [("CO", "45", D("32.50")), ("PR", "1", D("20.00"))]),
        (D("10.00"), [("PR", "2", D("5.00"))]),
    ]
    check = Field("claim ACC11S")
    for line, adjudication in zip(secondary.lines, prior.lines, strict=True):
        line_adjudication_segments(check, "line", adjudication, "1512345678", line.cpt, line.charge, 1)
    assert "AMT*D*107.5" in "".join(other_payer_segments(check, prior, D("107.50")))


def test_an_error_mid_file_posts_nothing(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC12", ("90834", "150.00"))
    make_claim(setup, "ACC13", ("90834", "150.00"))
    good = era(clp("ACC12", "1", "150", "150", "0", svc("90834", "150", "150")))
    bad = era(clp("ACC13", "1", "150", "150", "0", svc("90834", "150", "140")), trace="EFT9", control="0002")
    body = lambda text: text.split("~", 2)[2].rsplit("~GE", 1)[0]  # noqa: E731
    with pytest.raises(ValidationFailed, match="0002"):
        post_835(organization_id=setup[0].id, now=NOW, text=wrap(body(good) + "~" + body(bad)))
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00") and count(Remittance) == 0 and count(ClaimPayment) == 0
    assert count(WorkItem) == 0 and count(Interaction) == 0


@pytest.mark.skipif(not GOLDEN.exists(), reason="golden 835 not present")
def test_the_golden_835_posts_its_three_claims_and_plb(setup) -> None:  # noqa: ANN001
    for account, cpt, charge in (("PCN0001", "90834", "150"), ("PCN0002", "90837", "200"), ("PCN0003", "90834", "150")):
        make_claim(setup, account, (cpt, charge))
    db.session.query(ClaimLine).update({"date_of_service": date(2025, 1, 10)})
    db.session.commit()
    result = post_835(organization_id=setup[0].id, now=NOW, text=GOLDEN.read_text())
    assert (result.remittances_posted, result.claims_posted, result.denial_items) == (1, 3, 1)
    remittance = db.session.scalars(select(Remittance)).one()
    assert remittance.total_paid == D("207.50") and remittance.trace_number == "EFT0000123"
    assert remittance.provider_adjustments == [{"reason": "WO", "reference": "PAYERCLM0999", "amount": "10.00"}]
    claims = {c.account_number: c for c in db.session.scalars(select(Claim))}
    assert sum(c.paid_amount for c in claims.values()) == D("217.50")
    assert [claims[a].status for a in ("PCN0001", "PCN0002", "PCN0003")] == ["paid", "paid", "denied"]
    assert patient_balance(setup[3].id) == D("50.00")  # PR-3 20 + PR-1 30
    (item,) = items(kind="appeal")
    assert item.claim_id == claims["PCN0003"].id


def test_a_reversal_of_a_payment_never_posted_is_an_exception_and_changes_nothing(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC14", ("90834", "150.00"), status=ClaimStatus.ACCEPTED)
    result = post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(
            clp("ACC14", "22", "-150", "-97.5", "-20", svc("90834", "-150", "-97.5", "CAS*CO*45*-32.5", "CAS*PR*3*-20"))
        ),
    )
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00") and claim.status == ClaimStatus.ACCEPTED and count(LedgerEntry) == 0
    assert result.exception_items == 1 and result.claims_posted == 0
    (item,) = items(kind="posting_exception")
    assert item.claim_id == claim.id and "never posted" in result.problems[0]


def with_secondary_coverage(setup):  # noqa: ANN001, ANN201
    org, _, _, patient = setup
    second = f.make_payer(org, payer_id="SEC01", name="Second Plan")
    db.session.add(Coverage(patient_id=patient.id, payer_id=second.id, member_id="S123", priority="secondary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    return second


def test_a_claim_the_payer_forwarded_to_the_secondary_is_not_billed_again(setup) -> None:  # noqa: ANN001
    with_secondary_coverage(setup)
    make_claim(setup, "ACC15", ("90834", "150.00"))
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC15", "19", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))),
    )
    assert count(LedgerEntry) == 0 and items(kind="submit") == []
    # the crossed-over secondary claim is on file for the secondary's own 835, but never sent by us
    crossed = db.session.scalar(select(Claim).where(Claim.payer_sequence == "S"))
    assert (crossed.account_number, crossed.status, crossed.submitted_at) == ("ACC15S", ClaimStatus.ACCEPTED, None)
    log = db.session.scalar(select(Interaction).where(Interaction.body.like("835 posted%")))
    assert "forwarded the claim to the secondary payer itself (CLP02 19)" in log.body


def test_a_reversal_after_the_secondary_was_billed_asks_for_review_not_a_negative_balance(setup) -> None:  # noqa: ANN001
    with_secondary_coverage(setup)
    claim = make_claim(setup, "ACC16", ("90834", "150.00"))
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC16", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))),
    )
    post_835(organization_id=setup[0].id, now=NOW, text=era(
        clp("ACC16", "22", "-150", "-97.5", "-20", svc("90834", "-150", "-97.5", "CAS*CO*45*-32.5", "CAS*PR*3*-20")),
        trace="EFT2"))  # fmt: skip
    db.session.refresh(claim)
    assert claim.paid_amount == D("0.00") and count(LedgerEntry) == 0
    (item,) = items(kind="posting_exception")
    assert item.claim_id == claim.id and item.dedupe_key.endswith(":secondary")


def test_the_same_payment_twice_in_one_file_posts_once(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC17", ("90834", "150.00"))
    one = era(clp("ACC17", "1", "150", "150", "0", svc("90834", "150", "150")))
    body = one.split("~", 2)[2].rsplit("~GE", 1)[0]
    result = post_835(organization_id=setup[0].id, now=NOW, text=wrap(body + "~" + body.replace("0001", "0002")))
    assert result.remittances_posted == 1 and result.duplicates_refused == [("1512345678", "EFT1")]
    db.session.refresh(claim)
    assert claim.paid_amount == D("150.00") and count(ClaimPayment) == 1


def test_a_file_that_is_not_an_835_is_refused_naming_the_problem(setup) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed, match="835"):
        post_835(organization_id=setup[0].id, now=NOW, text="ISA*garbage~")
    assert count(Remittance) == 0


@pytest.mark.postgres
def test_two_postings_of_one_payment_at_once_on_postgres_post_it_once(app, setup) -> None:  # noqa: ANN001
    accounts = [f"RACE{n}" for n in range(300)]
    for account in accounts:
        make_claim(setup, account, ("90834", "150.00"))
    text = era(*(clp(a, "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20"))
                 for a in accounts))  # fmt: skip
    organization_id = setup[0].id
    db.session.commit()
    barrier, results, errors = threading.Barrier(2, timeout=60), [], []

    def poster() -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(post_835(organization_id=organization_id, now=NOW, text=text))
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=poster) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(r.remittances_posted for r in results) == [0, 1]
    assert sorted(len(r.duplicates_refused) for r in results) == [0, 1]
    db.session.expire_all()
    assert count(Remittance) == 1 and count(ClaimPayment) == 300 and count(LedgerEntry) == 300
    assert db.session.scalar(select(func.sum(Claim.paid_amount))) == D("29250.00")


def test_a_medicare_necessity_denial_counts_its_appeal_from_presumed_receipt(setup) -> None:  # noqa: ANN001
    setup[2].kind = "medicare"
    db.session.commit()
    make_claim(setup, "ACC18", ("90837", "200.00"))
    post_835(organization_id=setup[0].id, now=NOW, text=era(
        clp("ACC18", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*50*200", "LQ*HE*N115"))))  # fmt: skip
    (item,) = items(kind="appeal")
    log = db.session.scalar(select(Interaction).where(Interaction.work_item_id == item.id))
    # Redetermination: 120 days from receipt, presumed 5 days after the 16 Nov 2026 remittance.
    assert log.data["evidence"]["appeal_deadline"] == "2027-03-21"
    assert log.data["evidence"]["remarks"] == ["N115"] and item.sla_policy == "denial:medical_necessity:5bd"


def test_a_payment_with_only_a_provider_adjustment_posts_the_plb(setup) -> None:  # noqa: ANN001
    text = era(plb="PLB*1234567893*20261231*L6:INTEREST*-3.25")
    result = post_835(organization_id=setup[0].id, now=NOW, text=text)
    assert result.remittances_posted == 1 and result.claims_posted == 0 and count(ClaimPayment) == 0
    remittance = db.session.scalars(select(Remittance)).one()
    assert remittance.total_paid == D("3.25")
    assert remittance.provider_adjustments == [{"reason": "L6", "reference": "INTEREST", "amount": "-3.25"}]


def test_a_denial_the_payer_reprocesses_and_pays_moves_the_claim_to_paid(setup) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC9", ("90837", "200.00"), status=ClaimStatus.ACCEPTED)
    post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC9", "4", "200", "0", "0", svc("90837", "200", "0", "CAS*CO*16*200")), trace="EFT7"),
    )
    db.session.refresh(claim)
    assert claim.status == ClaimStatus.DENIED
    result = post_835(
        organization_id=setup[0].id,
        now=NOW,
        text=era(clp("ACC9", "1", "200", "150", "0", svc("90837", "200", "150", "CAS*CO*45*50")), trace="EFT8"),
    )
    db.session.refresh(claim)
    assert not [p for p in result.problems if "ACC9" in p]
    assert (claim.status, claim.paid_amount) == (ClaimStatus.PAID, D("150.00"))


def test_posting_the_answer_wakes_the_claims_waiting_follow_up_and_its_step_closes_it(setup, redis_conn) -> None:  # noqa: ANN001
    """Work closes itself: the 835 that pays a claim makes its snoozed follow-up ready in the same transaction
    (the ``remittance-posted`` signal), and the follow-up's step then sees the payment and completes it."""
    _, practice, _, patient = setup
    session = f.make_session(practice, patient=patient)
    (follow_up,) = chains.create_chain(session=session, kinds=["follow_up"], now=NOW, automated=("follow_up",))
    claim = make_claim(setup, "ACC9", ("90834", "150.00"))
    claim.session_id = session.id
    db.session.commit()
    assert runner.run_automated_item(follow_up.id, now=NOW)["status"] == "deferred"  # the response window is open
    redis_conn.flushdb()
    later = NOW + timedelta(days=3)
    post_835(organization_id=setup[0].id, now=later,
             text=era(clp("ACC9", "1", "150", "130", "20", svc("90834", "150", "130", "CAS*PR*3*20"))))  # fmt: skip
    woken = db.session.get(WorkItem, follow_up.id, populate_existing=True)
    assert woken.state == ItemState.READY and woken.snoozed_until is None
    assert [job.args for job in get_queue("default", redis_conn).jobs] == [[follow_up.id]]
    log = db.session.scalars(select(Interaction).where(Interaction.work_item_id == follow_up.id)
                             .order_by(Interaction.id.desc())).first()  # fmt: skip
    assert (log.actor_label, log.body, log.to_state) == ("835 posting", "Remittance posted: closing up", "ready")
    assert runner.run_automated_item(follow_up.id, now=later)["status"] == "done"
    done = db.session.get(WorkItem, follow_up.id, populate_existing=True)
    assert done.state == ItemState.DONE and done.result["resolved_by"] == "remittance"


def test_posting_a_denial_leaves_other_claims_follow_ups_waiting(setup, redis_conn) -> None:  # noqa: ANN001
    _, practice, _, patient = setup
    session = f.make_session(practice, patient=patient)
    (follow_up,) = chains.create_chain(session=session, kinds=["follow_up"], now=NOW, automated=("follow_up",))
    claim = make_claim(setup, "ACC10", ("90834", "150.00"))
    claim.session_id = session.id
    make_claim(setup, "OTHER", ("90834", "150.00"))
    db.session.commit()
    assert runner.run_automated_item(follow_up.id, now=NOW)["status"] == "deferred"
    post_835(organization_id=setup[0].id, now=NOW + timedelta(days=3),
             text=era(clp("OTHER", "1", "150", "130", "20", svc("90834", "150", "130", "CAS*PR*3*20"))))  # fmt: skip
    assert db.session.get(WorkItem, follow_up.id, populate_existing=True).state == ItemState.SNOOZED


# ---- inbound files you can trust (issue 17): a file cut short posts nothing and does not block the whole one ----


def test_a_truncated_835_is_refused_and_the_complete_file_then_posts(setup) -> None:  # noqa: ANN001
    paid = make_claim(setup, "ACC1", ("90834", "150.00"))
    denied = make_claim(setup, "ACC2", ("90834", "150.00"))
    whole = era(
        clp("ACC1", "1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*3*20")),
        clp("ACC2", "4", "150", "0", "0", svc("90834", "150", "0", "CAS*CO*50*150")),
    )
    # The transfer stopped after the first claim: no second CLP, no SE, GE or IEA.
    cut = whole[: whole.index("CLP*ACC2")]
    first = receive_file(organization_id=setup[0].id, practice_id=setup[1].id, filename="era.835", content=cut,
                         now=NOW)  # fmt: skip
    assert first.edi_file.status == "failed"
    (problem,) = first.edi_file.problems
    assert "835: incomplete or inconsistent envelopes" in problem and "(ST): the transaction set has no SE" in problem
    assert count(Remittance) == 0 and count(ClaimPayment) == 0
    db.session.refresh(paid)
    assert paid.status == ClaimStatus.SUBMITTED and paid.paid_amount == D("0.00")
    (exception,) = items(kind="posting_exception")
    assert exception.edi_file_id == first.edi_file.id

    second = receive_file(organization_id=setup[0].id, practice_id=setup[1].id, filename="era.835", content=whole,
                          now=NOW)  # fmt: skip
    assert not second.duplicate and second.edi_file.status == "processed"
    db.session.refresh(paid)
    db.session.refresh(denied)
    assert (paid.status, paid.paid_amount) == (ClaimStatus.PAID, D("97.50"))
    assert denied.status == ClaimStatus.DENIED  # the denial the cut file would have lost is posted and routed
    assert count(Remittance) == 1


def test_a_count_that_disagrees_refuses_the_whole_file_naming_the_segment(setup) -> None:  # noqa: ANN001
    make_claim(setup, "ACC1", ("90834", "150.00"))
    text = era(clp("ACC1", "1", "150", "150", "0", svc("90834", "150", "150")))
    bad = text.replace("~GE*1*101~", "~GE*2*101~")
    with pytest.raises(ValidationFailed, match=r"\(GE\): GE01 '2' but the group holds 1 transaction set"):
        post_835(organization_id=setup[0].id, now=NOW, text=bad)
    assert count(Remittance) == 0
    assert post_835(organization_id=setup[0].id, now=NOW, text=text).remittances_posted == 1


def test_an_835_with_a_byte_order_mark_posts_through_the_inbox(setup, tmp_path) -> None:  # noqa: ANN001
    claim = make_claim(setup, "ACC1", ("90834", "150.00"))
    text = era(clp("ACC1", "1", "150", "150", "0", svc("90834", "150", "150")))
    (tmp_path / "from-windows.835").write_bytes(b"\xef\xbb\xbf" + text.replace("~", "~\r\n").encode("ascii") + b"\r\n")
    (inbound,) = inbound_files(tmp_path)
    received = receive_file(organization_id=setup[0].id, practice_id=setup[1].id, filename=inbound.filename,
                            content=inbound.content, now=NOW)  # fmt: skip
    assert received.edi_file.status == "processed", received.edi_file.problems
    db.session.refresh(claim)
    assert (claim.status, claim.paid_amount) == (ClaimStatus.PAID, D("150.00"))
