"""Pure onboarding rules: practices, payers, fees, contracted rates and the CSV codec (no app, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from backoffice.onboarding import csv_files
from backoffice.onboarding.rules import clean_payer, clean_practice, parse_fees, parse_pairs, parse_rates
from backoffice.orgs.rules import PayerKind, complete_npi

TODAY = date(2026, 11, 18)
GROUP_NPI = complete_npi("212345678")
PRACTICE = {
    "name": "Calm Mind Therapy", "slug": "calm-mind", "npi": GROUP_NPI, "tin": "123456789",
    "taxonomy": "1041C0700X", "time_zone": "America/New_York", "address_line1": "1 Main St", "city": "Albany",
    "state": "ny", "zip_code": "12207",
}  # fmt: skip


def _fields(errors: list) -> list[str]:
    return [e.field for e in errors]


def test_a_complete_practice_is_clean_and_named_by_its_columns() -> None:
    clean, errors = clean_practice(PRACTICE)
    assert errors == []
    assert clean["group_npi"] == GROUP_NPI and clean["tax_id"] == "123456789" and clean["state"] == "NY"
    assert clean["timezone"] == "America/New_York" and clean["clearinghouse"] == "sandbox"


def test_a_practice_npi_with_a_wrong_check_digit_is_refused_naming_the_field() -> None:
    wrong = GROUP_NPI[:9] + str((int(GROUP_NPI[9]) + 1) % 10)
    _, errors = clean_practice({**PRACTICE, "npi": wrong})
    assert _fields(errors) == ["npi"] and "check digit" in errors[0].message


def test_a_practice_bills_with_a_type_2_npi() -> None:
    _, errors = clean_practice({**PRACTICE, "npi": complete_npi("112345678")})
    assert _fields(errors) == ["npi"] and "type 2" in errors[0].message


def test_every_bad_practice_field_is_named_at_once() -> None:
    bad = {**PRACTICE, "slug": "Calm Mind", "tin": "12-3456789", "time_zone": "Mars/Olympus", "zip_code": "1220",
           "taxonomy": "1041C0700", "name": ""}  # fmt: skip
    _, errors = clean_practice(bad)
    assert set(_fields(errors)) == {"slug", "tin", "time_zone", "zip_code", "taxonomy", "name"}


def test_a_partial_edit_checks_only_what_it_gives() -> None:
    clean, errors = clean_practice({"name": "New name"}, partial=True)
    assert errors == [] and clean == {"name": "New name"}


def test_sla_overrides_are_steps_with_business_days() -> None:
    assert parse_pairs("submit=2; audit=1") == {"submit": 2, "audit": 1}
    clean, errors = clean_practice({"sla_overrides": "submit=2"}, partial=True)
    assert clean["sla_overrides"] == {"submit": 2} and not errors
    _, errors = clean_practice({"sla_overrides": "submitt=2"}, partial=True)
    assert _fields(errors) == ["sla_overrides"]
    clean, errors = clean_practice({"sla_overrides": "submit=2; appointment_check_days=3"}, partial=True)
    assert clean["sla_overrides"] == {"submit": 2, "appointment_check_days": 3} and not errors
    clean, errors = clean_practice({"sla_overrides": "appointment_check_days=0"}, partial=True)
    assert clean["sla_overrides"] == {"appointment_check_days": 0} and not errors  # checked on the visit day
    _, errors = clean_practice({"sla_overrides": "appointment_check_days=11"}, partial=True)
    assert _fields(errors) == ["sla_overrides"]


def test_payer_kinds_are_snake_case_tokens_and_self_pay_needs_no_enrolment() -> None:
    base = {"payer_id": "60054", "name": "Aetna", "kind": "commercial", "filing_limit_days": "90",
            "appeal_window_days": "180"}  # fmt: skip
    clean, errors = clean_payer(base)
    assert not errors and clean["kind"] == PayerKind.COMMERCIAL and clean["enrollment_required_837"] is True
    clean, _ = clean_payer({**base, "kind": "self_pay"})
    assert clean["enrollment_required_837"] is clean["enrollment_required_270"] is False
    _, errors = clean_payer({**base, "kind": "Commercial Plan", "filing_limit_days": "-3"})
    assert set(_fields(errors)) == {"kind", "filing_limit_days"}
    clean, errors = clean_payer(
        {**base, "prior_auth_cpts": "90837; 90847", "telehealth_policy": '{"video_modifier": "95"}'}
    )
    assert not errors and clean["prior_auth_cpts"] == ["90837", "90847"]
    _, errors = clean_payer({**base, "telehealth_policy": '{"video": 1}'})
    assert _fields(errors) == ["telehealth_policy"]


def test_fees_are_positive_per_code_and_a_code_twice_names_both_rows() -> None:
    fees, errors = parse_fees([{"cpt": "90834", "charge": "150"}, {"cpt": "90837", "charge": "200.00"}])
    assert fees == {"90834": "150.00", "90837": "200.00"} and not errors
    _, errors = parse_fees(
        [
            {"cpt": "90834", "charge": "-1"},
            {"cpt": "9083", "charge": "1"},
            {"cpt": "90791", "charge": "0"},
            {"cpt": "90834", "charge": "5", "modifier": "95"},
        ]
    )
    assert [(e.row, e.field) for e in errors] == [(1, "charge"), (2, "cpt"), (3, "charge"), (4, "modifier")]


def _rate(**kw: str) -> dict[str, str]:
    return {"payer_id": "AETNA", "cpt": "90834", "allowed": "98.50", "effective_from": "2026-01-01", **kw}


def test_contracted_rates_refuse_unknown_payers_and_negative_amounts() -> None:
    rates, errors = parse_rates([_rate(), _rate(payer_id="NOPE", cpt="90837"), _rate(cpt="90791", allowed="-5")],
                                known_payers={"AETNA"}, today=TODAY)  # fmt: skip
    assert [(e.row, e.field) for e in errors] == [(2, "payer_id"), (3, "allowed")]
    assert "NOPE" in errors[0].message and "negative" in errors[1].message
    assert rates[0].allowed == Decimal("98.50")


def test_overlapping_rate_dates_for_one_payer_code_and_modifier_are_refused() -> None:
    _, errors = parse_rates([_rate(effective_to="2026-06-30"), _rate(effective_from="2026-06-30")],
                            known_payers={"AETNA"}, today=TODAY)  # fmt: skip
    assert [(e.row, e.field) for e in errors] == [(2, "effective_from")] and "row 1" in errors[0].message
    _, errors = parse_rates([_rate(), _rate(effective_from="2027-01-01")], known_payers={"AETNA"}, today=TODAY)
    assert len(errors) == 1  # the first is open-ended, so it overlaps every later one
    rates, errors = parse_rates([_rate(effective_to="2026-06-30"), _rate(effective_from="2026-07-01"),
                                 _rate(modifier="95"), _rate(payer_id="BCBS")],
                                known_payers={"AETNA", "BCBS"}, today=TODAY)  # fmt: skip
    assert not errors and len(rates) == 4


def test_a_range_ending_before_it_starts_is_refused() -> None:
    _, errors = parse_rates([_rate(effective_to="2025-12-31")], known_payers={"AETNA"}, today=TODAY)
    assert _fields(errors) == ["effective_to"]


def test_the_csv_codec_reads_what_it_writes() -> None:
    records = [{"payer_id": "AETNA", "cpt": "90834", "modifier": "", "allowed": "98.50",
                "effective_from": "2026-01-01", "effective_to": ""}]  # fmt: skip
    text = csv_files.write("rates", records)
    rows, errors = csv_files.read(text, "rates")
    assert not errors and [{k: v for k, v in r.items() if k != "_row"} for r in rows] == records
    assert rows[0]["_row"] == "2"


def test_a_csv_with_an_unknown_or_missing_column_is_refused_at_the_header() -> None:
    _, errors = csv_files.read("payer,cpt,allowed\nA,90834,1\n", "rates")
    assert {(e.row, e.field) for e in errors} == {(1, "payer"), (1, "payer_id"), (1, "effective_from")}


def test_a_payers_coding_policy_is_checked_like_its_telehealth_policy() -> None:
    from backoffice.onboarding.rules import clean_payer

    base = {"payer_id": "KEY1", "name": "Keystone", "kind": "medicaid_managed_care", "filing_limit_days": "365",
            "appeal_window_days": "60"}  # fmt: skip
    clean, errors = clean_payer({**base, "coding_policy": '{"associate_billing": "supervisor_2310d"}'})
    assert errors == [] and clean["coding_policy"] == {"associate_billing": "supervisor_2310d"}
    _, errors = clean_payer({**base, "coding_policy": '{"associate_billing": "sometimes"}'})
    assert [e.field for e in errors] == ["coding_policy"] and "associate_billing" in errors[0].message
