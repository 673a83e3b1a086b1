"""Appeal-letter drafts (billing-rules §7.2 sections, §7.3 parity): what each denial family argues and encloses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from backoffice.appeals.rules import (
    ARGUMENTS,
    PARITY_ARGUMENT,
    AppealFacts,
    Denial,
    DeniedLine,
    draft_appeal_letter,
)


def _facts(**kw) -> AppealFacts:
    values = dict(
        today=date(2026, 11, 20), family="medical_necessity", level="internal_appeal", deadline=date(2027, 5, 10),
        payer_name="Aetna", payer_kind="commercial", payer_claim_number="ICN123", account_number="CALM-17",
        denial_date=date(2026, 11, 10), patient_name="Ana Example", patient_dob=date(1990, 1, 2), member_id="W123",
        date_of_service=date(2026, 10, 1), diagnoses=("F33.1",),
        lines=(DeniedLine("90837", ("95",), 1, Decimal("180.00"), Decimal("0.00")),),
        denials=(Denial("CO", "50", "not deemed a medical necessity", Decimal("180.00"), (("N115", "LCD"),)),),
        provider_name="Rae Clinician", provider_credential="LCSW", provider_npi="1234567893",
        practice_name="Calm Mind", practice_npi="1245319599", practice_tax_id="123456789", practice_phone="5551234567",
    )  # fmt: skip
    values.update(kw)
    return AppealFacts(**values)


def test_a_medical_necessity_letter_has_the_identifiers_the_denial_and_the_clinical_argument() -> None:
    letter = draft_appeal_letter(_facts())
    for expected in ("Ana Example", "01/02/1990", "W123", "ICN123", "10/01/2026", "90837-95", "$180.00",
                     "CO-50", "N115", "Rae Clinician, LCSW, NPI 1234567893", "TIN 123456789",
                     ARGUMENTS["medical_necessity"], "Treatment plan", "05/10/2027"):  # fmt: skip
        assert expected in letter, expected
    assert "psychotherapy notes)" in letter  # never enclose separately kept psychotherapy notes (§7.2)


def test_parity_is_argued_for_commercial_medical_necessity_and_authorization_but_not_for_medicare() -> None:
    assert PARITY_ARGUMENT in draft_appeal_letter(_facts())
    assert PARITY_ARGUMENT in draft_appeal_letter(_facts(family="authorization"))
    assert PARITY_ARGUMENT not in draft_appeal_letter(_facts(payer_kind="medicare", level="redetermination"))
    assert PARITY_ARGUMENT not in draft_appeal_letter(_facts(family="coding"))


@pytest.mark.parametrize(
    ("payer_kind", "erisa"), [("commercial", True), ("behavioral_health_carve_out", True), ("medicare", False)]
)
def test_erisa_full_and_fair_review_is_requested_only_from_commercial_plans(payer_kind, erisa) -> None:
    assert ("29 CFR 2560.503-1" in draft_appeal_letter(_facts(payer_kind=payer_kind))) is erisa


def test_a_timely_filing_appeal_gives_the_submission_and_acceptance_dates_as_proof() -> None:
    letter = draft_appeal_letter(
        _facts(family="timely_filing", submitted_on=date(2026, 10, 3), accepted_on=date(2026, 10, 4))
    )
    assert "first submitted electronically 10/03/2026" in letter
    assert "(277CA) 10/04/2026" in letter
    assert "277CA for the original submission" in letter
    assert ARGUMENTS["timely_filing"] in letter


# --- templates in the sandbox (backoffice/appeals/rendering.py) ---

from backoffice.appeals import rendering  # noqa: E402
from backoffice.appeals.demo import DEFAULT_TEMPLATES  # noqa: E402
from backoffice.appeals.rules import (  # noqa: E402
    ERISA_RIGHTS,
    Decision,
    TemplateChoice,
    choose_template,
    deadline_countdown,
    level_name,
    outcome_problems,
    overturn_rate,
    overturn_table,
    sent_problems,
)


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ patient.__class__ }}",
        "{{ lines.append(1) }}",
        "{{ claim.update({'number': 'x'}) }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ range(10) }}",
        "{{ 'x' * 1000000 }}",
        "{{ 9 ** 999999 }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% include 'base.html' %}",
        "{% extends 'base.html' %}",
        "{% import 'x' as y %}",
        "{{ 'x'|center(1000000) }}",
    ],
)
def test_the_sandbox_refuses_attribute_escapes_globals_mutation_and_blowups(body: str) -> None:
    with pytest.raises(rendering.TemplateProblem):
        rendering.validate(body, family="coding")


@pytest.mark.parametrize("body", ["{{ pateint.name }}", "{{ patient.nmae }}", "{{ claim.number }} {{ argumnet }}"])
def test_an_undefined_variable_is_an_error_not_an_empty_string(body: str) -> None:
    with pytest.raises(rendering.TemplateProblem, match="undefined|has no attribute"):
        rendering.validate(body, family="coding")


def test_a_body_over_the_size_limit_or_that_does_not_parse_is_refused_with_the_field_named() -> None:
    with pytest.raises(rendering.TemplateProblem, match="body: at most 20,000"):
        rendering.validate("x" * (rendering.MAX_BODY + 1), family="coding")
    with pytest.raises(rendering.TemplateProblem, match="body: line 1"):
        rendering.validate("{% if %}", family="coding")


def test_the_variables_are_plain_values_with_the_denial_meaning_and_the_family_argument() -> None:
    variables = rendering.context(_facts())
    assert set(variables) == set(rendering.VARIABLES)
    assert variables["denials"][0] == {"code": "CO-50", "group": "CO", "reason": "50",
                                       "meaning": "not deemed a medical necessity", "amount": "$180.00",
                                       "remarks": [{"code": "N115", "meaning": "LCD"}]}  # fmt: skip
    assert variables["argument"] == ARGUMENTS["medical_necessity"]
    assert variables["parity"] == PARITY_ARGUMENT and variables["erisa"] == ERISA_RIGHTS
    medicare = rendering.context(_facts(payer_kind="medicare", level="redetermination"))
    assert medicare["parity"] == "" and medicare["erisa"] == ""
    assert rendering.context(_facts(family="coding"))["parity"] == ""


@pytest.mark.parametrize(
    ("family", "payer_kind"),
    [(f, k) for f in sorted({t[0] for t in DEFAULT_TEMPLATES}) for k in ("commercial", "medicare")],
)
def test_every_default_template_renders_the_72_identifiers_and_its_familys_argument(family, payer_kind) -> None:
    body = next(t[3] for t in DEFAULT_TEMPLATES if t[0] == family)
    facts = _facts(family=family, payer_kind=payer_kind, submitted_on=date(2026, 10, 3), accepted_on=date(2026, 10, 4))
    letter = rendering.render(body, rendering.context(facts))
    for expected in ("Ana Example", "01/02/1990", "W123", "ICN123", "10/01/2026", "90837-95", "$180.00", "CO-50",
                     "not deemed a medical necessity", "Rae Clinician, LCSW, NPI 1234567893", "TIN 123456789",
                     "Aetna", "05/10/2027"):  # fmt: skip
        assert expected in letter, (family, expected)
    assert ARGUMENTS.get(family, "") in letter
    parity = family in ("medical_necessity", "authorization") and payer_kind == "commercial"
    assert (PARITY_ARGUMENT in letter) is parity, family
    assert "comparative analysis" in letter if parity else "Parity" not in letter


def test_the_timely_filing_template_gives_the_submission_and_acceptance_as_proof() -> None:
    body = next(t[3] for t in DEFAULT_TEMPLATES if t[0] == "timely_filing")
    facts = _facts(family="timely_filing", submitted_on=date(2026, 10, 3), accepted_on=date(2026, 10, 4))
    letter = rendering.render(body, rendering.context(facts))
    assert "10/03/2026" in letter and "(277CA) 10/04/2026" in letter and "277CA for the original submission" in letter


def _choice(id_: int, payer_id: int | None, *, family="medical_necessity", level=1, active=True, order=0):  # noqa: ANN001, ANN202
    return TemplateChoice(id_, family, payer_id, level, active, (order, id_))


def test_a_payer_specific_template_beats_an_any_payer_one_and_inactive_or_other_keys_never_win() -> None:
    candidates = [_choice(1, None, order=5), _choice(2, 7), _choice(3, 8, order=9),
                  _choice(4, 7, active=False, order=9), _choice(5, None, level=2, order=9),
                  _choice(6, None, family="coding", order=9)]  # fmt: skip
    assert choose_template(candidates, family="medical_necessity", payer_id=7, level=1).id == 2
    assert choose_template(candidates, family="medical_necessity", payer_id=9, level=1).id == 1  # any payer
    assert choose_template(candidates, family="medical_necessity", payer_id=9, level=3) is None  # built-in letter
    assert choose_template([_choice(1, None, order=1), _choice(2, None, order=2)], family="medical_necessity",
                           payer_id=1, level=1).id == 2  # the latest edit among equals  # fmt: skip


def test_levels_map_to_each_payer_kinds_names() -> None:
    assert [level_name("medicare", n) for n in (1, 2, 3)] == ["redetermination", "reconsideration", "alj_hearing"]
    assert level_name("commercial", 3) == "external_review"
    with pytest.raises(ValueError, match="level"):
        level_name("self_pay", 1)


TODAY = date(2026, 11, 20)


def _sent(**kw) -> list[str]:  # noqa: ANN003
    values = dict(sent_on=TODAY, method="fax", today=TODAY, deadline=date(2026, 12, 1), late_reason="", reference="")
    values.update(kw)
    return sent_problems(**values)


def test_sending_needs_a_past_date_a_known_method_and_after_the_deadline_a_reason() -> None:
    assert _sent() == []
    assert _sent(sent_on=date(2026, 11, 21)) == ["sent date: cannot be in the future"]
    assert _sent(method="carrier pigeon") == ["method: one of fax, mail, portal, email"]
    late = _sent(deadline=date(2026, 11, 19))
    assert len(late) == 1 and late[0].startswith("late reason: the deadline was 11/19/2026")
    assert _sent(deadline=date(2026, 11, 19), late_reason="payer portal down; fax log attached") == []
    assert _sent(deadline=TODAY) == []  # on the deadline day is on time
    assert _sent(sent_on=None) == ["sent date: required"]


def _outcome(outcome: str, recovered: str | None, amount: str = "180.00", **kw) -> list[str]:  # noqa: ANN003
    values = dict(decided_on=TODAY, today=TODAY, sent_on=date(2026, 11, 1))
    values.update(kw)
    return outcome_problems(outcome=outcome, recovered=None if recovered is None else Decimal(recovered),
                            amount=Decimal(amount), **values)  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "recovered", "ok"),
    [("partial", "90.00", True), ("partial", "0", False), ("partial", "180.00", False), ("partial", None, False),
     ("overturned", "180.00", True), ("overturned", None, True), ("overturned", "180.01", False),
     ("upheld", None, True), ("upheld", "0", True), ("upheld", "10", False), ("won", None, False),
     ("partial", "-1", False)],
)  # fmt: skip
def test_a_partial_win_recovers_strictly_between_nothing_and_the_amount_in_dispute(outcome, recovered, ok) -> None:
    assert (_outcome(outcome, recovered) == []) is ok


def test_a_decision_cannot_be_in_the_future_or_before_the_appeal_was_sent() -> None:
    assert _outcome("upheld", None, decided_on=date(2026, 11, 21)) == ["decision date: cannot be in the future"]
    assert _outcome("upheld", None, decided_on=date(2026, 10, 31))[0].startswith("decision date: before the appeal")


def test_the_overturn_rate_counts_partial_wins_and_groups_by_family_payer_level_and_month() -> None:
    d = Decimal
    decisions = [
        Decision("medical_necessity", "Aetna", 1, date(2026, 10, 5), "overturned", d("180.00")),
        Decision("medical_necessity", "Aetna", 1, date(2026, 10, 9), "partial", d("60.00")),
        Decision("medical_necessity", "Aetna", 1, date(2026, 10, 20), "upheld", d("0.00")),
        Decision("medical_necessity", "Aetna", 1, date(2026, 11, 2), "upheld", d("0.00")),
        Decision("medical_necessity", "Cigna", 2, date(2026, 10, 2), "overturned", d("150.00")),
        Decision("authorization", "Aetna", 1, date(2026, 10, 2), "upheld", d("0.00")),
    ]
    rows = overturn_table(decisions)
    assert rows[0] == ["authorization", "Aetna", 1, "2026-10", 1, 0, 0, 1, d("0.0"), d("0.00")]
    assert rows[1] == ["medical_necessity", "Aetna", 1, "2026-10", 3, 1, 1, 1, d("66.7"), d("240.00")]
    assert rows[2] == ["medical_necessity", "Aetna", 1, "2026-11", 1, 0, 0, 1, d("0.0"), d("0.00")]
    assert rows[3] == ["medical_necessity", "Cigna", 2, "2026-10", 1, 1, 0, 0, d("100.0"), d("150.00")]
    by_family = overturn_table(decisions, by=("family",))
    assert by_family == [["authorization", 1, 0, 0, 1, d("0.0"), d("0.00")],
                         ["medical_necessity", 5, 2, 1, 2, d("60.0"), d("390.00")]]  # fmt: skip
    assert overturn_rate(0, 0, 0) is None


def test_the_deadline_countdown_reads_days_left_due_today_or_overdue() -> None:
    assert deadline_countdown(date(2026, 11, 30), TODAY) == "10 days left"
    assert deadline_countdown(TODAY, TODAY) == "due today"
    assert deadline_countdown(date(2026, 11, 19), TODAY) == "1 day overdue"
    assert deadline_countdown(None, TODAY) == "no deadline on file"
