"""A payer's coding policy as data: unit rule, accepted codes, CPT→HCPCS crosswalk, modifiers, associates.

Stored as JSON on ``Payer.coding_policy`` and parsed here (pure). Which modifiers a line gets is chosen by payer ×
credential × service (× code, × patient age); their order on the line by the payer's category order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from backoffice.coding import hcpcs, units

PRICING = "pricing"
INFORMATIONAL = "informational"
TELEHEALTH = "telehealth"
DEFAULT_ORDER = (PRICING, INFORMATIONAL, TELEHEALTH)
# Default category of each modifier (billing-rules 2.1): licence level and state U-modifiers price the line;
# programme, participants, age and NCCI/E-M modifiers inform; 95/93/GT/FQ/GQ say how it was delivered.
LICENCE_MODIFIERS = frozenset({"HO", "HN", "HP", "AH", "AJ", "HM", "HL"})
U_MODIFIERS = frozenset(f"U{c}" for c in "123456789ABCD")
TELEHEALTH_MODIFIERS = frozenset({"95", "93", "GT", "FQ", "GQ"})
ASSOCIATE = "associate"  # the credential key of a modifier rule that matches a pre-licensed associate

# Associates (pre-licensed clinicians under supervision): what the payer does with their sessions.
SUPERVISOR_2310D = "supervisor_2310d"  # renders under the associate's NPI, supervisor in loop 2310D
UNDER_SUPERVISOR = "under_supervisor"  # the supervisor is the rendering provider
NOT_BILLABLE = "not_billable"
ASSOCIATE_BILLING = (SUPERVISOR_2310D, UNDER_SUPERVISOR, NOT_BILLABLE)

POLICY_KEYS = frozenset(
    {"fifteen_minute_rule", "accepted_codes", "crosswalk", "modifiers", "modifier_order", "pricing_modifiers",
     "associate_billing", "em_modifier_25", "ncci_edits", "max_units"}
)  # fmt: skip
RULE_KEYS = frozenset({"add", "credentials", "services", "codes", "max_age"})
CODE_RE = re.compile(r"^(?:[0-9]{4}[0-9A-Z]|[A-V][0-9]{4})$")
MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$")


@dataclass(frozen=True, slots=True)
class ModifierRule:
    """Add ``modifiers`` to a line when every condition given matches (an empty condition matches anything)."""

    modifiers: tuple[str, ...]
    credentials: frozenset[str] = frozenset()  # "LCSW", ..., or "associate"
    services: frozenset[str] = frozenset()  # session service kinds
    codes: frozenset[str] = frozenset()  # only lines with these codes
    max_age: int | None = None  # patient younger than or this age on the date of service (HA: under 21)


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: the coding engine caches per policy object
class CodingPolicy:
    fifteen_minute_rule: str = units.CMS_EIGHT_MINUTE
    accepted_codes: frozenset[str] | None = None  # None: the payer takes any code
    crosswalk: Mapping[str, str] = field(default_factory=dict)  # CPT → the HCPCS the plan wants instead
    modifier_rules: tuple[ModifierRule, ...] = ()
    modifier_order: tuple[str, ...] = DEFAULT_ORDER
    pricing_modifiers: frozenset[str] = frozenset()  # more modifiers this payer prices on (e.g. HA, HQ)
    associate_billing: str = NOT_BILLABLE
    em_modifier_25: bool = True  # 25 on an E/M with a separately identifiable service the same day
    ncci_edits: bool = False  # apply the NCCI PTP and MUE tables (Medicare, and Medicaid by ACA §6507)
    max_units: Mapping[str, int] = field(default_factory=dict)  # the payer's own daily unit limits by code


def category(modifier: str, policy: CodingPolicy) -> str:
    """The modifier's category for ordering: pricing, informational or telehealth."""
    if modifier in LICENCE_MODIFIERS or modifier in U_MODIFIERS or modifier in policy.pricing_modifiers:
        return PRICING
    if modifier in TELEHEALTH_MODIFIERS:
        return TELEHEALTH
    return INFORMATIONAL


def ordered(modifiers: list[str], policy: CodingPolicy) -> tuple[str, ...]:
    """``modifiers`` without repeats, in the payer's category order (stable within a category)."""
    rank = {name: index for index, name in enumerate(policy.modifier_order)}
    unique = list(dict.fromkeys(modifiers))
    return tuple(sorted(unique, key=lambda m: rank.get(category(m, policy), len(rank))))


def policy_problem(data: Mapping[str, object]) -> str | None:
    """Why a payer's coding policy (JSON) is malformed, or None; the message names the key."""
    unknown = set(data) - POLICY_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)}; known: {sorted(POLICY_KEYS)}"
    rule = data.get("fifteen_minute_rule", units.CMS_EIGHT_MINUTE)
    if rule not in units.FIFTEEN_MINUTE_RULES:
        return f"fifteen_minute_rule: one of {', '.join(units.FIFTEEN_MINUTE_RULES)}"
    accepted = data.get("accepted_codes")
    if accepted is not None and (not isinstance(accepted, list) or not all(_code(c) for c in accepted)):
        return "accepted_codes: a list of CPT/HCPCS codes, or null for any"
    crosswalk = data.get("crosswalk", {})
    if not isinstance(crosswalk, dict) or not all(_code(k) and _code(v) for k, v in crosswalk.items()):
        return "crosswalk: an object from CPT code to the HCPCS code billed instead"
    for target in crosswalk.values():
        if hcpcs.is_hcpcs(target) and target not in hcpcs.CODES:
            return f"crosswalk: {target} is not a HCPCS code the engine knows"
    rules = data.get("modifiers", [])
    if not isinstance(rules, list):
        return "modifiers: a list of rules"
    for index, item in enumerate(rules, 1):
        problem = _rule_problem(item)
        if problem:
            return f"modifiers rule {index}: {problem}"
    order = data.get("modifier_order", list(DEFAULT_ORDER))
    if not isinstance(order, list) or sorted(order) != sorted(DEFAULT_ORDER):
        return f"modifier_order: the three categories {', '.join(DEFAULT_ORDER)} in the payer's order"
    pricing = data.get("pricing_modifiers", [])
    if not isinstance(pricing, list) or not all(isinstance(m, str) and MODIFIER_RE.match(m) for m in pricing):
        return "pricing_modifiers: a list of two-character modifiers"
    if data.get("associate_billing", NOT_BILLABLE) not in ASSOCIATE_BILLING:
        return f"associate_billing: one of {', '.join(ASSOCIATE_BILLING)}"
    for key in ("em_modifier_25", "ncci_edits"):
        if key in data and not isinstance(data[key], bool):
            return f"{key}: true or false"
    limits = data.get("max_units", {})
    if not isinstance(limits, dict) or not all(
        _code(k) and isinstance(v, int) and not isinstance(v, bool) and v >= 1 for k, v in limits.items()
    ):
        return "max_units: an object from code to a whole number of units (at least 1)"
    return None


def _code(value: object) -> bool:
    return isinstance(value, str) and bool(CODE_RE.match(value))


def _rule_problem(item: object) -> str | None:
    if not isinstance(item, dict):
        return "an object with add and optional credentials, services, codes, max_age"
    unknown = set(item) - RULE_KEYS
    if unknown:
        return f"unknown key(s) {sorted(unknown)}"
    add = item.get("add")
    if not isinstance(add, list) or not add or not all(isinstance(m, str) and MODIFIER_RE.match(m) for m in add):
        return "add: a list of two-character modifiers"
    for key in ("credentials", "services", "codes"):
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return f"{key}: a list of strings"
    if "codes" in item and not all(_code(c) for c in item["codes"]):
        return "codes: CPT/HCPCS codes"
    age = item.get("max_age")
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 120):
        return "max_age: a whole number of years"
    return None


def parse_policy(data: Mapping[str, object] | None, base: CodingPolicy) -> CodingPolicy:
    """A payer's stored policy over its kind's defaults (``base``); assumes ``policy_problem`` passed."""
    if not data:
        return base
    accepted = data.get("accepted_codes", ...)
    rules = tuple(
        ModifierRule(
            tuple(r["add"]),
            frozenset(r.get("credentials", ())),
            frozenset(r.get("services", ())),
            frozenset(r.get("codes", ())),
            r.get("max_age"),
        )  # fmt: skip
        for r in data.get("modifiers", ())  # type: ignore[union-attr]
    )
    return CodingPolicy(
        fifteen_minute_rule=str(data.get("fifteen_minute_rule", base.fifteen_minute_rule)),
        accepted_codes=base.accepted_codes if accepted is ... else (None if accepted is None else frozenset(accepted)),
        crosswalk=dict(data.get("crosswalk", base.crosswalk)),  # type: ignore[arg-type]
        modifier_rules=rules if "modifiers" in data else base.modifier_rules,
        modifier_order=tuple(data.get("modifier_order", base.modifier_order)),  # type: ignore[arg-type]
        pricing_modifiers=frozenset(data.get("pricing_modifiers", base.pricing_modifiers)),  # type: ignore[arg-type]
        associate_billing=str(data.get("associate_billing", base.associate_billing)),
        em_modifier_25=bool(data.get("em_modifier_25", base.em_modifier_25)),
        ncci_edits=bool(data.get("ncci_edits", base.ncci_edits)),
        max_units=dict(data.get("max_units", base.max_units)),  # type: ignore[arg-type]
    )
