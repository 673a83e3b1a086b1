"""Pure routing decisions: which rule matches an item, who in a pool gets it, and how Get next breaks ties.

No Flask, SQLAlchemy or Redis here: rules, candidates and items come in as plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from backoffice.remits.rules import RECOVERY, Family


class Distribution(StrEnum):
    NONE = "none"  # queue only: the item waits in the rule's queue for Get next
    PERSON = "person"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


DISTRIBUTION_LABELS: dict[str, str] = {
    Distribution.NONE: "Queue only",
    Distribution.PERSON: "One person",
    Distribution.ROUND_ROBIN: "Round-robin in a pool",
    Distribution.LEAST_LOADED: "Least-loaded in a pool",
}
POOLS = frozenset({Distribution.ROUND_ROBIN, Distribution.LEAST_LOADED})

# Get next's last money key: how likely working the item recovers the dollars, by denial family. billing-rules
# §6.6 suggests scoring by deadline × dollars × likelihood of recovery by CARC family; §6.5 lists the recurring
# families. Coding and records denials are fixed by us (correct and resubmit, send the notes) and almost always
# pay; eligibility/COB usually pays once the right payer is billed; medical-necessity appeals win often but not
# always; credentialing waits on enrollment; authorization denials (197/198) rarely recover without a retro
# auth; timely filing (29) pays only with proof of timely filing; a write-off recovers nothing. The rank is read
# from remits.rules.RECOVERY (one source of truth): rank 0 recovers most. Items with no family (not a denial)
# come after every family.
_LEVELS = sorted(set(RECOVERY.values()), reverse=True)
FAMILY_RANK: dict[str, int] = {family.value: _LEVELS.index(RECOVERY[family]) for family in Family}
NO_FAMILY_RANK = len(_LEVELS)


def family_rank(family: str | None) -> int:
    """0 for the families that recover most (coding, records), up to write-offs; no family ranks last."""
    return FAMILY_RANK.get(family or "", NO_FAMILY_RANK)


@dataclass(frozen=True)
class Rule:
    """A routing rule as plain values (``None`` matches anything)."""

    id: int
    name: str
    position: int
    practice_id: int | None = None
    payer_id: int | None = None
    kind: str | None = None
    denial_family: str | None = None
    required_skill: str | None = None
    target_queue: str | None = None
    target_user_id: int | None = None
    distribution: str = Distribution.NONE
    user_ids: tuple[int, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class ItemFacts:
    """What a rule matches on."""

    practice_id: int
    kind: str
    queue: str
    payer_id: int | None = None
    denial_family: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A person who might get the item: who they are, what they serve, and how many open items they hold."""

    id: int
    name: str
    active: bool
    practice_ids: frozenset[int]
    queues: frozenset[str] = frozenset()
    skills: frozenset[str] = frozenset()
    open_items: int = 0


@dataclass(frozen=True)
class Decision:
    """Where a routed item goes and why (``body`` is the sentence the log shows)."""

    rule: Rule
    queue: str
    assignee_id: int | None
    reason: str
    body: str
    data: Mapping[str, object] = field(default_factory=dict)


def matches(rule: Rule, item: ItemFacts) -> bool:
    """True when every field the rule sets equals the item's (unset fields match anything)."""
    return (
        rule.active
        and (rule.practice_id is None or rule.practice_id == item.practice_id)
        and (rule.payer_id is None or rule.payer_id == item.payer_id)
        and (rule.kind is None or rule.kind == item.kind)
        and (rule.denial_family is None or rule.denial_family == item.denial_family)
    )


def first_match(rules: Iterable[Rule], item: ItemFacts) -> Rule | None:
    """The active rule with the lowest position (then id) that matches the item, if any."""
    return next((r for r in sorted(rules, key=lambda r: (r.position, r.id)) if matches(r, item)), None)


def unqualified_because(rule: Rule, person: Candidate, item: ItemFacts, *, check_queue: bool) -> str | None:
    """Why ``person`` may not take this item under ``rule`` (None when they may)."""
    if not person.active:
        return f"{person.name} is inactive"
    if item.practice_id not in person.practice_ids:
        return f"{person.name} does not serve the practice"
    if rule.required_skill and rule.required_skill not in person.skills:
        return f"{person.name} lacks skill '{rule.required_skill}'"
    if check_queue and person.queues and target_queue(rule, item) not in person.queues:
        return f"{person.name} does not work queue {target_queue(rule, item)}"
    return None


def target_queue(rule: Rule, item: ItemFacts) -> str:
    return rule.target_queue or item.queue


def pool(rule: Rule, people: Sequence[Candidate], item: ItemFacts) -> list[Candidate]:
    """The qualified people of a pool rule, by id: its listed users, or everyone who works the target queue.

    An explicit list still drops the inactive, those who do not serve the practice and those without the skill;
    an implicit pool also needs the queue among the person's queues (no queues listed = works every queue).
    """
    if rule.user_ids:
        wanted = set(rule.user_ids)
        chosen = [p for p in people if p.id in wanted]
        check_queue = False
    else:
        chosen = list(people)
        check_queue = True
    return sorted(
        (p for p in chosen if unqualified_because(rule, p, item, check_queue=check_queue) is None), key=lambda p: p.id
    )


def next_round_robin(pool_ids: Sequence[int], cursor: int | None) -> int:
    """The next id after ``cursor`` in ascending order, wrapping round (the first when no cursor)."""
    ordered = sorted(pool_ids)
    if cursor is not None:
        for user_id in ordered:
            if user_id > cursor:
                return user_id
    return ordered[0]


def least_loaded(candidates: Sequence[Candidate]) -> Candidate:
    """Fewest open assigned items; ties go to the lowest id (stable, explainable)."""
    return min(candidates, key=lambda c: (c.open_items, c.id))


def decide(rule: Rule, item: ItemFacts, people: Sequence[Candidate], *, cursor: int | None = None) -> Decision:
    """Apply a matched rule: the queue it names, and the person (if any) who gets the item, with the reason."""
    queue = target_queue(rule, item)
    base = {"rule_id": rule.id, "rule": rule.name, "distribution": rule.distribution, "queue": queue}
    head = f"Routed by rule '{rule.name}'"
    if rule.distribution == Distribution.PERSON:
        person = next((p for p in people if p.id == rule.target_user_id), None)
        why = (
            "the target person is not a user of this organization"
            if person is None
            else unqualified_because(rule, person, item, check_queue=False)
        )
        if why is not None:
            reason = f"no one assigned: {why}; left in queue {queue}"
            return Decision(rule, queue, None, reason, f"{head}: {reason}", {**base, "reason": reason})
        reason = f"person: {person.name}"
        return Decision(rule, queue, person.id, reason, f"{head} ({reason})", {**base, "reason": reason})
    if rule.distribution in POOLS:
        members = pool(rule, people, item)
        if not members:
            who = "listed users" if rule.user_ids else f"people who work queue {queue}"
            skill = f" with skill '{rule.required_skill}'" if rule.required_skill else ""
            reason = f"no one assigned: pool empty (no active {who}{skill} serve the practice); left in queue {queue}"
            return Decision(rule, queue, None, reason, f"{head}: {reason}", {**base, "reason": reason})
        if rule.distribution == Distribution.ROUND_ROBIN:
            chosen_id = next_round_robin([m.id for m in members], cursor)
            chosen = next(m for m in members if m.id == chosen_id)
            names = ", ".join(m.name for m in members)
            reason = f"round robin: {chosen.name}, next after the last assigned among {names}"
        else:
            chosen = least_loaded(members)
            others = sorted((m for m in members if m.id != chosen.id), key=lambda m: (m.open_items, m.id))
            versus = " vs " + ", ".join(f"{m.name} {m.open_items}" for m in others[:3]) if others else " (alone)"
            reason = f"least loaded: {chosen.name} {chosen.open_items} open{versus}"
        data = {**base, "reason": reason, "pool": [m.id for m in members]}
        return Decision(rule, queue, chosen.id, reason, f"{head} ({reason})", data)
    reason = f"queue {queue}"
    return Decision(rule, queue, None, reason, f"{head} to queue {queue}", {**base, "reason": reason})
