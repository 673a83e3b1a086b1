"""The month-end roll-forward (issue 18): A/R at start + charges − payments − contractual − write-offs − refunds
± other = A/R at end, to the cent, per practice; the A/R the claims and ledgers hold is put beside it and a
difference is shown; every figure drills down to its claims. Checked on a worked example and as a property over
random 835 postings, patient payments, refunds and write-offs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.demo.seed import seed_demo
from backoffice.extensions import db
from backoffice.money.refunds import decide_refund, post_refund, request_refund
from backoffice.money.services import patient_credit, record_patient_payment
from backoffice.orgs.models import Practice
from backoffice.remits.services import post_835
from backoffice.reports import month_end
from backoffice.supervisor.write_offs import decide_write_off, request_write_off
from backoffice.work import chains
from tests import factories as f
from tests.factories_edi_posting import make_claim

D = Decimal
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)
START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
_trace = count(1)
NOT_WRITABLE = (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.CLOSED)


def era(account: str, charge: D, *, paid: D = D(0), co45: D = D(0), pr: D = D(0), denied: D = D(0)) -> str:
    """An 835 for one claim: paid, CO-45 contractual, PR-1 deductible, CO-50 denial (they sum to the charge)."""
    status = "4" if paid == 0 and denied > 0 else "1"
    cas = [f"CAS*{g}*{r}*{a}" for g, r, a in (("CO", "45", co45), ("PR", "1", pr), ("CO", "50", denied)) if a]
    trace = f"TRC{next(_trace):06d}"
    body = [f"CLP*{account}*{status}*{charge}*{paid}*{pr}*12*PCN-{account}*11*1", "NM1*QC*1****MI*M1",
            f"SVC*HC:90834*{charge}*{paid}**1", "DTM*472*20261116", *cas]  # fmt: skip
    segments = ["ST*835*0001", f"BPR*I*{paid}*C*ACH*CCP*01*021000021*DA*1*1512345678**01*1*DA*2*20261118",
                f"TRN*1*{trace}*1512345678", "N1*PR*EXAMPLE HEALTH PLAN", "N1*PE*CALM MIND*XX*1234567893", "LX*1",
                *body]  # fmt: skip
    segments.append(f"SE*{len(segments) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*PAYER01        *ZZ*SUBMITTER01    *261118*0900*^*00501*000000102*0*P*:~"
    gs = "GS*HP*PAYER01*SUBMITTER01*20261118*0900*102*X*005010X221A1~"
    return f"{isa}{gs}{'~'.join(segments)}~GE*1*102~IEA*1*000000102~"


def make_world() -> dict:
    org = f.make_org()
    practice = f.make_practice(org, name="Calm Mind")
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan")
    patient = f.make_patient(practice, payer)
    return {
        "org": org, "practice": practice, "payer": payer, "patient": patient,
        "biller": f.make_user(org, practices=[practice], email=f"biller{org.id}@example.test"),
        "boss": f.make_user(org, role="supervisor", email=f"boss{org.id}@example.test"),
    }  # fmt: skip


def the_row(w: dict, start: datetime, end: datetime, now: datetime) -> month_end.Rollforward:
    (row,) = [
        r for r in month_end.rollforward([w["practice"].id], start, end, now) if r.practice_id == w["practice"].id
    ]
    return row


def write_off(w: dict, claim: Claim, amount: D, at: datetime, balance: str = "insurance") -> None:
    item = chains.open_item(practice_id=w["practice"].id, kind="work_denial", now=at, reason="x", claim_id=claim.id)
    reason = "small_balance" if balance == "patient" else "timely_filing"
    request = request_write_off(item=item, actor=w["biller"], now=at, balance=balance, amount=amount, reason=reason,
                                note=None)  # fmt: skip
    decide_write_off(request=request, actor=w["boss"], now=at, approve=True, note=None)


def test_a_worked_month_rolls_forward_to_the_cent_and_drills_down_to_its_claims(ctx) -> None:  # noqa: ANN001
    w = make_world()
    paid = make_claim(w["practice"], w["patient"], total_charge=D("150.00"), submitted_at=START + timedelta(days=1))
    denied = make_claim(w["practice"], w["patient"], total_charge=D("200.00"), submitted_at=START + timedelta(days=2))
    make_claim(w["practice"], w["patient"], total_charge=D("80.00"), submitted_at=START - timedelta(days=5))
    post_835(organization_id=w["org"].id, now=START + timedelta(days=5),
             text=era(paid.account_number, D("150.00"), paid=D("100.00"), co45=D("30.00"), pr=D("20.00")))  # fmt: skip
    post_835(organization_id=w["org"].id, now=START + timedelta(days=6),
             text=era(denied.account_number, D("200.00"), denied=D("200.00")))  # fmt: skip
    write_off(w, denied, D("200.00"), START + timedelta(days=7))
    record_patient_payment(patient=w["patient"], actor=w["biller"], now=START + timedelta(days=8), method="check",
                           reference="1001", amount=D("25.00"), received_on=date(2026, 11, 8))  # fmt: skip
    refund = request_refund(actor=w["biller"], now=START + timedelta(days=9), patient=w["patient"], amount=D("5.00"),
                            reason="overpaid copay")  # fmt: skip
    decide_refund(request=refund, actor=w["boss"], now=START + timedelta(days=9), approve=True, note=None)
    post_refund(request=refund, actor=w["biller"], now=START + timedelta(days=10), reference="CHK 77")

    row = the_row(w, START, NOW, NOW)
    assert row.start_ar == D("80.00")  # billed the month before, still open
    assert row.figures == {"charges": D("350.00"), "payments": D("125.00"), "contractual": D("30.00"),
                           "write_offs": D("200.00"), "refunds": D("-5.00"), "other": D("0.00")}  # fmt: skip
    # 80 + 350 − 125 − 30 − 200 − (−5) + 0 = 80: only the claim billed before the month is still owed.
    assert row.end_ar == D("80.00") == row.rolled and row.held_ar == D("80.00") and row.difference == 0
    drilled = dict(month_end.drill([w["practice"].id], "payments", START, NOW))
    assert drilled == {paid.id: D("120.00"), None: D("5.00")}  # 100 payer + 20 patient; 5 unapplied credit
    assert dict(month_end.drill([w["practice"].id], "write_offs", START, NOW)) == {denied.id: D("200.00")}

    # A month split in two halves chains: the first half's end is the second half's start.
    mid = START + timedelta(days=7, hours=12)
    first, second = the_row(w, START, mid, NOW), the_row(w, mid, NOW, NOW)
    assert first.end_ar == second.start_ar and first.difference == 0 and second.difference == 0
    assert first.held_ar is None  # a past period has no "held now" column


def test_money_moved_without_an_event_shows_as_a_difference(ctx) -> None:  # noqa: ANN001
    w = make_world()
    claim = make_claim(w["practice"], w["patient"], total_charge=D("150.00"), submitted_at=START + timedelta(days=1))
    db.session.execute(update(Claim).where(Claim.id == claim.id).values(paid_amount=D("40.00")))  # a hand edit
    db.session.commit()
    row = the_row(w, START, NOW, NOW)
    assert row.end_ar == D("150.00") and row.held_ar == D("110.00") and row.difference == D("-40.00")


Op = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 100), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("deny"), st.integers(0, 0), st.integers(0, 0), st.integers(0, 0)),
    st.tuples(st.just("patient"), st.integers(1, 60), st.integers(0, 0), st.integers(0, 0)),
    st.tuples(st.just("refund"), st.integers(1, 30), st.integers(0, 0), st.integers(0, 0)),
    st.tuples(st.just("write_off"), st.integers(1, 100), st.integers(0, 0), st.integers(0, 0)),
    # a PLB WO recoupment of part of a claim's payment on another claim's 835; 1: then part of it reversed
    st.tuples(st.just("recoup"), st.integers(1, 100), st.integers(0, 1), st.integers(1, 100)),
)


def recoup(w: dict, claim: Claim, amount: D, at: datetime) -> None:
    """A new claim paid in full by an 835 that also takes ``amount`` back from ``claim`` (PLB WO)."""
    carrier = make_claim(w["practice"], w["patient"], total_charge=D("100.00"), submitted_at=at)
    text = era(carrier.account_number, D("100.00"), paid=D("100.00"))
    post_835(organization_id=w["org"].id, now=at,
             text=_with_plb(text, f"PLB*1234567893*20261231*WO:{claim.account_number}*{amount}", amount))  # fmt: skip


@example(charges=[50], ops=[("pay", 1, 0, 0), ("recoup", 1, 1, 1)], split=0)
@example(charges=[150], ops=[("pay", 100, 30, 20), ("recoup", 40, 1, 15), ("write_off", 10, 0, 0)], split=6)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(charges=st.lists(st.integers(50, 300), min_size=1, max_size=4), ops=st.lists(Op, max_size=10),
       split=st.integers(0, 17))  # fmt: skip
def test_the_identity_holds_over_random_postings_refunds_and_write_offs(ctx, charges, ops, split) -> None:  # noqa: ANN001
    w = make_world()
    claims = [make_claim(w["practice"], w["patient"], total_charge=D(c), submitted_at=START + timedelta(days=i))
              for i, c in enumerate(charges)]  # fmt: skip
    at = START + timedelta(days=5)
    for n, (op, a, b, c) in enumerate(ops):
        at += timedelta(hours=20)
        claim = claims[n % len(claims)]
        db.session.refresh(claim)
        open_payer = claim.total_charge - claim.paid_amount - claim.adjustment_amount - claim.patient_responsibility
        if op in ("pay", "deny") and claim.status in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            if op == "deny":
                post_835(organization_id=w["org"].id, now=at, text=era(claim.account_number, claim.total_charge,
                                                                       denied=claim.total_charge))  # fmt: skip
                continue
            paid = min(D(a), claim.total_charge)
            co45 = min(D(b), claim.total_charge - paid)
            pr = min(D(c), claim.total_charge - paid - co45)
            co45 += claim.total_charge - paid - co45 - pr  # the rest is contractual, so the 835 balances
            post_835(organization_id=w["org"].id, now=at,
                     text=era(claim.account_number, claim.total_charge, paid=paid, co45=co45, pr=pr))  # fmt: skip
        elif op == "patient":
            local_day = at.astimezone(ZoneInfo(w["practice"].timezone)).date()
            record_patient_payment(patient=w["patient"], actor=w["biller"], now=at, method="cash", amount=D(a),
                                   received_on=local_day)  # fmt: skip
        elif op == "refund":
            credit = patient_credit(w["patient"].id)
            if credit > 0:
                r = request_refund(actor=w["biller"], now=at, patient=w["patient"], amount=min(D(a), credit),
                                   reason="credit")  # fmt: skip
                decide_refund(request=r, actor=w["boss"], now=at, approve=True, note=None)
                post_refund(request=r, actor=w["biller"], now=at)
        elif op == "write_off" and open_payer > 0 and claim.status not in NOT_WRITABLE:
            write_off(w, claim, min(D(a), open_payer), at)
        elif op == "recoup" and claim.paid_amount > 0:
            taken = min(D(a), claim.paid_amount, D("100.00"))
            recoup(w, claim, taken, at)
            if b:
                recoup(w, claim, -min(D(c), taken), at + timedelta(hours=1))
    now = at + timedelta(hours=1)
    cut = START + timedelta(days=split)
    whole, first, second = the_row(w, START, now, now), the_row(w, START, cut, now), the_row(w, cut, now, now)
    assert whole.difference == 0, whole
    for claim in db.session.scalars(select(Claim).where(Claim.practice_id == w["practice"].id)):
        assert sum(line.paid_amount for line in claim.lines) == claim.paid_amount  # lines follow recoupments too
    assert whole.end_ar == whole.held_ar == whole.rolled
    assert first.end_ar == second.start_ar and first.rolled == first.end_ar and second.difference == 0
    for key, _, _ in month_end.FIGURES:
        assert first.figures[key] + second.figures[key] == whole.figures[key]
        # drilled as the whole row was figured: up to ``now`` included (an event at the very end counts in both)
        drilled = sum((amount for _, amount in month_end.drill([w["practice"].id], key, START, now, now)), D(0))
        assert drilled == whole.figures[key], key


def test_the_month_end_identity_holds_on_the_seeded_demo(ctx, clock_pin) -> None:  # noqa: ANN001
    clock_pin.set(NOW)
    seed_demo(now=NOW)
    practice_ids = list(db.session.scalars(select(Practice.id)))
    month_start = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    rows = month_end.rollforward(practice_ids, month_start, NOW, NOW)
    assert rows and any(r.figures["charges"] > 0 for r in rows) and any(r.figures["payments"] > 0 for r in rows)
    for row in rows:
        assert row.rolled == row.end_ar, row
        assert row.held_ar == row.end_ar and row.difference == 0, row
    earlier = month_end.rollforward(practice_ids, datetime(2026, 10, 1, 4, 0, tzinfo=UTC), month_start, NOW)
    assert [r.end_ar for r in earlier] == [r.start_ar for r in rows]


def test_the_month_end_page_filters_drills_down_and_exports_numbers_as_numbers(app, client, auth) -> None:  # noqa: ANN001
    with app.app_context():
        w = make_world()
        other = make_world()
        claim = make_claim(
            w["practice"], w["patient"], total_charge=D("150.00"), submitted_at=START + timedelta(days=1)
        )
        make_claim(other["practice"], other["patient"], total_charge=D("90.00"), submitted_at=START + timedelta(days=1))
        post_835(organization_id=w["org"].id, now=START + timedelta(days=3),
                 text=era(claim.account_number, D("150.00"), paid=D("100.00"), co45=D("50.00")))  # fmt: skip
        boss_email, account, practice_id = w["boss"].email, claim.account_number, w["practice"].id
    auth.login(boss_email)
    page = client.get("/reports/month-end", query_string={"start": "2026-11-01", "end": "2026-11-18"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Month-end roll-forward" in html and "Net collection rate" in html
    assert "Initial denial rate %" in html and "Patient A/R aging" in html and "Write-offs by reason" in html
    assert 'data-figure="payments">100.00</a>' in html and 'data-figure="contractual">50.00</a>' in html
    drill = client.get("/reports/month-end/drill/payments", query_string={"start": "2026-11-01"})
    assert account in drill.get_data(as_text=True)
    query = {"start": "2026-11-01", "practice_id": practice_id}
    csv = client.get("/reports/month-end/rollforward.csv", query_string=query).get_data(as_text=True)
    header, line = csv.strip().splitlines()[:2]
    assert header.startswith("Practice,A/R at start,Charges,Payments")
    assert line == "Calm Mind,0.00,150.00,100.00,50.00,0.00,0.00,0.00,0.00,0.00,0.00" and '"' not in line
    # Another organization's practice is out of scope: choosing it is refused, not shown.
    assert client.get("/reports/month-end/drill/nope").status_code == 404


def test_an_overturned_denial_stays_in_the_initial_denial_rate_and_leaves_the_final_one(ctx) -> None:  # noqa: ANN001
    w = make_world()
    billed = START + timedelta(days=1)
    overturned, clean = (make_claim(w["practice"], w["patient"], total_charge=D("100.00"), submitted_at=billed)
                         for _ in range(2))  # fmt: skip
    still = make_claim(w["practice"], w["patient"], total_charge=D("100.00"), submitted_at=billed)
    for claim in (overturned, still):
        post_835(organization_id=w["org"].id, now=START + timedelta(days=3),
                 text=era(claim.account_number, D("100.00"), denied=D("100.00")))  # fmt: skip
    post_835(organization_id=w["org"].id, now=START + timedelta(days=3),
             text=era(clean.account_number, D("100.00"), paid=D("80.00"), co45=D("20.00")))  # fmt: skip
    post_835(organization_id=w["org"].id, now=START + timedelta(days=9),  # reprocessed on appeal: paid
             text=era(overturned.account_number, D("100.00"), paid=D("80.00"), co45=D("20.00")))  # fmt: skip
    (row,) = month_end.denial_rates([w["practice"].id], START, NOW)
    assert row == ["Calm Mind", 3, 2, D("66.7"), 1, D("33.3")]
    write_off(w, still, D("100.00"), START + timedelta(days=10))
    (row,) = month_end.denial_rates([w["practice"].id], START, NOW)
    assert row[2:4] == [2, D("66.7")]  # writing a denial off never flatters the initial rate


def _with_plb(text: str, plb: str, amount: D) -> str:
    """``text`` (one 835 from ``era``) with a PLB segment before its SE, BPR02 lowered by ``amount``."""
    head, tail = text.split("~SE*", 1)
    count, rest = tail.split("*", 1)
    bpr = next(s for s in head.split("~") if s.startswith("BPR*"))
    paid = D(bpr.split("*")[2])
    head = head.replace(bpr, bpr.replace(f"BPR*I*{paid}*", f"BPR*I*{paid - amount}*", 1))
    return f"{head}~{plb}~SE*{int(count) + 1}*{rest}"


def test_a_recoupment_and_a_duplicate_payment_reconcile_to_the_cent(ctx) -> None:  # noqa: ANN001
    w = make_world()
    paid = make_claim(w["practice"], w["patient"], total_charge=D("150.00"), submitted_at=START + timedelta(days=1))
    other = make_claim(w["practice"], w["patient"], total_charge=D("150.00"), submitted_at=START + timedelta(days=1))
    post_835(organization_id=w["org"].id, now=START + timedelta(days=5),
             text=era(paid.account_number, D("150.00"), paid=D("130.00"), co45=D("20.00")))  # fmt: skip
    post_835(organization_id=w["org"].id, now=START + timedelta(days=6),
             text=era(other.account_number, D("150.00"), paid=D("150.00")))  # fmt: skip
    # the payer pays the first claim again under a new trace (an overpayment, kept unapplied) and takes 40.00 back
    # from the other claim with a WO recoupment on the same 835
    again = era(paid.account_number, D("150.00"), paid=D("130.00"), co45=D("20.00"))
    post_835(organization_id=w["org"].id, now=START + timedelta(days=8),
             text=_with_plb(again, f"PLB*1234567893*20261231*WO:{other.account_number}*40", D("40.00")))  # fmt: skip
    db.session.refresh(other)
    assert other.paid_amount == D("110.00")  # the recoupment reduced the claim's payment
    row = the_row(w, START, NOW, NOW)
    # 300 billed − (130 + 150 − 40) paid − 20 contractual = 40 owed: the 40 the payer took back
    assert row.figures["payments"] == D("240.00") and row.end_ar == D("40.00")
    assert row.held_ar == D("40.00") and row.difference == 0
