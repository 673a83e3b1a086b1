"""What a 271 says about mental-health benefits, as pure values (billing-rules §8.1).

``benefits_from_271`` prefers the mental-health service types (MH, then A4/A6/A7/A8 and the other
behavioral-health types, then the plan-level 30) and never takes another service's answer (a pharmacy copay is
not the therapy copay). ``summary`` is the one line a biller reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from backoffice.x12.benefits import (
    ACTIVE_CODES,
    BEHAVIORAL_HEALTH_SERVICE_TYPES,
    INACTIVE_CODES,
    Benefit,
    BenefitsRecord,
)

CENT = Decimal("0.01")
PSYCHIATRIC = frozenset({"A4", "A6", "A7", "A8"})
PLAN_LEVEL = "30"
UNRELATED = 9  # rank of a benefit for another service (pharmacy, vision…): never used
REMAINING_PERIODS = frozenset({"29", "33"})  # remaining, lifetime remaining
PERIODS = {"22": "service year", "23": "calendar year", "24": "year to date", "25": "contract", "26": "episode",
           "27": "visit", "29": "remaining", "32": "lifetime", "33": "lifetime remaining"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class BenefitsFacts:
    """What a 271 answer says about mental-health benefits; None where the payer said nothing usable."""

    active: bool | None = None
    in_network: bool | None = None
    copay: Decimal | None = None
    coinsurance_percent: Decimal | None = None
    deductible_remaining: Decimal | None = None
    out_of_pocket_remaining: Decimal | None = None
    visits_allowed: int | None = None
    visits_remaining: int | None = None
    auth_required: bool | None = None
    carve_out_payer_name: str | None = None
    carve_out_payer_id: str | None = None
    messages: tuple[str, ...] = field(default_factory=tuple)


def service_rank(benefit: Benefit) -> int:
    """0 MH, 1 psychiatric (A4/A6/A7/A8), 2 other behavioral health, 3 plan level (30 or none), else unrelated."""
    types = set(benefit.service_types)
    if "MH" in types:
        return 0
    if types & PSYCHIATRIC:
        return 1
    if types & BEHAVIORAL_HEALTH_SERVICE_TYPES:
        return 2
    return 3 if not types or PLAN_LEVEL in types else UNRELATED


def _network_rank(benefit: Benefit, in_network: bool | None) -> int:
    order = "NW UY" if in_network is False else "YW UN"
    flag = benefit.in_network or " "
    return order.index(flag) if flag in order else len(order)


def _level_rank(benefit: Benefit) -> int:
    return {"IND": 0, "": 1}.get(benefit.coverage_level, 2)


def _best(benefits: Iterable[Benefit], in_network: bool | None, keep: Callable[[Benefit], bool]) -> Benefit | None:
    usable = [b for b in benefits if service_rank(b) < UNRELATED and keep(b)]
    return min(usable, key=lambda b: (service_rank(b), _network_rank(b, in_network), _level_rank(b)), default=None)


def _top_rank(benefits: Iterable[Benefit]) -> list[Benefit]:
    usable = [b for b in benefits if service_rank(b) < UNRELATED]
    top = min((service_rank(b) for b in usable), default=UNRELATED)
    return [b for b in usable if service_rank(b) == top]


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(CENT) if value is not None else None


def _network(benefits: tuple[Benefit, ...], notes: list[str]) -> bool | None:
    flags = {b.in_network for b in _top_rank(b for b in benefits if b.in_network in ("Y", "N"))}
    if flags == {"Y", "N"}:
        notes.append("in- and out-of-network benefits both returned: confirm the clinician's network status")
    return True if flags == {"Y"} else (False if flags == {"N"} else None)


def _remaining(
    record: BenefitsRecord, code: str, label: str, in_network: bool | None, notes: list[str]
) -> Decimal | None:
    mine = [b for b in record.benefits if b.code == code and b.amount is not None]
    remaining = _best(mine, in_network, lambda b: b.time_period in REMAINING_PERIODS)
    if remaining is not None:
        return _money(remaining.amount)
    total = _best(mine, in_network, lambda b: True)
    if total is not None:
        period = PERIODS.get(total.time_period, "period not stated")
        notes.append(f"{label} {_money(total.amount)} ({period}); remaining not stated")
    return None


def _visits(benefits: tuple[Benefit, ...], in_network: bool | None) -> tuple[int | None, int | None]:
    limits = [b for b in benefits if b.code == "F" and b.quantity_qualifier == "VS" and b.quantity is not None]
    remaining = _best(limits, in_network, lambda b: b.time_period in REMAINING_PERIODS)
    used = _best(limits, in_network, lambda b: b.time_period == "24")
    allowed = _best(limits, in_network, lambda b: b.time_period not in REMAINING_PERIODS | {"24"})
    allowed_n = int(allowed.quantity) if allowed and allowed.quantity is not None else None
    if remaining is not None and remaining.quantity is not None:
        return allowed_n, int(remaining.quantity)
    if allowed_n is not None and used is not None and used.quantity is not None:
        return allowed_n, max(allowed_n - int(used.quantity), 0)
    return allowed_n, None


def _percent(value: Decimal | None) -> Decimal | None:
    """EB08 is a fraction (0.2 = 20%); a payer that sends 20 already means percent."""
    if value is None:
        return None
    return (value * 100 if value <= 1 else value).quantize(CENT)


def benefits_from_271(record: BenefitsRecord) -> BenefitsFacts:
    """The mental-health benefits a 271 answer gives (pure): active, network, cost share, limits, auth, carve-out."""
    notes: list[str] = list(record.rejection_messages)
    benefits = record.benefits
    in_network = _network(benefits, notes)
    status = _top_rank(b for b in benefits if b.code in ACTIVE_CODES | INACTIVE_CODES)
    active = any(b.code in ACTIVE_CODES for b in status) if status else None
    copay = _best(benefits, in_network, lambda b: b.code == "B" and b.amount is not None)
    coinsurance = _best(benefits, in_network, lambda b: b.code == "A" and b.percent is not None)
    deductible = _remaining(record, "C", "deductible", in_network, notes)
    out_of_pocket = _remaining(record, "G", "out-of-pocket maximum", in_network, notes)
    visits_allowed, visits_remaining = _visits(benefits, in_network)
    auth_answers = [b.auth_required for b in _top_rank(b for b in benefits if b.auth_required is not None)]
    auth = True if True in auth_answers else (False if auth_answers else None)
    carve_name = carve_id = None
    carve = _best(benefits, in_network, lambda b: b.code == "U")
    if carve is not None:
        entities = [e for e in carve.entities if e.entity_code == "PR"] or list(carve.entities)
        if entities:
            carve_name, carve_id = entities[0].name or None, entities[0].identifier or None
        else:
            notes.append("behavioral health is carved out, but the 271 does not name the entity to contact")
    for benefit in benefits:
        if service_rank(benefit) < UNRELATED:
            notes.extend(m for m in benefit.messages if m not in notes)
    return BenefitsFacts(
        active, in_network, _money(copay.amount) if copay else None, _percent(coinsurance.percent) if coinsurance
        else None, deductible, out_of_pocket, visits_allowed, visits_remaining, auth, carve_name, carve_id,
        tuple(dict.fromkeys(notes)),
    )  # fmt: skip


def summary(facts: BenefitsFacts) -> str:
    """The check in a line for the log (no member data): ``active; in network; copay 30.00; …``."""
    parts = [{True: "active", False: "inactive", None: "coverage status not stated"}[facts.active]]
    parts.append({True: "in network", False: "out of network", None: "network not stated"}[facts.in_network])
    for label, value in (("copay", facts.copay), ("deductible remaining", facts.deductible_remaining),
                         ("out-of-pocket remaining", facts.out_of_pocket_remaining)):  # fmt: skip
        if value is not None:
            parts.append(f"{label} {value}")
    if facts.coinsurance_percent is not None:
        parts.append(f"coinsurance {facts.coinsurance_percent}%")
    if facts.visits_allowed is not None or facts.visits_remaining is not None:
        parts.append(f"visits allowed {facts.visits_allowed} / remaining {facts.visits_remaining}")
    if facts.auth_required is not None:
        parts.append("prior auth required" if facts.auth_required else "no prior auth")
    if facts.carve_out_payer_name or facts.carve_out_payer_id:
        parts.append(f"carved out to {facts.carve_out_payer_name} ({facts.carve_out_payer_id})")
    return "; ".join(parts)


# ---- recording ----------------------------------------------------------------------------------------------------


def needs_person(
    *, active: bool | None, carve_out: str, visits_remaining: int | None, rejections: tuple[str, ...] = (),
    auth_required: bool | None = None, auth_in_hand: bool = True,
) -> str | None:  # fmt: skip
    """Why a person must look at a benefits answer (the payer could not find the member, inactive, carved out,
    unclear, no visits left, prior authorization required with none planned or on file), or None when it clears
    the session for billing. The same rule for a 271 answered at once and one that arrives later."""
    if rejections and active is None:
        return f"the payer could not answer: {'; '.join(rejections)}"
    if active is False:
        return "the payer reports the coverage inactive on the date of service"
    if carve_out:
        return f"behavioral health is carved out to {carve_out}: bill that payer"
    if active is None:
        return "the 271 does not say whether the coverage is active"
    if visits_remaining == 0:
        return "the plan's visit limit is used up"
    if auth_required and not auth_in_hand:
        return "the payer requires prior authorization and no authorization or prior-auth step covers this session"
    return None


def item_id_from_trace(trace: str) -> int | None:
    """The verify-benefits item a 270 trace number names (TRN02 ``<item id>-<attempt>``), or None."""
    head = trace.strip().split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) <= 12 else None
