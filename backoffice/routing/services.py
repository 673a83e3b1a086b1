"""Routing writes: apply the organization's rules to items that become ready, and edit the rules.

``route_item`` (one item) and ``route_rows`` (rows about to be bulk-inserted, e.g. 835 denials) add to the
caller's transaction; the rule-editing services own theirs and write an ``AuditEvent`` in it. Rules and people
are read once per transaction (cached on the session), so a 10,000-claim posting pays a handful of queries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from backoffice.accounts.access import can_supervise
from backoffice.accounts.models import User, user_practices
from backoffice.accounts.rules import STAFF_ROLES, sees_whole_organization
from backoffice.audit.models import AuditEvent
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.onboarding.people import known_queues, known_skills
from backoffice.orgs.models import Payer, Practice
from backoffice.routing import rules as r
from backoffice.routing.models import RoutingRule
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import DEFAULT_QUEUES, OPEN_STATES, OUTSIDE_QUEUES, InteractionKind, ItemState, Mode

ROUTER = "router"
_CACHE_KEY = "routing_cache"
CURSOR_RETRIES = 10


# --- reading rules and people (cached per transaction) ---------------------------------------------------


def _cache() -> dict[str, Any]:
    session = db.session()  # the scoped session's current Session
    transaction = session.get_transaction()
    if transaction is None:
        session.connection()  # begin, so the cache is tied to this transaction
        transaction = session.get_transaction()
    stored = session.info.get(_CACHE_KEY)
    if stored is not None and stored[0] is transaction:
        return stored[1]
    fresh: dict[str, Any] = {}
    session.info[_CACHE_KEY] = (transaction, fresh)
    return fresh


def as_rule(row: RoutingRule) -> r.Rule:
    return r.Rule(
        id=row.id, name=row.name, position=row.position, practice_id=row.practice_id, payer_id=row.payer_id,
        kind=row.kind, denial_family=row.denial_family, required_skill=row.required_skill,
        target_queue=row.target_queue, target_user_id=row.target_user_id, distribution=row.distribution,
        user_ids=tuple(row.user_ids or ()), active=row.active,
    )  # fmt: skip


def active_rules(organization_id: int) -> list[r.Rule]:
    """The organization's active rules in order (position, id); read once per transaction."""
    cache = _cache().setdefault("rules", {})
    if organization_id not in cache:
        rows = db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.organization_id == organization_id, RoutingRule.active)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
        cache[organization_id] = [as_rule(row) for row in rows]
    return cache[organization_id]


def people(organization_id: int) -> list[r.Candidate]:
    """Every user of the organization with the practices they serve, queues and skills (no load yet)."""
    cache = _cache().setdefault("people", {})
    if organization_id not in cache:
        users = db.session.scalars(  # the billing staff: a practice's own users are never routed work
            select(User).where(User.organization_id == organization_id, User.role.in_(list(STAFF_ROLES)))
        ).all()
        all_practices = frozenset(
            db.session.scalars(select(Practice.id).where(Practice.organization_id == organization_id))
        )
        served: dict[int, set[int]] = {}
        for user_id, practice_id in db.session.execute(
            select(user_practices.c.user_id, user_practices.c.practice_id).where(
                user_practices.c.user_id.in_([u.id for u in users]),
                user_practices.c.practice_id.in_(all_practices),
            )
        ):
            served.setdefault(user_id, set()).add(practice_id)
        cache[organization_id] = [
            r.Candidate(
                id=u.id,
                name=u.name,
                active=u.active,
                practice_ids=all_practices if sees_whole_organization(u.role) else frozenset(served.get(u.id, ())),
                queues=frozenset(u.queues or ()),
                skills=frozenset(u.skills or ()),
            )
            for u in users
        ]
    return cache[organization_id]


def open_counts(user_ids: Sequence[int]) -> dict[int, int]:
    """Open items (blocked, ready, in progress, snoozed) assigned to each user."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(WorkItem.assignee_id, func.count())
        .where(WorkItem.assignee_id.in_(list(user_ids)), WorkItem.state.in_([s.value for s in OPEN_STATES]))
        .group_by(WorkItem.assignee_id)
    )
    return {user_id: int(count) for user_id, count in rows}


def _with_load(candidates: list[r.Candidate], counts: Mapping[int, int]) -> list[r.Candidate]:
    return [dataclasses.replace(c, open_items=counts.get(c.id, 0)) for c in candidates]


def _cursor(rule_id: int) -> int | None:
    return db.session.scalar(select(RoutingRule.last_assigned_user_id).where(RoutingRule.id == rule_id))


def _move_cursor(rule_id: int, old: int | None, new: int) -> bool:
    """Advance a round-robin cursor only if nobody moved it since we read it (a stale router retries)."""
    guard = RoutingRule.last_assigned_user_id.is_(None) if old is None else RoutingRule.last_assigned_user_id == old
    result = db.session.execute(
        update(RoutingRule)
        .where(RoutingRule.id == rule_id, guard)
        .values(last_assigned_user_id=new)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


# --- applying rules -------------------------------------------------------------------------------------


def facts_of(item: WorkItem | Mapping[str, Any]) -> r.ItemFacts:
    get = item.get if isinstance(item, Mapping) else lambda key: getattr(item, key)
    return r.ItemFacts(
        practice_id=get("practice_id"),
        kind=get("kind"),
        queue=get("queue") or DEFAULT_QUEUES.get(get("kind"), "general"),
        payer_id=get("payer_id"),
        denial_family=get("denial_family"),
    )


def _decide(rule: r.Rule, facts: r.ItemFacts, organization_id: int) -> r.Decision:
    candidates = people(organization_id)
    if rule.distribution == r.Distribution.LEAST_LOADED:
        members = r.pool(rule, candidates, facts)
        counts = open_counts([m.id for m in members])
        return r.decide(rule, facts, _with_load(candidates, counts))
    if rule.distribution != r.Distribution.ROUND_ROBIN:
        return r.decide(rule, facts, candidates)
    for _ in range(CURSOR_RETRIES):
        cursor = _cursor(rule.id)
        decision = r.decide(rule, facts, candidates, cursor=cursor)
        if decision.assignee_id is None or _move_cursor(rule.id, cursor, decision.assignee_id):
            return decision
    raise RuntimeError(f"routing rule {rule.id}: round-robin cursor kept moving")


def route_item(item: WorkItem, *, now: datetime, source: str = ROUTER) -> r.Decision | None:
    """Route one manual item that just became ready (in the caller's transaction): the first matching rule
    sets its queue and maybe its one owner, and an assignment row logs the rule and the reason.

    Nothing happens without a matching rule, for automated items, or when the item already has an owner.
    """
    if item.mode != Mode.MANUAL or item.state != ItemState.READY or item.assignee_id is not None:
        return None
    if item.queue in OUTSIDE_QUEUES:  # the practice answers it in the portal: no rule moves it
        return None
    organization_id = item.practice.organization_id
    rules = active_rules(organization_id)
    if not rules:
        return None
    facts = facts_of(item)
    rule = r.first_match(rules, facts)
    if rule is None:
        return None
    decision = _decide(rule, facts, organization_id)
    item.queue = decision.queue
    item.assignee_id = decision.assignee_id
    item.updated_at = now
    db.session.flush()

    record_interaction(
        practice_id=item.practice_id, actor=None, actor_label=source, kind=InteractionKind.ASSIGNMENT, now=now,
        item=item, to_state=item.state.value, body=decision.body,
        data={**decision.data, "to_user_id": decision.assignee_id},
    )  # fmt: skip
    return decision


def route_rows(organization_id: int, rows: Sequence[dict[str, Any]], now: datetime) -> list[r.Decision | None]:
    """Route rows about to be bulk-inserted (ready manual items), in memory: sets ``queue`` and ``assignee_id``
    on each matched row and returns the decisions in order (None: no rule or not routable).

    Cost: the cached rules and people, one load count per least-loaded pool and one guarded cursor update per
    round-robin rule, whatever the number of rows; no query per row.
    """
    out: list[r.Decision | None] = [None] * len(rows)
    rules = active_rules(organization_id)
    if not rules:
        return out
    matched: dict[int, list[int]] = {}
    by_id = {rule.id: rule for rule in rules}
    facts = {}
    for index, row in enumerate(rows):
        ready = row.get("state", ItemState.READY) == ItemState.READY
        if not ready or row.get("mode", Mode.MANUAL) != Mode.MANUAL or row.get("assignee_id") is not None:
            continue
        facts[index] = facts_of(row)
        rule = r.first_match(rules, facts[index])
        if rule is not None:
            matched.setdefault(rule.id, []).append(index)
    candidates = people(organization_id)
    for rule_id, indexes in matched.items():
        rule = by_id[rule_id]
        if rule.distribution == r.Distribution.ROUND_ROBIN:
            for _ in range(CURSOR_RETRIES):
                start = cursor = _cursor(rule.id)
                decisions = []
                for index in indexes:
                    decision = r.decide(rule, facts[index], candidates, cursor=cursor)
                    cursor = decision.assignee_id if decision.assignee_id is not None else cursor
                    decisions.append(decision)
                if cursor == start or _move_cursor(rule.id, start, cursor):
                    break
            else:
                raise RuntimeError(f"routing rule {rule.id}: round-robin cursor kept moving")
        elif rule.distribution == r.Distribution.LEAST_LOADED:
            members = {m.id for f in {facts[i] for i in indexes} for m in r.pool(rule, candidates, f)}
            counts = open_counts(sorted(members))
            decisions = []
            for index in indexes:
                decision = r.decide(rule, facts[index], _with_load(candidates, counts))
                if decision.assignee_id is not None:
                    counts[decision.assignee_id] = counts.get(decision.assignee_id, 0) + 1
                decisions.append(decision)
        else:
            decisions = [r.decide(rule, facts[index], candidates) for index in indexes]
        for index, decision in zip(indexes, decisions, strict=True):
            rows[index]["queue"] = decision.queue
            rows[index]["assignee_id"] = decision.assignee_id
            out[index] = decision
    return out


def log_row(decision: r.Decision, *, item_id: int, row: Mapping[str, Any], now: datetime, source: str = ROUTER):  # noqa: ANN201
    """The assignment interaction of a bulk-routed row, as a dict for a bulk INSERT into interactions."""
    return {
        "practice_id": row["practice_id"],
        "work_item_id": item_id,
        "claim_id": row.get("claim_id"),
        "session_id": row.get("session_id"),
        "actor_user_id": None,
        "actor_label": source,
        "kind": InteractionKind.ASSIGNMENT,
        "at": now,
        "to_state": ItemState.READY.value,
        "body": decision.body,
        "data": {**decision.data, "to_user_id": decision.assignee_id},
    }


# --- editing rules and people (supervisors and admins) ---------------------------------------------------

RULE_FIELDS = (
    "name", "position", "active", "practice_id", "payer_id", "kind", "denial_family", "required_skill",
    "target_queue", "target_user_id", "distribution", "user_ids",
)  # fmt: skip


def _require_supervisor(actor: User) -> None:
    if not can_supervise(actor):
        raise NotAllowed("only supervisors and admins configure routing")


def _audit(actor: User, action: str, now: datetime, target_type: str, target_id: int, data: Mapping[str, Any]) -> None:
    db.session.add(
        AuditEvent(
            organization_id=actor.organization_id,
            user_id=actor.id,
            at=now,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            data=dict(data),
        )  # fmt: skip
    )


def _clean_rule(actor: User, values: Mapping[str, Any]) -> dict[str, Any]:
    """Business checks on a rule's fields; the first problem raises ValidationFailed naming the field."""
    org = actor.organization_id
    clean = {name: values.get(name) for name in RULE_FIELDS}
    clean["name"] = (clean["name"] or "").strip()
    if not clean["name"]:
        raise ValidationFailed("name: required")
    if len(clean["name"]) > 120:
        raise ValidationFailed("name: at most 120 characters")
    clean["position"] = int(clean["position"] if clean["position"] is not None else 100)
    if not 0 <= clean["position"] <= 100_000:
        raise ValidationFailed("position: between 0 and 100000")
    clean["active"] = bool(clean["active"] if clean["active"] is not None else True)
    for name in ("kind", "denial_family", "required_skill", "target_queue"):
        clean[name] = (clean[name] or "").strip() or None
    for name in ("required_skill", "target_queue"):  # stored like people's queues and skills: lower case
        clean[name] = clean[name].lower() if clean[name] else None
    if clean["kind"] is not None and clean["kind"] not in DEFAULT_QUEUES:
        raise ValidationFailed(f"kind: unknown work kind {clean['kind']}")
    if clean["denial_family"] is not None and clean["denial_family"] not in r.FAMILY_RANK:
        raise ValidationFailed(f"denial family: unknown family {clean['denial_family']}")
    for name, limit in (("required_skill", 64), ("target_queue", 64)):
        if clean[name] is not None and len(clean[name]) > limit:
            raise ValidationFailed(f"{name.replace('_', ' ')}: at most {limit} characters")
    # Chosen from the lists, never free text (a rule once sent items to a mistyped queue "denails").
    if clean["target_queue"] is not None and clean["target_queue"] not in known_queues():
        raise ValidationFailed(f"target queue: {clean['target_queue']!r} is not a queue; choose one from the list")
    if clean["required_skill"] is not None and clean["required_skill"] not in known_skills(org):
        raise ValidationFailed(f"required skill: {clean['required_skill']!r} is not on the skills list")
    if clean["practice_id"]:
        practice = db.session.get(Practice, clean["practice_id"])
        if practice is None or practice.organization_id != org:
            raise ValidationFailed("practice: not a practice of this organization")
    else:
        clean["practice_id"] = None
    if clean["payer_id"]:
        payer = db.session.get(Payer, clean["payer_id"])
        if payer is None or payer.organization_id != org:
            raise ValidationFailed("payer: not a payer of this organization")
    else:
        clean["payer_id"] = None
    distribution = clean["distribution"] or r.Distribution.NONE
    if distribution not in set(r.Distribution):
        raise ValidationFailed(f"distribution: expected one of {[d.value for d in r.Distribution]}")
    clean["distribution"] = str(distribution)
    user_ids = sorted({int(u) for u in clean["user_ids"] or ()})
    everyone = {c.id: c for c in people(org)}
    facts_practice = clean["practice_id"]
    if distribution == r.Distribution.PERSON:
        person = everyone.get(clean["target_user_id"] or 0)
        if person is None:
            raise ValidationFailed("person: choose a user of this organization")
        if not person.active:
            raise ValidationFailed(f"person: {person.name} is inactive")
        if facts_practice is not None and facts_practice not in person.practice_ids:
            raise ValidationFailed(f"person: {person.name} does not serve the rule's practice")
        if clean["required_skill"] and clean["required_skill"] not in person.skills:
            raise ValidationFailed(f"person: {person.name} lacks skill '{clean['required_skill']}'")
        user_ids = []
    else:
        clean["target_user_id"] = None
    if distribution == r.Distribution.NONE:
        if not clean["target_queue"]:
            raise ValidationFailed("target queue: required when the rule only routes to a queue")
        user_ids = []
    for user_id in user_ids:
        member = everyone.get(user_id)
        if member is None:
            raise ValidationFailed("pool: every member must be a user of this organization")
        if facts_practice is not None and facts_practice not in member.practice_ids:
            raise ValidationFailed(f"pool: {member.name} does not serve the rule's practice")
    clean["user_ids"] = user_ids
    return clean


@service
def save_rule(*, actor: User, now: datetime, values: Mapping[str, Any], rule: RoutingRule | None = None) -> RoutingRule:
    """Create or update a rule after checking it (a person target must serve the practice, …); audited."""
    _require_supervisor(actor)
    if rule is not None and rule.organization_id != actor.organization_id:
        raise NotAllowed("not a rule of your organization")
    clean = _clean_rule(actor, values)
    if rule is None:
        rule = RoutingRule(organization_id=actor.organization_id, created_at=now, updated_at=now, **clean)
        db.session.add(rule)
    else:
        for name, value in clean.items():
            setattr(rule, name, value)
        rule.updated_at = now
    db.session.flush()
    changed = {k: v for k, v in clean.items() if k != "name"}
    _audit(actor, "admin:routing_rule_saved", now, "routing_rule", rule.id, {"name": rule.name, **changed})
    db.session.commit()
    return rule


@service
def set_rule_active(*, actor: User, now: datetime, rule: RoutingRule, active: bool) -> RoutingRule:
    """Deactivate (or reactivate) a rule; audited."""
    _require_supervisor(actor)
    if rule.organization_id != actor.organization_id:
        raise NotAllowed("not a rule of your organization")
    rule.active = active
    rule.updated_at = now
    action = "admin:routing_rule_activated" if active else "admin:routing_rule_deactivated"
    _audit(actor, action, now, "routing_rule", rule.id, {"name": rule.name})
    db.session.commit()
    return rule


@service
def move_rule(*, actor: User, now: datetime, rule: RoutingRule, direction: str) -> list[RoutingRule]:
    """Move a rule one place up or down; every rule of the organization is renumbered 10, 20, 30, …"""
    _require_supervisor(actor)
    if rule.organization_id != actor.organization_id:
        raise NotAllowed("not a rule of your organization")
    if direction not in ("up", "down"):
        raise ValidationFailed("direction: up or down")
    ordered = list(
        db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.organization_id == actor.organization_id)
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )
    index = ordered.index(rule)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for number, row in enumerate(ordered, start=1):
        if row.position != number * 10:
            row.position, row.updated_at = number * 10, now
    _audit(actor, "admin:routing_rule_moved", now, "routing_rule", rule.id, {"direction": direction})
    db.session.commit()
    return ordered


def _words(values: Sequence[str], field: str) -> list[str]:
    out: list[str] = []
    for value in values:
        word = value.strip().lower()
        if not word:
            continue
        if len(word) > 64 or not all(ch.isalnum() or ch in "-_" for ch in word):
            raise ValidationFailed(f"{field}: '{value[:64]}' must be letters, digits, - or _ (at most 64)")
        if word not in out:
            out.append(word)
    return out


@service
def set_user_routing(*, actor: User, now: datetime, user: User, queues: Sequence[str], skills: Sequence[str]) -> User:
    """Set the queues a person works and their skills (supervisors); audited. An empty queue list = all queues."""
    _require_supervisor(actor)
    if user.organization_id != actor.organization_id:
        raise NotAllowed("not a user of your organization")
    clean_queues, clean_skills = _words(queues, "queues"), _words(skills, "skills")
    for field, chosen, allowed in (("queues", clean_queues, known_queues()),
                                   ("skills", clean_skills, known_skills(user.organization_id))):  # fmt: skip
        unknown = [word for word in chosen if word not in allowed]
        if unknown:
            raise ValidationFailed(f"{field}: {unknown[0]!r} is not on the list; choose from {', '.join(allowed)}")
    before = {"queues": list(user.queues or []), "skills": list(user.skills or [])}
    user.queues, user.skills = clean_queues, clean_skills
    _audit(actor, "admin:user_routing_saved", now, "user", user.id,
           {"before": before, "queues": clean_queues, "skills": clean_skills})  # fmt: skip
    db.session.commit()
    return user
