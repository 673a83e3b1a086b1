"""Appeal-letter templates rendered in a Jinja sandbox (pure: no Flask, no database).

Admins write template bodies; a body sees only the fixed variables below, all plain dicts, lists and strings
(dates and money already formatted), so no object of ours is reachable from a template. The environment is
Jinja's ``ImmutableSandboxedEnvironment`` (no ``__class__``-style attribute access, no mutation of what it is
given) with ``StrictUndefined`` (a misspelt variable is an error, never an empty string), no loader (no include,
import or extends), no macros or call blocks (no recursion), no ``range``/``lipsum`` globals, a small filter list,
bounded ``*``/``**`` and size limits on the body and on the letter.

Variables (see docs/appeals.md):
  today, family, family_label, level {number, name, title}, patient {name, dob, member_id},
  claim {number, payer_claim_number, account_number, date_of_service, billed, denied_on, diagnoses,
         authorization_number, submitted_on, accepted_on},
  lines [{code, units, charge, paid}], denials [{code, group, reason, meaning, amount, remarks [{code, meaning}]}],
  provider {name, credential, npi}, practice {name, npi, tax_id, phone}, payer {name, kind},
  deadline, argument, arguments {family: text}, parity, erisa, chronology [text], attachments [text]
"""

from __future__ import annotations

import operator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from backoffice.appeals.rules import (
    ARGUMENTS,
    ATTACHMENTS,
    DEFAULT_ARGUMENT,
    ERISA_RIGHTS,
    PARITY_ARGUMENT,
    PARITY_FAMILIES,
    PARITY_PAYER_KINDS,
    AppealFacts,
    Denial,
    DeniedLine,
    level_title,
    money,
)

MAX_BODY = 20_000  # characters an admin may store
MAX_LETTER = 60_000  # characters a rendered letter may reach
MAX_REPEAT = 5_000  # longest string/list a template may build with * ; exponents above this are refused
ALLOWED_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "join", "default", "d", "first", "last",
                   "length", "count", "list", "sort", "string", "int", "round", "e")  # fmt: skip
FORBIDDEN_NODES = (nodes.Macro, nodes.CallBlock, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)
ENCLOSED_ERA = "Copy of the remittance advice (ERA/EOB) showing the denial"
VARIABLES = ("today", "family", "family_label", "level", "patient", "claim", "lines", "denials", "provider",
             "practice", "payer", "deadline", "argument", "arguments", "parity", "erisa", "chronology",
             "attachments")  # fmt: skip


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered; the message says why (never patient data)."""


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise TemplateProblem("body: exponent too large")
            return operator.pow(left, right)
        if isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            count = right if isinstance(left, str | list | tuple) else left
            seq = left if isinstance(left, str | list | tuple) else right
            if isinstance(count, int) and len(seq) * max(count, 0) > MAX_REPEAT:
                raise TemplateProblem("body: repetition too long")
        return operator.mul(left, right)


def _date(value: date | None) -> str:
    return f"{value:%m/%d/%Y}" if value else ""


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, loader=None)
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.filters["money"] = lambda value: value if isinstance(value, str) else money(Decimal(str(value)))
    env.tests = {name: env.tests[name] for name in ("defined", "undefined", "none", "string", "number", "sequence")}
    return env


_ENV = _environment()


def parity_applies(family: str, payer_kind: str) -> bool:
    """MHPAEA language belongs in medical-necessity and authorization appeals to plans it governs (§7.3)."""
    return family in PARITY_FAMILIES and payer_kind in PARITY_PAYER_KINDS


def context(facts: AppealFacts, *, level: int = 1) -> dict[str, Any]:
    """The template variables for ``facts``: plain values only."""
    billed = sum((line.charge for line in facts.lines), Decimal("0"))
    chronology = [f"Service provided {_date(facts.date_of_service)}."]
    if facts.submitted_on:
        chronology.append(f"Claim first submitted electronically {_date(facts.submitted_on)}.")
    if facts.accepted_on:
        chronology.append(f"Accepted by the payer's front end (277CA) {_date(facts.accepted_on)}.")
    if facts.denial_date:
        chronology.append(f"Denied {_date(facts.denial_date)}.")
    commercial = facts.payer_kind in ("commercial", "behavioral_health_carve_out")
    return {
        "today": f"{facts.today:%B %d, %Y}",
        "family": facts.family,
        "family_label": facts.family.replace("_", " "),
        "level": {"number": level, "name": facts.level, "title": level_title(facts.level)},
        "patient": {"name": facts.patient_name, "dob": _date(facts.patient_dob), "member_id": facts.member_id},
        "claim": {
            "number": facts.payer_claim_number or facts.account_number,
            "payer_claim_number": facts.payer_claim_number or "not assigned",
            "account_number": facts.account_number,
            "date_of_service": _date(facts.date_of_service),
            "billed": money(billed),
            "denied_on": _date(facts.denial_date),
            "diagnoses": list(facts.diagnoses),
            "authorization_number": facts.authorization_number,
            "submitted_on": _date(facts.submitted_on),
            "accepted_on": _date(facts.accepted_on),
        },
        "lines": [
            {
                "code": ln.code + ("-" + "-".join(ln.modifiers) if ln.modifiers else ""),
                "units": str(ln.units),
                "charge": money(ln.charge),
                "paid": money(ln.paid),
            }
            for ln in facts.lines
        ],  # fmt: skip
        "denials": [
            {
                "code": f"{d.group}-{d.reason}",
                "group": d.group,
                "reason": d.reason,
                "meaning": d.meaning,
                "amount": money(d.amount),
                "remarks": [{"code": c, "meaning": m} for c, m in d.remarks],
            }
            for d in facts.denials
        ],  # fmt: skip
        "provider": {"name": facts.provider_name, "credential": facts.provider_credential, "npi": facts.provider_npi},
        "practice": {
            "name": facts.practice_name,
            "npi": facts.practice_npi,
            "tax_id": facts.practice_tax_id,
            "phone": facts.practice_phone,
        },  # fmt: skip
        "payer": {"name": facts.payer_name, "kind": facts.payer_kind},
        "deadline": _date(facts.deadline),
        "argument": ARGUMENTS.get(facts.family, DEFAULT_ARGUMENT),
        "arguments": dict(ARGUMENTS),
        "parity": PARITY_ARGUMENT if parity_applies(facts.family, facts.payer_kind) else "",
        "erisa": ERISA_RIGHTS if commercial else "",
        "chronology": chronology,
        "attachments": [ENCLOSED_ERA, *ATTACHMENTS.get(facts.family, ())],
    }


def check_body(body: str) -> None:
    """Refuse a body that is too long, does not parse, or uses a construct the sandbox does not allow."""
    if not body.strip():
        raise TemplateProblem("body: required")
    if len(body) > MAX_BODY:
        raise TemplateProblem(f"body: at most {MAX_BODY:,} characters")
    try:
        tree = _ENV.parse(body)
    except TemplateError as error:
        raise TemplateProblem(f"body: line {getattr(error, 'lineno', '?')}: {error.message}") from None
    for kind in FORBIDDEN_NODES:
        if tree.find(kind) is not None:
            raise TemplateProblem(f"body: {kind.__name__.lower()} is not allowed in appeal templates")


def render(body: str, variables: dict[str, Any]) -> str:
    """The letter from ``body``; any sandbox, undefined-variable or size problem is a ``TemplateProblem``."""
    check_body(body)
    try:
        letter = _ENV.from_string(body).render(variables)
    except TemplateProblem:
        raise
    except (TemplateError, RecursionError, TypeError, ValueError, ArithmeticError) as error:
        message = getattr(error, "message", None) or type(error).__name__
        raise TemplateProblem(f"body: {message}") from None
    if len(letter) > MAX_LETTER:
        raise TemplateProblem(f"body: the letter would be longer than {MAX_LETTER:,} characters")
    return letter


SAMPLE_FACTS = AppealFacts(
    today=date(2026, 11, 20), family="medical_necessity", level="internal_appeal", deadline=date(2027, 5, 10),
    payer_name="Sample Health Plan", payer_kind="commercial", payer_claim_number="ICN-SAMPLE",
    account_number="SAMPLE-1", denial_date=date(2026, 11, 10), patient_name="Sample Patient",
    patient_dob=date(1990, 1, 2), member_id="SAMPLE123", date_of_service=date(2026, 10, 1), diagnoses=("F33.1",),
    lines=(DeniedLine("90837", ("95",), 1, Decimal("180.00"), Decimal("0.00")),),
    denials=(Denial("CO", "50", "not deemed a medical necessity", Decimal("180.00"), (("N115", "LCD"),)),),
    provider_name="Sample Clinician", provider_credential="LCSW", provider_npi="1234567893",
    practice_name="Sample Practice", practice_npi="1245319599", practice_tax_id="123456789",
    practice_phone="5551234567", authorization_number="AUTH-1", submitted_on=date(2026, 10, 3),
    accepted_on=date(2026, 10, 4),
)  # fmt: skip


def validate(body: str, *, family: str, payer_kind: str = "commercial") -> str:
    """Render ``body`` against sample facts of this family (the check a save runs); returns the sample letter."""
    return render(body, context(replace(SAMPLE_FACTS, family=family, payer_kind=payer_kind)))
