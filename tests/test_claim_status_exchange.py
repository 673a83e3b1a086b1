"""The 276/277 claim status exchange with the Sandbox payer: what it answers per scenario, that our own 277
parser reads it back, and that a file-drop practice writes the 276 to its outbox (pyx12 has no 005010X212 map,
so the round trip through our parser and the envelope counts are the checks here)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from backoffice.clearinghouse.sandbox_x12 import scenario_for
from backoffice.clearinghouse.sandbox_x12_277 import respond_277, status_for
from backoffice.x12.claim_status import parse_277
from backoffice.x12.inquiry import StatusQuestion, write_276

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _question(account: str, **kw) -> StatusQuestion:
    values = dict(
        trace_number=f"T-{account}", account_number=account, payer_claim_number="", member_id="W000000001",
        first_name="Alex", last_name="Tester", payer_id="UHC", payer_name="UnitedHealthcare",
        provider_npi="1234567893", provider_name="Calm Mind", charge=Decimal("150.00"),
        service_from=date(2026, 11, 10), service_to=date(2026, 11, 10),
    )  # fmt: skip
    values.update(kw)
    return StatusQuestion(**values)


def _accounts_by_scenario() -> dict[str, str]:
    found: dict[str, str] = {}
    for n in range(2000):
        found.setdefault(scenario_for(f"ACC-{n}"), f"ACC-{n}")
    return found


@pytest.mark.parametrize(
    ("scenario", "categories"),
    [
        ("paid", {"F1"}),
        ("denied_necessity", {"F2"}),
        ("denied_auth", {"F2"}),
        ("rejected", {"A4"}),
        ("no_response", {"P1", "A4"}),
    ],  # fmt: skip
)
def test_the_sandbox_answers_each_claim_as_its_scenario_implies(scenario: str, categories: set[str]) -> None:
    account = _accounts_by_scenario()[scenario]
    (status,) = parse_277(respond_277([_question(account)], submitter_id="SUB1", now=NOW, control_number=9))
    (stc,) = status.statuses
    assert status.claim_id == account and status.is_claim
    assert stc.codes[0].category in categories and stc.codes[0].category == status_for(account)[0]
    assert stc.charge == Decimal("150.00")
    assert (status.service_date_from, status.service_date_to) == (date(2026, 11, 10), date(2026, 11, 10))


def test_a_claim_the_payer_never_answered_is_sometimes_in_process_and_sometimes_not_on_file() -> None:
    silent = [f"ACC-{n}" for n in range(2000) if scenario_for(f"ACC-{n}") == "no_response"]
    categories = {status_for(account)[0] for account in silent}
    assert categories == {"P1", "A4"}


def test_the_276_carries_every_claim_with_its_account_charge_and_dates() -> None:
    questions = [_question("ACC-1"), _question("ACC-2", payer_claim_number="ICN9")]
    text = write_276(questions, submitter_id="SUB1", now=NOW, control_number=42)
    segments = [s.strip() for s in text.split("~")]
    assert segments[0].startswith("ISA") and "*000000042*" in segments[0]
    assert any(s.startswith("GS*HR*SUB1*UHC") for s in segments)
    assert [s for s in segments if s.startswith("REF*EJ")] == ["REF*EJ*ACC-1", "REF*EJ*ACC-2"]
    assert "REF*1K*ICN9" in segments and segments.count("AMT*T3*150.00") == 2
    assert [s for s in segments if s.startswith("HL*")][:3] == ["HL*1**20*1", "HL*2*1*21*1", "HL*3*2*19*1"]


def test_one_exchange_is_for_one_payer() -> None:
    with pytest.raises(ValueError, match="one payer"):
        write_276([_question("A"), _question("B", payer_id="AETNA")], submitter_id="S", now=NOW, control_number=1)
