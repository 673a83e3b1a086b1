"""Secondary and beyond (issue 17): a secondary claim built from the primary's 835 goes through the scrubber with the
secondary payer's rules before it is submitted; what the secondary leaves goes to a tertiary claim sent as an 837P
with both prior payers' adjudications; a Medicare → Medicaid crossover (CLP02 19/20, NM1*TT) is recognised, the
secondary is not billed again (logged, and the item says why), and the crossover payer's own 835 posts on the
crossed-over secondary claim and closes the follow-up."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.clearinghouse.file_drop import FileDrop
from backoffice.clearinghouse.sandbox_x12 import scenario_for
from backoffice.exchange.ingest import ingest_all
from backoffice.exchange.models import ClaimSubmission
from backoffice.exchange.submission import submit_claims
from backoffice.extensions import db
from backoffice.patients.models import Coverage, LedgerEntry, Patient
from backoffice.remits.models import ClaimPayment
from backoffice.remits.services import post_835
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import ItemState
from backoffice.x12.checks import business_problems
from backoffice.x12.era835 import parse_835
from tests import factories as f
from tests.factories_submission import edi_setup, scrubbed_claim
from tests.test_post_835 import NOW, clp, era, svc
from tests.x12_checks import pyx12_errors

DOS = date(2026, 9, 2)  # inside the ICD-10-CM release the scrubber checks


@pytest.fixture
def setup(ctx):  # noqa: ANN001, ANN201
    org = f.make_org()
    practice = f.make_practice(org)
    payer = f.make_payer(org, payer_id="1512345678", name="Example Health Plan", kind="medicare")
    patient = f.make_patient(practice, payer, address_line1="1 Elm St", city="Springfield", state="IL",
                             zip_code="62701")  # fmt: skip
    return org, practice, payer, patient


def primary_claim(setup, account: str) -> Claim:  # noqa: ANN001
    org, practice, payer, patient = setup
    session = f.make_session(practice, f.make_provider(practice), patient, date_of_service=DOS, diagnoses=["F33.1"])
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == patient.id))
    claim = Claim(practice_id=practice.id, session_id=session.id, patient_id=patient.id, payer_id=payer.id,
                  coverage_id=coverage.id, account_number=account, status=ClaimStatus.SUBMITTED,
                  total_charge=D("150.00"), created_at=NOW,
                  lines=[ClaimLine(line_number=1, date_of_service=DOS, cpt="90834", modifiers=[], units=1,
                                   place_of_service="11", diagnosis_pointers=[1], charge=D("150.00"))])  # fmt: skip
    db.session.add(claim)
    db.session.commit()
    return claim


def secondary_payer(setup, kind: str = "commercial", **kw):  # noqa: ANN001, ANN201, ANN003
    org, _, _, patient = setup
    second = f.make_payer(org, payer_id="SEC01", name="State Medicaid", kind=kind, **kw)
    db.session.add(Coverage(patient_id=patient.id, payer_id=second.id, member_id="MCD123", priority="secondary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    return second


PAID_WITH_COINSURANCE = ("1", "150", "97.5", "20", svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*2*20",
                                                        day="20260902"))  # fmt: skip


def test_a_secondary_claim_the_secondary_payers_rules_stop_waits_for_a_person(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, prior_auth_cpts=["90834"])  # the secondary requires an authorization the primary did not
    primary_claim(setup, "SEC-A")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-A", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-AS"))
    assert secondary.status == ClaimStatus.DRAFT
    assert [x["rule"] for x in secondary.findings if x["severity"] == "error"] == ["AUTH-REQUIRED"]
    submit = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == secondary.id))
    assert (submit.kind, submit.mode.value) == ("submit", "manual")
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == submit.id))
    assert "stopped it for the secondary payer (AUTH-REQUIRED)" in reason


def test_a_clean_secondary_claim_is_scrubbed_and_submitted_by_automation(setup) -> None:  # noqa: ANN001
    secondary_payer(setup)
    primary_claim(setup, "SEC-B")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-B", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-BS"))
    assert secondary.status == ClaimStatus.SCRUBBED and secondary.findings == []
    submit = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == secondary.id))
    assert submit.mode.value == "automated"
    log = db.session.scalar(select(Interaction.body).where(Interaction.claim_id == secondary.id))
    assert "scrubbed with State Medicaid's rules: clean" in log


def test_a_medicare_to_medicaid_crossover_is_not_billed_again_and_the_item_says_why(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, kind="medicaid")
    claim = primary_claim(setup, "SEC-C")
    text = era(clp("SEC-C", *PAID_WITH_COINSURANCE[:-1], "NM1*TT*2*STATE MEDICAID*****PI*SKMCD",
                   PAID_WITH_COINSURANCE[-1]))  # fmt: skip
    (parsed,) = parse_835(text)[0].claims
    assert parsed.crossover_payer == "STATE MEDICAID" and parsed.crossed_over
    post_835(organization_id=setup[0].id, now=NOW, text=text)
    assert_not_billed(claim)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0  # nor billed to the patient
    log = db.session.scalar(select(Interaction.body).where(Interaction.body.like("835 posted%")))
    assert "crossover: the payer forwarded the claim to STATE MEDICAID itself (CLP02 1, NM1*TT)" in log
    item = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"crossover:{claim.id}"))
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert "crossed over to STATE MEDICAID" in reason and "we do not bill the secondary" in reason


def assert_not_billed(primary: Claim) -> Claim:
    """The crossed-over secondary claim is on file (for the crossover payer's 835 to post on) but never sent: no
    submit item, no submission, status accepted."""
    crossed = db.session.scalar(select(Claim).where(Claim.parent_claim_id == primary.id))
    assert (crossed.payer_sequence, crossed.status, crossed.submitted_at) == ("S", ClaimStatus.ACCEPTED, None)
    assert db.session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.kind == "submit")) == 0
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) == 0
    return crossed


def test_clp02_19_alone_is_a_crossover_too(setup) -> None:  # noqa: ANN001
    secondary_payer(setup, kind="medicaid")
    primary = primary_claim(setup, "SEC-D")
    post_835(organization_id=setup[0].id, now=NOW, text=era(clp("SEC-D", "19", *PAID_WITH_COINSURANCE[1:])))
    assert_not_billed(primary)
    assert db.session.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.kind == "follow_up")) == 1


CROSSOVER_835 = ("1", "150", "97.5", "20", "NM1*TT*2*STATE MEDICAID*****PI*SKMCD",
                 svc("90834", "150", "97.5", "CAS*CO*45*32.5", "CAS*PR*2*20", day="20260902"))  # fmt: skip


def medicaid_era(account: str, *, member: str = "MCD123", trace: str = "MCD-1", day: str = "20260902") -> str:
    """Medicaid's own 835 for a claim Medicare crossed over: CLP01 is the claim number Medicare forwarded (ours,
    the primary's), CLP02 2 (processed as secondary), the coinsurance paid; TRN03 names Medicaid (SEC01)."""
    claim = "~".join([f"CLP*{account}*2*150*20*0*MC*MCD-ICN-7*11*1", f"NM1*QC*1*PATIENT*PAT****MI*{member}",
                      svc("90834", "150", "20", "CAS*OA*23*130", day=day)])  # fmt: skip
    text = era(claim, trace=trace)
    return text.replace(f"TRN*1*{trace}*1512345678", f"TRN*1*{trace}*SEC01")


def test_the_crossover_payers_own_835_posts_on_the_crossed_over_claim_and_closes_the_follow_up(setup) -> None:  # noqa: ANN001
    org = setup[0]
    secondary_payer(setup, kind="medicaid")
    primary = primary_claim(setup, "SEC-X")
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-X", *CROSSOVER_835)))
    crossed = assert_not_billed(primary)
    follow_up = db.session.scalar(select(WorkItem).where(WorkItem.dedupe_key == f"crossover:{primary.id}"))
    assert (follow_up.claim_id, follow_up.state) == (crossed.id, ItemState.READY)
    # Medicaid's 835 names the claim number Medicare forwarded (the primary's): it posts on the secondary claim
    later = NOW + timedelta(days=20)
    result = post_835(organization_id=org.id, now=later, text=medicaid_era("SEC-X"))
    assert (result.claims_posted, result.claims_unmatched) == (1, 0), result.problems
    db.session.refresh(crossed)
    db.session.refresh(primary)
    assert (crossed.status, crossed.paid_amount) == (ClaimStatus.PAID, D("20.00"))
    assert primary.paid_amount == D("97.50")  # the primary is untouched: no second payment, no overpayment
    payment = db.session.scalar(select(ClaimPayment).where(ClaimPayment.claim_id == crossed.id))
    assert payment.account_number == "SEC-X"
    db.session.refresh(follow_up)
    assert follow_up.state == ItemState.DONE
    closed = db.session.scalars(select(Interaction.body).where(Interaction.work_item_id == follow_up.id)).all()
    assert any("crossover payer's 835 posted on secondary claim SEC-XS: $20.00 paid" in b for b in closed)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0  # nothing left to the patient


def test_a_crossover_835_for_another_patient_or_date_is_not_posted_on_the_secondary(setup) -> None:  # noqa: ANN001
    org = setup[0]
    secondary_payer(setup, kind="medicaid")
    primary = primary_claim(setup, "SEC-Y")
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-Y", *CROSSOVER_835)))
    crossed = assert_not_billed(primary)
    for n, wrong in enumerate(({"member": "OTHER9"}, {"day": "20260909"})):
        result = post_835(organization_id=org.id, now=NOW + timedelta(days=20),
                          text=medicaid_era("SEC-Y", trace=f"MCD-{n}", **wrong))  # fmt: skip
        assert (result.claims_posted, result.claims_unmatched) == (0, 1)
        assert any("does not agree with secondary claim SEC-YS" in p for p in result.problems)
    db.session.refresh(crossed)
    db.session.refresh(primary)
    assert crossed.status == ClaimStatus.ACCEPTED and crossed.paid_amount == 0
    assert primary.paid_amount == D("97.50")


def test_what_the_secondary_leaves_goes_to_the_tertiary_payer_not_the_patient(setup) -> None:  # noqa: ANN001
    org, _, _, patient = setup
    second = secondary_payer(setup)
    third = f.make_payer(org, payer_id="TER01", name="Union Plan")
    db.session.add(Coverage(patient_id=patient.id, payer_id=third.id, member_id="U77", priority="tertiary",
                            relationship_to_subscriber="18", effective_from=date(2026, 1, 1)))  # fmt: skip
    db.session.commit()
    primary_claim(setup, "SEC-E")
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-E", *PAID_WITH_COINSURANCE)))
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == "SEC-ES"))
    assert secondary.payer_id == second.id and secondary.payer_sequence == "S"
    secondary.status = ClaimStatus.SUBMITTED
    db.session.commit()
    post_835(organization_id=org.id, now=NOW, text=era(clp("SEC-ES", "2", "150", "10", "10", svc(
        "90834", "150", "10", "CAS*OA*23*130", "CAS*PR*2*10", day="20260902")), trace="EFT-S"))  # fmt: skip
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    tertiary = db.session.scalar(select(Claim).where(Claim.parent_claim_id == secondary.id))
    assert (tertiary.account_number, tertiary.payer_sequence, tertiary.payer_id) == ("SEC-ET", "T", third.id)
    assert tertiary.status == ClaimStatus.SCRUBBED and tertiary.findings == []
    item = db.session.scalar(select(WorkItem).where(WorkItem.claim_id == tertiary.id))
    assert (item.kind, item.mode.value) == ("submit", "automated")
    reason = db.session.scalar(select(Interaction.body).where(Interaction.work_item_id == item.id))
    assert reason == "Submit claim: tertiary claim SEC-ET after the secondary's 835"


def _account_for_three_payers() -> str:
    """A claim number the Sandbox payer answers with coinsurance as primary and as secondary (so something is
    left for the tertiary) and pays as tertiary."""
    n = 0
    while True:
        n += 1
        account = f"TER-{n}"
        if (scenario_for(account), scenario_for(account + "S"), scenario_for(account + "T")) == (
            "coinsurance", "coinsurance", "paid"):  # fmt: skip
            return account


def test_primary_835_secondary_secondary_835_then_a_valid_tertiary_837p(ctx, tmp_path) -> None:  # noqa: ANN001
    org, practice, provider, payer = edi_setup()
    medicaid = f.make_payer(org, payer_id="MCD01", name="State Medicaid", kind="medicaid")
    union = f.make_payer(org, payer_id="UNION1", name="Union Plan")
    primary = scrubbed_claim(practice, provider, payer, account_number=_account_for_three_payers())
    for priority, other, member in (("secondary", union, "U77"), ("tertiary", medicaid, "MCD998877")):
        db.session.add(Coverage(patient_id=primary.patient_id, payer_id=other.id, member_id=member, priority=priority,
                                relationship_to_subscriber="18", effective_from=date(2020, 1, 1)))  # fmt: skip
        f.enroll_in_sandbox(practice, other, db.session.get(Patient, primary.patient_id), member)  # its own file
    db.session.commit()
    number = primary.account_number
    # the primary goes to the Sandbox payer; its 835 leaves coinsurance, billed to the secondary
    submit_claims(organization_id=org.id, claim_ids=[primary.id], now=NOW, source="test")
    ingest_all(now=NOW)
    secondary = db.session.scalar(select(Claim).where(Claim.account_number == number + "S"))
    assert secondary.status == ClaimStatus.SCRUBBED, secondary.findings
    later = NOW + timedelta(days=7)
    assert submit_claims(organization_id=org.id, claim_ids=[secondary.id], now=later, source="test").submitted
    ingest_all(now=later)
    db.session.refresh(secondary)
    assert secondary.status == ClaimStatus.PAID and secondary.patient_responsibility > 0
    tertiary = db.session.scalar(select(Claim).where(Claim.account_number == number + "T"))
    assert (tertiary.payer_id, tertiary.payer_sequence, tertiary.status) == (medicaid.id, "T", ClaimStatus.SCRUBBED)
    # the tertiary 837P: SBR01 T, the primary's and the secondary's 2320/2330 with their paid amounts and CAS
    result = submit_claims(organization_id=org.id, claim_ids=[tertiary.id], now=later + timedelta(days=7),
                           source="test", adapter=FileDrop(tmp_path / "outbox", tmp_path / "inbox"))  # fmt: skip
    assert result.skipped == [] and result.submitted == [tertiary.id]
    text = (tmp_path / "outbox" / result.files[0].filename).read_text(encoding="ascii")
    assert pyx12_errors(text, tmp_path) == []
    assert business_problems(text) == []
    db.session.refresh(primary)
    assert "SBR*T*18*" in text and "*MC~" in text
    assert f"SBR*P*18*******CI~\nAMT*D*{primary.paid_amount.normalize():f}~" in text
    assert f"SBR*S*18*******CI~\nAMT*D*{secondary.paid_amount.normalize():f}~" in text
    assert f"NM1*PR*2*AETNA TEST*****PI*{payer.payer_id}~\nSBR*S*" in text
    assert "NM1*PR*2*UNION PLAN*****PI*UNION1~\nLX*1~" in text
    assert text.count("SVD*") == 2 and f"SVD*{payer.payer_id}*" in text and "SVD*UNION1*" in text
    assert text.count("CAS*PR*2*") == 2  # each prior payer's coinsurance, on the line
