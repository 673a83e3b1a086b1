"""Appeal use cases: templates (admins), drafting, letter edits, the PDF's audit row, sending and the payer's
decision. Each owns its commit and writes its log row (interaction or audit event) in the same transaction.

The letter is PHI: it lives on the ``Appeal`` row only. Logs carry its SHA-256 and length, never its text.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backoffice.accounts.access import is_admin
from backoffice.accounts.models import User
from backoffice.appeals import rendering, rules
from backoffice.appeals.facts import ClaimAppeal, claim_appeal, item_family
from backoffice.appeals.models import Appeal, AppealTemplate
from backoffice.appeals.queries import template_for
from backoffice.audit.services import audit_event
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus, can_move
from backoffice.deadlines.appeals import (
    amount_in_controversy_threshold,
    medicare_remedy,
    meets_amount_in_controversy,
)
from backoffice.errors import Conflict, InvalidTransition, NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice
from backoffice.remits.rules import Family, route_denial
from backoffice.services_base import is_postgres, service
from backoffice.work import closing
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind
from backoffice.work.services import due_at_for

MAX_NAME = 120
SOURCE = "appeals"


def digest(letter: str) -> str:
    return hashlib.sha256(letter.encode()).hexdigest()


# --- templates ---


def _check_template(organization_id: int, *, name: str, denial_family: str, payer_id: int | None, level: int,
                    body: str) -> str:  # fmt: skip
    problems = []
    if not name.strip():
        problems.append("name: required")
    elif len(name.strip()) > MAX_NAME:
        problems.append(f"name: at most {MAX_NAME} characters")
    if denial_family not in {f.value for f in Family}:
        problems.append("denial family: unknown")
    if level not in rules.LEVEL_NUMBERS:
        problems.append("level: 1, 2 or 3")
    payer_kind = "commercial"
    if payer_id is not None:
        payer = db.session.get(Payer, payer_id)
        if payer is None or payer.organization_id != organization_id:
            problems.append("payer: not one of your organization's payers")
        else:
            payer_kind = str(payer.kind)
    if problems:
        raise ValidationFailed("; ".join(problems))
    try:
        rendering.validate(body, family=denial_family, payer_kind=payer_kind)
    except rendering.TemplateProblem as problem:
        raise ValidationFailed(str(problem)) from None
    return name.strip()


@service
def save_template(
    *,
    actor: User,
    now: datetime,
    name: str,
    denial_family: str,
    payer_id: int | None,
    level: int,
    body: str,
    active: bool = True,
    template: AppealTemplate | None = None,
) -> AppealTemplate:
    """Create or edit a template (admins). The body must render against sample facts: a typo is refused."""
    if not is_admin(actor):
        raise NotAllowed("only an admin can edit appeal templates")
    if template is not None and template.organization_id != actor.organization_id:
        raise NotAllowed("not your organization's template")
    name = _check_template(actor.organization_id, name=name, denial_family=denial_family, payer_id=payer_id,
                           level=level, body=body)  # fmt: skip
    created = template is None
    if template is None:
        template = AppealTemplate(organization_id=actor.organization_id)
        db.session.add(template)
    template.name, template.denial_family, template.payer_id, template.level = name, denial_family, payer_id, level
    template.body, template.active, template.updated_by_id, template.updated_at = body, active, actor.id, now
    db.session.flush()
    audit_event(user=actor, now=now, action="admin:appeal_template_saved", target_type="appeal_template",
                target_id=template.id,
                data={"created": created, "active": active, "family": denial_family, "level": level,
                 "payer_id": payer_id, "sha256": digest(body)})  # fmt: skip
    db.session.commit()
    return template


@service
def set_template_active(*, actor: User, now: datetime, template: AppealTemplate, active: bool) -> AppealTemplate:
    """Deactivate (or reactivate) a template; an inactive one is never chosen for a new letter."""
    if not is_admin(actor):
        raise NotAllowed("only an admin can edit appeal templates")
    if template.organization_id != actor.organization_id:
        raise NotAllowed("not your organization's template")
    template.active, template.updated_by_id, template.updated_at = active, actor.id, now
    audit_event(user=actor, now=now, action="admin:appeal_template_" + ("activated" if active else "deactivated"),
                target_type="appeal_template", target_id=template.id)  # fmt: skip
    db.session.commit()
    return template


# --- letters ---


def compose(organization_id: int, payer_id: int, drafted: ClaimAppeal,
            template: AppealTemplate | None = None) -> tuple[str, int | None]:  # fmt: skip
    """The letter for ``drafted``: the given template, else the most specific active one, else the built-in letter.
    A template that fails on these facts falls back to the built-in letter (it was checked on sample facts)."""
    template = template or template_for(organization_id, family=drafted.family, payer_id=payer_id,
                                        level=drafted.level)  # fmt: skip
    if template is not None:
        try:
            return rendering.render(template.body, rendering.context(drafted.facts, level=drafted.level)), template.id
        except rendering.TemplateProblem:
            pass
    return rules.draft_appeal_letter(drafted.facts), None


def _notice_for(claim_id: int, level: int) -> date | None:
    """A later level is counted from the decision on the level before it."""
    if level <= 1:
        return None
    previous = db.session.scalar(select(Appeal).where(Appeal.claim_id == claim_id, Appeal.level == level - 1))
    return previous.outcome_on if previous is not None else None


def _lock_claim(claim_id: int) -> None:
    """Serialise drafting per claim on PostgreSQL (one appeal per claim and level)."""
    if is_postgres():
        db.session.execute(select(Claim.id).where(Claim.id == claim_id).with_for_update())


def _log_letter(appeal: Appeal, *, actor: User | None, now: datetime, what: str, item: WorkItem | None = None,
                extra: dict[str, Any] | None = None) -> None:  # fmt: skip
    sha = digest(appeal.letter)
    record_interaction(
        practice_id=appeal.practice_id, actor=actor, actor_label=SOURCE, kind=InteractionKind.DOCUMENT, now=now,
        item=item or (db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None),
        claim_id=appeal.claim_id, body=f"Appeal #{appeal.id} letter {what}: {len(appeal.letter)} characters, "
        f"sha256 {sha[:16]}", data={"appeal_id": appeal.id, "sha256": sha, "characters": len(appeal.letter),
                                    "template_id": appeal.template_id, **(extra or {})},
    )  # fmt: skip


def _require_appeal_rights(drafted: ClaimAppeal, today: date) -> None:
    """No appeal where there are no appeal rights: Medicare CO-29, CO-16 + MA130, N211 (billing-rules §5.1, §6.6);
    a Medicare ALJ hearing needs the year's amount in controversy (§5.3)."""
    facts = drafted.facts
    routes = [route_denial(d.group, d.reason, [code for code, _ in d.remarks], payer_kind=facts.payer_kind)
              for d in facts.denials if d.reason]  # fmt: skip
    if routes and not any(route.appealable for route in routes):
        first = facts.denials[0]
        why = (medicare_remedy(group_code=first.group, carc=first.reason, rarcs=[c for c, _ in first.remarks]).basis
               if facts.payer_kind == "medicare" else routes[0].action)  # fmt: skip
        raise ValidationFailed(f"claim {facts.account_number}: no appeal rights. {why}")
    if facts.payer_kind == "medicare" and facts.level == "alj_hearing":
        try:
            enough = meets_amount_in_controversy(facts.level, drafted.amount, today.year)
        except ValueError as error:
            raise ValidationFailed(f"level: {error}") from None
        if not enough:
            floor = amount_in_controversy_threshold(facts.level, today.year)
            raise ValidationFailed(f"level: a Medicare ALJ hearing needs at least {rules.money(floor)} in dispute "
                                   f"in {today.year} ({rules.money(drafted.amount)} here)")  # fmt: skip


@service
def draft_appeal(
    *,
    claim: Claim,
    now: datetime,
    today: date,
    level: int = 1,
    item: WorkItem | None = None,
    actor: User | None = None,
    family: str | None = None,
) -> Appeal:
    """The claim's appeal at ``level``, drafted from the best template; idempotent per (claim, level)."""
    _lock_claim(claim.id)
    existing = db.session.scalar(select(Appeal).where(Appeal.claim_id == claim.id, Appeal.level == level))
    if existing is not None:
        db.session.commit()
        return existing
    practice = db.session.get(Practice, claim.practice_id)
    assert practice is not None
    if actor is not None and practice.organization_id != actor.organization_id:
        raise NotAllowed("not your organization's claim")
    if item is not None and family is None:
        family = item_family(item)
    try:
        drafted = claim_appeal(claim, today=today, level=level, family=family, notice=_notice_for(claim.id, level))
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    _require_appeal_rights(drafted, today)
    letter, template_id = compose(practice.organization_id, claim.payer_id, drafted)
    appeal = Appeal(
        organization_id=practice.organization_id, practice_id=claim.practice_id, claim_id=claim.id,
        payer_id=claim.payer_id, work_item_id=item.id if item is not None else None, template_id=template_id,
        level=level, denial_family=drafted.family, letter=letter, amount=drafted.amount, deadline=drafted.deadline,
        status="draft", created_by_id=actor.id if actor else None, created_at=now, updated_at=now,
    )  # fmt: skip
    db.session.add(appeal)
    db.session.flush()
    _log_letter(appeal, actor=actor, now=now, what=f"drafted (level {level})", item=item,
                extra={"deadline": drafted.deadline.isoformat() if drafted.deadline else None})  # fmt: skip
    db.session.commit()
    return appeal


def _guarded(appeal: Appeal, now: datetime, allowed: tuple[str, ...], what: str, **values: Any) -> str:
    before = appeal.status
    if before not in allowed:
        raise InvalidTransition(f"appeal #{appeal.id} is {before}: cannot {what}")
    result = db.session.execute(
        update(Appeal).where(Appeal.id == appeal.id, Appeal.status == before)
        .values(updated_at=now, **values).execution_options(synchronize_session=False)
    )  # fmt: skip
    if result.rowcount != 1:
        raise Conflict(f"appeal #{appeal.id} was changed by someone else; reload it")
    db.session.refresh(appeal)
    return before


def _same_org(appeal: Appeal, actor: User) -> None:
    if appeal.organization_id != actor.organization_id:
        raise NotAllowed(f"appeal #{appeal.id} is not in your organization")


@service
def edit_letter(*, appeal: Appeal, actor: User, now: datetime, letter: str, base_sha256: str | None = None) -> bool:
    """Save the biller's edit of a draft; False when nothing changed. The log keeps the hash, not the text.
    ``base_sha256`` is the hash of the letter the edit started from: if someone saved another version since,
    the edit is refused (never silently overwritten)."""
    _same_org(appeal, actor)
    if base_sha256 and base_sha256 != digest(appeal.letter):
        raise Conflict(f"appeal #{appeal.id}: the letter was changed by someone else since you opened it; "
                       "copy your text, reload and edit again")  # fmt: skip
    text = letter.replace("\r\n", "\n")
    if not text.strip():
        raise ValidationFailed("letter: required")
    if len(text) > rendering.MAX_LETTER:
        raise ValidationFailed(f"letter: at most {rendering.MAX_LETTER:,} characters")
    if text.strip() == appeal.letter.strip():  # a textarea round trip changes only line ends and edges
        db.session.rollback()
        return False
    _guarded(appeal, now, ("draft",), "edit the letter of a sent appeal", letter=text)
    _log_letter(appeal, actor=actor, now=now, what="saved")
    db.session.commit()
    return True


@service
def regenerate_letter(*, appeal: Appeal, actor: User, now: datetime, today: date,
                      template: AppealTemplate | None = None) -> Appeal:  # fmt: skip
    """Replace a draft's letter with a fresh one from ``template`` (or the best template, or the built-in)."""
    _same_org(appeal, actor)
    if template is not None and (template.organization_id != appeal.organization_id or not template.active):
        raise ValidationFailed("template: not an active template of your organization")
    claim = db.session.get(Claim, appeal.claim_id)
    assert claim is not None
    try:
        drafted = claim_appeal(claim, today=today, level=appeal.level, family=appeal.denial_family,
                               notice=_notice_for(claim.id, appeal.level))  # fmt: skip
    except ValueError as error:
        raise ValidationFailed(str(error)) from None
    letter, template_id = compose(appeal.organization_id, appeal.payer_id, drafted, template)
    _guarded(appeal, now, ("draft",), "regenerate the letter of a sent appeal", letter=letter,
             template_id=template_id, deadline=drafted.deadline)  # fmt: skip
    _log_letter(appeal, actor=actor, now=now, what="regenerated")
    db.session.commit()
    return appeal


def _practice_today(appeal: Appeal, now: datetime) -> date:
    practice = db.session.get(Practice, appeal.practice_id)
    return now.astimezone(ZoneInfo(practice.timezone if practice else "America/New_York")).date()


@service
def mark_sent(*, appeal: Appeal, actor: User, now: datetime, sent_on: date | None, method: str, reference: str = "",
              late_reason: str = "") -> Appeal:  # fmt: skip
    """Record that the appeal went out (date ≤ today, method, reference #). After the deadline only with a reason,
    which is logged. The claim moves to ``appealed`` where its lifecycle allows."""
    _same_org(appeal, actor)
    reference, late_reason = (reference or "").strip(), (late_reason or "").strip()
    problems = rules.sent_problems(sent_on=sent_on, method=method, today=_practice_today(appeal, now),
                                   deadline=appeal.deadline, late_reason=late_reason, reference=reference)  # fmt: skip
    if problems:
        raise ValidationFailed("; ".join(problems))
    assert sent_on is not None
    _guarded(appeal, now, ("draft",), "send it again", status="sent", sent_on=sent_on, sent_method=method,
             reference_number=reference or None)  # fmt: skip
    late = appeal.deadline is not None and sent_on > appeal.deadline
    claim = db.session.get(Claim, appeal.claim_id)
    moved = None
    if claim is not None and can_move(claim.status, ClaimStatus.APPEALED):
        moved = (claim.status.value, ClaimStatus.APPEALED.value)
        claim.status = ClaimStatus.APPEALED
    body = f"Appeal #{appeal.id} (level {appeal.level}) sent {sent_on:%m/%d/%Y} by {method}"
    body += f", reference {reference}" if reference else ""
    body += f"; sent after the {appeal.deadline:%m/%d/%Y} deadline: {late_reason}" if late else ""
    record_interaction(
        practice_id=appeal.practice_id, actor=actor, kind=InteractionKind.STATUS_CHANGE, now=now,
        item=db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None,
        claim_id=appeal.claim_id, body=body, from_state=moved[0] if moved else None,
        to_state=moved[1] if moved else None,
        data={"appeal_id": appeal.id, "sent_on": sent_on.isoformat(), "method": method, "late": late,
              "late_reason": late_reason or None, "sha256": digest(appeal.letter)},
    )  # fmt: skip
    _wait_for_decision(appeal, actor, now, sent_on)
    db.session.commit()
    return appeal


def _wait_for_decision(appeal: Appeal, actor: User, now: datetime, sent_on: date) -> None:
    """A sent appeal's item waits on the payer: parked until the decision is due (its SLA restarts then)."""
    item = db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None
    if item is None:
        return
    practice = db.session.get(Practice, appeal.practice_id)
    tz = ZoneInfo(practice.timezone if practice else "America/New_York")
    check_on = sent_on + timedelta(days=rules.DECISION_CHECK_DAYS)
    until = max(datetime.combine(check_on, time(9), tzinfo=tz).astimezone(UTC), now + timedelta(minutes=1))
    due_at, _ = due_at_for(item, until)
    closing.park_item(item, now=now, actor=actor, until=until, due_at=due_at, cause="appeal-sent",
                      reason=f"Appeal #{appeal.id} sent: waiting for the payer's decision until {check_on:%m/%d/%Y}",
                      data={"appeal_id": appeal.id})  # fmt: skip


def withdraw_drafts(claim_id: int, *, now: datetime, actor: User | None, reason: str) -> list[Appeal]:
    """Withdraw the claim's draft appeals in the caller's transaction (a write-off or a payment made them moot),
    each logged with ``reason``. The caller commits."""
    drafts = list(db.session.scalars(select(Appeal).where(Appeal.claim_id == claim_id, Appeal.status == "draft")))
    withdrawn = []
    for appeal in drafts:
        result = db.session.execute(
            update(Appeal).where(Appeal.id == appeal.id, Appeal.status == "draft")
            .values(status="withdrawn", updated_at=now).execution_options(synchronize_session=False)
        )  # fmt: skip
        if result.rowcount != 1:
            continue
        db.session.refresh(appeal)
        record_interaction(
            practice_id=appeal.practice_id, actor=actor, actor_label=None if actor else "system",
            kind=InteractionKind.NOTE, now=now, claim_id=appeal.claim_id,
            body=f"Appeal #{appeal.id} (level {appeal.level}) withdrawn: {reason}",
            data={"appeal_id": appeal.id, "withdrawn": True},
        )  # fmt: skip
        withdrawn.append(appeal)
    return withdrawn


@service
def record_outcome(*, appeal: Appeal, actor: User, now: datetime, outcome: str, decided_on: date | None,
                   recovered: Decimal | None) -> Appeal:  # fmt: skip
    """Record the payer's decision on a sent appeal: overturned, partial (0 < recovered < amount) or upheld."""
    _same_org(appeal, actor)
    problems = rules.outcome_problems(outcome=outcome, decided_on=decided_on, today=_practice_today(appeal, now),
                                      sent_on=appeal.sent_on, recovered=recovered, amount=appeal.amount)  # fmt: skip
    if problems:
        raise ValidationFailed("; ".join(problems))
    amount = rules.recovered_for(outcome, recovered, appeal.amount)
    _guarded(appeal, now, ("sent",), "record a decision before it is sent" if appeal.status == "draft"
             else "record a second decision", status="decided", outcome=outcome, outcome_on=decided_on,
             recovered_amount=amount)  # fmt: skip
    assert decided_on is not None
    record_interaction(
        practice_id=appeal.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now,
        item=db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None,
        claim_id=appeal.claim_id,
        body=f"Appeal #{appeal.id} (level {appeal.level}) {outcome} on {decided_on:%m/%d/%Y}; recovered "
        f"{rules.money(amount)} of {rules.money(appeal.amount)}",
        data={"appeal_id": appeal.id, "outcome": outcome, "decided_on": decided_on.isoformat(),
              "recovered": str(amount)},
    )  # fmt: skip
    item = db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None
    if item is not None:
        closing.close_item(item, now=now, actor=actor, cause="appeal-decided", data={"appeal_id": appeal.id},
                           reason=f"Appeal #{appeal.id} (level {appeal.level}) decided: {outcome}")  # fmt: skip
    db.session.commit()
    return appeal


@service
def withdraw_appeal(*, appeal: Appeal, actor: User, now: datetime, reason: str) -> Appeal:
    """Withdraw a draft that will not be sent (the payer reprocessed, a corrected claim was filed), with a reason."""
    _same_org(appeal, actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("reason: required")
    if len(reason) > rules.MAX_LATE_REASON:
        raise ValidationFailed(f"reason: at most {rules.MAX_LATE_REASON} characters")
    _guarded(appeal, now, ("draft",), "withdraw it", status="withdrawn")
    record_interaction(
        practice_id=appeal.practice_id, actor=actor, kind=InteractionKind.NOTE, now=now,
        item=db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None,
        claim_id=appeal.claim_id, body=f"Appeal #{appeal.id} (level {appeal.level}) withdrawn: {reason}",
        data={"appeal_id": appeal.id, "withdrawn": True},
    )  # fmt: skip
    db.session.commit()
    return appeal


def next_level_offered(appeal: Appeal) -> bool:
    """A decided appeal that was not fully won may go one level up (levels 1 → 2 → 3)."""
    return appeal.status == "decided" and appeal.outcome in ("upheld", "partial") and appeal.level < 3


@service
def open_next_level(*, appeal: Appeal, actor: User, now: datetime) -> Appeal:
    """Draft the next level's appeal, its deadline counted from this level's decision date."""
    _same_org(appeal, actor)
    if not next_level_offered(appeal):
        raise InvalidTransition(f"appeal #{appeal.id}: a next level follows only an upheld or partial decision "
                                "below level 3")  # fmt: skip
    claim = db.session.get(Claim, appeal.claim_id)
    assert claim is not None
    item = db.session.get(WorkItem, appeal.work_item_id) if appeal.work_item_id else None
    return draft_appeal(claim=claim, now=now, today=_practice_today(appeal, now), level=appeal.level + 1,
                        item=item, actor=actor, family=appeal.denial_family)  # fmt: skip
