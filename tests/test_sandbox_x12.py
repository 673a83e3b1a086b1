"""The Sandbox payer's X12: it reads our 837P back and answers with 999, 277CA, 835 and 271 our readers accept."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import pyx12.params
import pyx12.x12file
import pyx12.x12n_document

from backoffice.clearinghouse import sandbox_x12 as sx
from backoffice.clearinghouse.sandbox_x12_835 import COPAYS, DEDUCTIBLES
from backoffice.x12 import reader as x12
from backoffice.x12.acks import parse_277ca, parse_999
from backoffice.x12.benefits import parse_271
from backoffice.x12.claim837 import (
    Address,
    Adjustment,
    Batch,
    BillingProvider,
    ClaimInfo,
    LineAdjudication,
    Patient,
    PayerInfo,
    PriorPayer,
    Receiver,
    ServiceLine,
    Submitter,
    Subscriber,
    write_837p,
)
from backoffice.x12.era835 import duplicate_key, parse_835
from backoffice.x12.inquiry import write_270
from tests.x12_checks import pyx12_errors, shared_sample

NOW = datetime(2026, 3, 20, 9, 30)
LATER = datetime(2026, 4, 2, 6, 15)
DOS = date(2026, 3, 16)
SUBMITTER = Submitter("Calm Mind Billing", "SUBMITTER01", "Jane Biller", "5555551234")
RECEIVER = Receiver("Sandbox Clearinghouse", "SANDBOXCH")
BILLING = BillingProvider("Calm Mind Counseling LLC", "1234567893", "123456789", "261QM0801X",
                          Address("100 Main Street", "Springfield", "IL", "627011234"))  # fmt: skip
PAYER_A = PayerInfo("Example Health Plan", "PAYER01")
PAYER_B = PayerInfo("State Medicaid", "MCD01")
HOME = Address("42 Elm Street", "Springfield", "IL", "62702")
SUBSCRIBER = Subscriber("MEM123456", "John", "Doe", date(1985, 2, 14), "M", HOME, group_number="GRP1")
CHILD = Patient("Emma", "Doe", date(2014, 6, 1), "F", HOME, "19")


def line(cpt: str = "90834", charge: str = "150", units: int = 1, modifiers: tuple[str, ...] = ()) -> ServiceLine:
    return ServiceLine(cpt, modifiers, units, Decimal(charge), (1,), DOS)


def claim(account: str, *lines: ServiceLine, **changes: object) -> ClaimInfo:
    return ClaimInfo(account, ("F41.1",), lines or (line(),), "CI", place_of_service="11", **changes)  # type: ignore[arg-type]


def write(*batches: Batch, **kwargs: object) -> str:
    options = {"interchange_control_number": 4711, "group_control_number": 4711, "first_transaction_number": 41,
               "now": NOW, "usage": "T"} | kwargs  # fmt: skip
    return write_837p(batches, **options)  # type: ignore[arg-type]


def batch(payer: PayerInfo, *claims: ClaimInfo, patient: Patient | None = None) -> Batch:
    return Batch(SUBMITTER, RECEIVER, BILLING, payer, tuple((SUBSCRIBER, patient, c) for c in claims))


def scenario_file(scenarios: dict[str, str]) -> str:
    """One 837P with a claim per account (two lines for some), split over two payers."""
    claims = []
    for n, account in enumerate(scenarios):
        lines = (line(), line("90785", "25")) if n % 2 else (line("90837", "190.50"),)
        claims.append(claim(account, *lines))
    half = len(claims) // 2 or 1
    batches = [batch(PAYER_A, *claims[:half])] + ([batch(PAYER_B, *claims[half:])] if claims[half:] else [])
    return write(*batches)


def envelope_errors(text: str) -> list[str]:
    """pyx12's segment reader errors (ISA/GS/ST counts and control numbers) for guides pyx12 has no map for."""
    reader = pyx12.x12file.X12Reader(io.StringIO(text))
    for _ in reader:
        pass
    return [str(e) for e in reader.pop_errors()]


def assert_plain(text: str) -> None:
    """ASCII only; a fixed 106-character ISA; every segment on its own line without trailing separators."""
    assert text.isascii()
    isa = text.split("\n", 1)[0]
    assert len(isa) == 106 and isa[103:106] == "*:~" and isa.split("*")[11] == "^"
    assert "*~" not in text and text.endswith("~\n")


# ---- reading the 837P ---------------------------------------------------------------------------------------------


def test_read_837_gets_back_claims_lines_and_control_numbers() -> None:
    crisis = claim("PCN-CRISIS 1", line("90839", "210"), line("90840", "300", 3), line("90785", "25"))
    video = claim("PCN2", line("90834", "150", modifiers=("95", "GT")), rendering=None)
    replacement = claim("PCN3", frequency="7", payer_claim_number="SBX00000000042")
    text = write(batch(PAYER_A, crisis, video), batch(PAYER_B, replacement, patient=CHILD))
    sent = sx.read_837(text)
    assert (sent.interchange_control_number, sent.group_control_number) == ("000004711", "4711")
    assert (sent.sender_id, sent.receiver_id) == ("SUBMITTER01", "SANDBOXCH")
    assert sent.transaction_control_numbers == ("0041", "0042")
    assert [c.account_number for c in sent.claims] == ["PCN-CRISIS 1", "PCN2", "PCN3"]
    first, second, third = sent.claims
    assert first.charge == Decimal("535") and first.frequency_code == "1" and first.payer_claim_number == ""
    assert [(x.code, x.charge, x.units, x.date) for x in first.lines] == [
        ("90839", Decimal("210"), Decimal(1), DOS), ("90840", Decimal("300"), Decimal(3), DOS),
        ("90785", Decimal("25"), Decimal(1), DOS),
    ]  # fmt: skip
    assert second.lines[0].modifiers == ("95", "GT") and second.lines[0].control_number == ""
    assert (first.payer_id, first.payer_name, first.member_id) == ("PAYER01", "EXAMPLE HEALTH PLAN", "MEM123456")
    assert (first.billing_npi, first.billing_name) == ("1234567893", "CALM MIND COUNSELING LLC")
    assert (first.transaction_control_number, third.transaction_control_number) == ("0041", "0042")
    assert (third.payer_id, third.frequency_code, third.payer_claim_number) == ("MCD01", "7", "SBX00000000042")
    assert third.member_id == "MEM123456"  # the subscriber's ID, even though the patient is a dependent


def test_a_secondary_claim_keeps_its_own_payer_not_the_prior_one() -> None:
    adjudication = LineAdjudication(Decimal("90"), (Adjustment("CO", "45", Decimal("60")),), date(2026, 3, 1))
    prior = PriorPayer(PAYER_B, SUBSCRIBER, "MC", (adjudication,))
    secondary = Subscriber("MEM999", "John", "Doe", date(1985, 2, 14), "M", HOME, payer_responsibility="S")
    entry = (secondary, None, claim("SEC1", prior_payer=prior))
    text = write(Batch(SUBMITTER, RECEIVER, BILLING, PAYER_A, (entry,)))
    assert "NM1*PR*2*STATE MEDICAID*****PI*MCD01~" in text  # the prior payer's 2330B comes after the CLM
    (sent,) = sx.read_837(text).claims
    assert (sent.payer_id, sent.member_id, sent.charge) == ("PAYER01", "MEM999", Decimal("150"))
    assert [x.date for x in sent.lines] == [DOS]  # the 2430 DTP*573 paid date is not the service date


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("SV1*HC:90834*150*", "SV1*HC:90834*1x0*", "(SV1): SV102 (line charge) is not a number"),
        ("HL*2*1*22*0~", "", "CLM outside a subscriber or patient"),
        ("ST*837*0041*", "ST*835*0041*", "ST01 is '835', not 837"),
        ("GS*HC*", "GS*HP*", "GS01 is 'HP', not HC"),
        ("NM1*PR*2*EXAMPLE HEALTH PLAN*****PI*PAYER01~", "", "(CLM): claim 'PCN1' comes without its payer"),
        ("DTP*472*D8*20260316", "DTP*472*D8*20260231", "(DTP): DTP03 is not a CCYYMMDD date"),
    ],
)
def test_an_unreadable_837_raises_naming_the_segment_without_patient_data(old: str, new: str, expected: str) -> None:
    text = write(batch(PAYER_A, claim("PCN1")))
    assert old in text
    with pytest.raises(x12.X12Error, match=expected.replace("(", r"\(").replace(")", r"\)")) as caught:
        sx.read_837(text.replace(old, new, 1))
    assert "MEM123456" not in str(caught.value) and "DOE" not in str(caught.value)


def test_read_837_reads_the_shared_golden_claim() -> None:
    sent = sx.read_837(shared_sample("golden/handmade_837p_90834.txt"))
    assert len(sent.claims) == 1 and [x.code for x in sent.claims[0].lines] == ["90834"]
    assert sent.claims[0].charge == sum(x.charge for x in sent.claims[0].lines)


def test_read_837_refuses_other_files() -> None:
    with pytest.raises(x12.X12Error):
        sx.read_837("")
    with pytest.raises(x12.X12Error, match="exactly one ISA"):
        text = write(batch(PAYER_A, claim("PCN1")))
        sx.read_837(text + text)


# ---- scenarios ----------------------------------------------------------------------------------------------------


def test_scenario_for_mixes_every_scenario_with_mostly_paid_claims() -> None:
    counts = Counter(sx.scenario_for(f"PCN{n:06d}") for n in range(1000))
    assert set(counts) == set(sx.SCENARIOS)
    assert counts.most_common(1)[0][0] == "paid"
    paid_family = sum(counts[s] for s in ("paid", "deductible", "copay", "coinsurance", "contractual"))
    assert 620 <= paid_family <= 800
    for name, weight in sx.WEIGHTS.items():
        assert weight * 0.4 <= counts[name] <= weight * 1.6 + 5, (name, counts[name])
    assert sx.scenario_for("PCN000001") == sx.scenario_for("PCN000001")


def test_an_unknown_scenario_is_refused() -> None:
    sent = sx.read_837(write(batch(PAYER_A, claim("PCN1"))))
    with pytest.raises(ValueError, match="unknown sandbox scenario 'lost'"):
        sx.remit_835(sent, {"PCN1": "lost"}, now=LATER, control_number=5)


# ---- 999 and 277CA ------------------------------------------------------------------------------------------------


def test_the_999_accepts_every_transaction_set_and_passes_pyx12(tmp_path: Path) -> None:
    sent = sx.read_837(scenario_file({f"A{n}": "paid" for n in range(6)}))
    text = sx.respond_999(sent, now=LATER, control_number=301)
    assert_plain(text)
    assert pyx12_errors(text, tmp_path) == []
    (ack,) = parse_999(text)
    assert (ack.functional_id, ack.group_control_number, ack.status) == ("HC", "4711", "A")
    assert ack.accepted_control_numbers == ("0041", "0042") and ack.rejected_control_numbers == ()
    assert "ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*SUBMITTER01    *" in text


def test_the_277ca_rejects_only_rejected_claims_and_passes_pyx12(tmp_path: Path) -> None:
    scenarios = {f"R{n}": s for n, s in enumerate(sx.SCENARIOS)} | {f"X{n}": "rejected" for n in range(4)}
    sent = sx.read_837(scenario_file(scenarios))
    text = sx.respond_277ca(sent, scenarios, now=LATER, control_number=302)
    assert_plain(text)
    assert pyx12_errors(text, tmp_path) == []
    acks = {a.claim_id: a for a in parse_277ca(text)}
    assert set(acks) == set(scenarios)
    for account, scenario in scenarios.items():
        ack = acks[account]
        if scenario == "rejected":
            assert ack.rejected and ack.categories == ("A7",) and ack.rejection_reasons
            assert ack.payer_claim_number == ""
        else:
            assert ack.accepted and ack.categories == ("A2",) and ack.rejection_reasons == ()
            assert ack.payer_claim_number.startswith("SBX") and len(ack.payer_claim_number) == 14
        assert ack.service_date_from == DOS
    assert len({a.rejection_reasons[0] for a in acks.values() if a.rejected}) > 1  # several reasons in the mix
    assert text.count("ST*277*") == 2  # one per payer


# ---- 835 ----------------------------------------------------------------------------------------------------------

DENIALS = {"denied_auth": ("197", {"M62", ""}), "denied_necessity": ("50", {"N115", "N386", ""}),
           "denied_info": ("16", {"N290", "M76", "MA130"}), "denied_timely": ("29", {""}),
           "denied_wrong_payer": ("109", {""})}  # fmt: skip


def remit(scenarios: dict[str, str], control_number: int = 303) -> tuple[sx.Sent837, str | None]:
    sent = sx.read_837(scenario_file(scenarios))
    return sent, sx.remit_835(sent, scenarios, now=LATER, control_number=control_number)


def claims_by_id(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for remittance in parse_835(text):
        assert remittance.balanced, remittance.problems
        for c in remittance.claims:
            out.setdefault(c.claim_id, []).append(c)
    return out


def test_every_scenario_in_one_file_balances_and_passes_pyx12(tmp_path: Path) -> None:
    scenarios = {f"M{n}": s for n, s in enumerate(sx.SCENARIOS * 3)}
    _, text = remit(scenarios)
    assert text is not None
    assert_plain(text)
    assert pyx12_errors(text, tmp_path) == []
    remittances = parse_835(text)
    assert len(remittances) == 2 and all(r.balanced for r in remittances)
    assert {r.payer_id for r in remittances} == {"PAYER01", "MCD01"}
    for r in remittances:
        assert r.total_paid == sum((c.paid for c in r.claims), Decimal(0)) > 0
        assert r.payee_npi == "1234567893" and r.payment_method == "ACH" and r.payment_date == LATER.date()
    paid_ids = {c.claim_id for r in remittances for c in r.claims}
    assert paid_ids == {a for a, s in scenarios.items() if s not in ("rejected", "no_response")}


@pytest.mark.parametrize("scenario", ["paid", "contractual"])
def test_paid_claims_carry_only_the_contractual_write_off(scenario: str) -> None:
    rate = Decimal("0.80") if scenario == "paid" else Decimal("0.65")
    _, text = remit({"P1": scenario, "P2": scenario})
    for (c,) in claims_by_id(text).values():
        assert c.status == "1" and c.patient_responsibility == 0
        assert c.paid == sum((s.charge * rate).quantize(Decimal("0.01"), ROUND_HALF_UP) for s in c.services)
        assert {(a.group, a.reason) for s in c.services for a in s.adjustments} == {("CO", "45")}


@pytest.mark.parametrize(("scenario", "reason"), [("deductible", "1"), ("copay", "3"), ("coinsurance", "2")])
def test_patient_responsibility_is_a_pr_adjustment_the_claim_reports(scenario: str, reason: str) -> None:
    _, text = remit({f"{scenario[:4].upper()}{n}": scenario for n in range(8)})
    for (c,) in claims_by_id(text).values():
        pr = [a for s in c.services for a in s.adjustments if a.group == "PR"]
        assert {a.reason for a in pr} == {reason}
        assert c.status == "1" and c.patient_responsibility == sum(a.amount for a in pr) > 0
        first = c.services[0]
        allowed = first.charge - sum(a.amount for a in first.adjustments if a.group == "CO")
        if scenario == "coinsurance":
            assert all(len([a for a in s.adjustments if a.group == "PR"]) == 1 for s in c.services)
            assert pr[0].amount == (allowed * Decimal("0.2")).quantize(Decimal("0.01"))
        else:
            assert len(pr) == 1 and pr[0].amount == min(allowed, pr[0].amount)
            assert pr[0].amount in (DEDUCTIBLES if scenario == "deductible" else COPAYS) or pr[0].amount == allowed


def test_a_partial_payment_pays_one_line_and_denies_the_other() -> None:
    _, text = remit({"ONE": "partial", "TWO": "partial"})  # "TWO" is written with two lines
    found = claims_by_id(text)
    (one,), (two,) = found["ONE"], found["TWO"]
    assert one.status == two.status == "1"
    assert {(a.group, a.reason) for a in one.services[0].adjustments} == {("CO", "45"), ("CO", "119")}
    assert 0 < one.paid < one.charge * Decimal("0.8")
    paid_line, denied_line = two.services
    assert paid_line.paid > 0 and denied_line.paid == 0
    assert [(a.group, a.reason, a.amount) for a in denied_line.adjustments] == [("CO", "97", denied_line.charge)]
    assert denied_line.remarks == ("M15",)


@pytest.mark.parametrize("scenario", list(DENIALS))
def test_denials_adjust_the_whole_charge_with_their_carc_and_rarc(scenario: str) -> None:
    reason, remarks = DENIALS[scenario]
    _, text = remit({f"{scenario[-4:].upper()}{n}": scenario for n in range(12)})
    seen = set()
    for (c,) in claims_by_id(text).values():
        assert (c.status, c.paid, c.patient_responsibility) == ("4", 0, 0)
        for s in c.services:
            assert [(a.group, a.reason, a.amount) for a in s.adjustments] == [("CO", reason, s.charge)]
            assert set(s.remarks) <= remarks - {""} and len(s.remarks) <= 1
            seen.add(s.remarks[0] if s.remarks else "")
    assert seen == remarks  # every RARC variant (and "none" where allowed) occurs among 12 claims


def test_a_reversal_pays_reverses_and_pays_again_in_the_same_835() -> None:
    _, text = remit({"REV1": "reversal", "REV2": "reversal"})
    for claims in claims_by_id(text).values():
        original, reversal, corrected = claims
        assert [c.status for c in claims] == ["1", "22", "1"] and reversal.is_reversal
        assert (reversal.charge, reversal.paid) == (-original.charge, -original.paid)
        assert [a.amount for s in reversal.services for a in s.adjustments] == [
            -a.amount for s in original.services for a in s.adjustments
        ]
        assert reversal.payer_claim_number == original.payer_claim_number != corrected.payer_claim_number
        assert corrected.paid > original.paid and corrected.charge == original.charge


def test_rejected_and_unanswered_claims_get_no_835() -> None:
    sent, text = remit({"R1": "rejected", "N1": "no_response"})
    assert text is None
    assert sx.respond_277ca(sent, {"R1": "rejected", "N1": "no_response"}, now=LATER, control_number=9)


def test_an_all_denied_payment_is_a_notification_without_money(tmp_path: Path) -> None:
    _, text = remit({"D1": "denied_timely"})
    assert text is not None and pyx12_errors(text, tmp_path) == []
    (r,) = parse_835(text)
    assert (r.handling_code, r.payment_method, r.total_paid, r.balanced) == ("H", "NON", 0, True)


def test_the_trace_number_makes_a_resend_a_duplicate() -> None:
    scenarios = {"T1": "paid", "T2": "copay"}
    sent, first = remit(scenarios, control_number=77)
    again = sx.remit_835(sent, scenarios, now=LATER, control_number=77)
    other = sx.remit_835(sent, scenarios, now=LATER, control_number=78)
    assert first == again and first is not None and other is not None
    keys = [duplicate_key(r) for r in parse_835(first)]
    assert keys == [duplicate_key(r) for r in parse_835(again)]
    assert set(keys).isdisjoint(duplicate_key(r) for r in parse_835(other))
    assert all(k[1].startswith("SBX000004711000000077") for k in keys)


def test_every_answer_is_byte_identical_for_the_same_input() -> None:
    scenarios = {f"D{n}": s for n, s in enumerate(sx.SCENARIOS)}
    text = scenario_file(scenarios)
    outputs = []
    for _ in range(2):
        sent = sx.read_837(text)
        outputs.append((sx.respond_999(sent, now=LATER, control_number=1),
                        sx.respond_277ca(sent, scenarios, now=LATER, control_number=2),
                        sx.remit_835(sent, scenarios, now=LATER, control_number=3)))  # fmt: skip
    assert outputs[0] == outputs[1]


# ---- 270 / 271 ----------------------------------------------------------------------------------------------------

Q1 = sx.EligibilityQuestion("TRC0001", "MEM123", "Mañuel", "O*Neil~Jr", date(1980, 1, 2), "M", "PAYER01",
                            "Example Health Plan", "1234567893", "Calm Mind LLC", DOS)  # fmt: skip
Q2 = sx.EligibilityQuestion("TRC0002", "MEM456", "Ann", "Lee", date(1990, 5, 6), "F", "PAYER02", "Other Plan",
                            "1234567893", "Calm Mind LLC", DOS)  # fmt: skip
Q3 = sx.EligibilityQuestion("TRC0003", "MEM789", "Bo", "Kim", date(1970, 5, 6), "F", "PAYER01",
                            "Example Health Plan", "1234567893", "Calm Mind LLC", DOS)  # fmt: skip
FULL = sx.BenefitsAnswer(True, True, Decimal("25"), Decimal("20"), Decimal("350.00"), 20, 12, True)
INACTIVE = sx.BenefitsAnswer(False, False, None, None, None, None, None, False)
CARVED = sx.BenefitsAnswer(True, False, None, None, None, None, None, False, "Magellan Behavioral", "MAG01")


def test_the_270_asks_per_member_under_its_payer_and_provider() -> None:
    text = write_270([Q1, Q2, Q3], submitter_id="SUBMITTER01", submitter_name="Calm", now=NOW, control_number=9)
    assert_plain(text)
    assert envelope_errors(text) == []
    ((_, group, txn),) = x12.transactions(text, "270")
    assert group.gs is not None and group.gs[8] == "005010X279A1" and txn.st[3] == "005010X279A1"
    segs = txn.segments
    assert [s[2] for s in segs if s.id == "TRN"] == ["TRC0001", "TRC0003", "TRC0002"]  # grouped by payer
    assert [(s[1], s[2], s[3]) for s in segs if s.id == "HL"][:4] == [("1", "", "20"), ("2", "1", "21"),
                                                                       ("3", "2", "22"), ("4", "2", "22")]  # fmt: skip
    assert "NM1*IL*1*ONEILJR*MANUEL****MI*MEM123~" in text
    assert [s[1] for s in segs if s.id == "EQ"] == ["30", "MH"] * 3


def test_pyx12_catches_a_wrong_count_in_the_270() -> None:
    text = write_270([Q1], submitter_id="SUBMITTER01", submitter_name="Calm", now=NOW, control_number=9)
    assert envelope_errors(text.replace("SE*14*0001", "SE*13*0001")) != []


def test_the_271_reads_back_to_the_same_facts() -> None:
    text = sx.respond_271([(Q1, FULL), (Q2, INACTIVE), (Q3, CARVED)], now=LATER, control_number=10)
    assert_plain(text)
    assert envelope_errors(text) == []
    records = {r.trace: r for r in parse_271(text)}
    full, inactive, carved = records["TRC0001"], records["TRC0002"], records["TRC0003"]
    assert (full.payer_id, full.member_id, full.active, full.auth_required) == ("PAYER01", "MEM123", True, True)
    assert [b.amount for b in full.copays] == [Decimal("25")]
    assert [b.percent * 100 for b in full.coinsurance if b.percent is not None] == [Decimal("20")]
    assert [(b.amount, b.remaining) for b in full.deductibles] == [(Decimal("350"), True)]
    assert sorted((b.remaining, b.quantity) for b in full.visit_limits) == [(False, 20), (True, 12)]
    assert all(b.in_network == "Y" for b in full.behavioral_health) and full.carve_out == ()
    assert (inactive.payer_id, inactive.active, inactive.benefits[0].code) == ("PAYER02", False, "6")
    assert carved.active and carved.auth_required is False
    assert [(e.entity_code, e.name, e.id_qualifier, e.identifier) for e in carved.carve_out] == [
        ("PR", "MAGELLAN BEHAVIORAL", "PI", "MAG01")
    ]
    assert all(b.in_network == "N" for b in carved.behavioral_health if b.code == "1")
    assert sx.respond_271([(Q1, FULL), (Q2, INACTIVE), (Q3, CARVED)], now=LATER, control_number=10) == text
