"""`backoffice edi parse-835`: the JSON contract on the golden remittance, and a clear error on bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backoffice.cli import cli

GOLDEN = Path(__file__).resolve().parent.parent.parent / "shared" / "x12" / "samples" / "golden"


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="shared/x12/samples is not beside the repository")
def test_parse_835_prints_the_contract_with_money_as_decimal_strings(runner) -> None:  # noqa: ANN001
    result = runner.invoke(cli, ["edi", "parse-835", str(GOLDEN / "handmade_835_mental_health.txt"), "--json"])
    assert result.exit_code == 0, result.output
    (payment,) = json.loads(result.stdout)["transactions"]
    assert (payment["total_paid"], payment["balanced"], payment["check_number"]) == ("207.50", True, "EFT0000123")
    assert payment["payee"] == {"name": "CALM MIND COUNSELING LLC", "npi": "1234567893"}
    first = payment["claims"][0]
    assert (first["claim_id"], first["charge"], first["paid"], first["patient_responsibility"]) == (
        "PCN0001", "150.00", "97.50", "20.00")  # fmt: skip
    assert set(first["services"][0]) == {"code", "modifiers", "charge", "paid", "units", "date", "adjustments"}


def test_parse_835_reports_an_unreadable_file_by_segment(runner, tmp_path) -> None:  # noqa: ANN001
    bad = tmp_path / "bad.835"
    bad.write_text("this is not x12")
    result = runner.invoke(cli, ["edi", "parse-835", str(bad)])
    assert result.exit_code == 1
    assert "bad.835:" in result.output and "ISA" in result.output
