"""Onboarding the team: invite a user (a one-time set-password link, or an initial password they must change at
first sign-in), their role, practices, queues and skills (chosen from lists), deactivation (their open items go
back to their queues, logged) and password resets by link."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role, password_problem, practice_binding_problem
from backoffice.accounts.services import change_role, create_user, hash_password, set_user_active
from backoffice.accounts.signins import end_all_sessions
from backoffice.audit.services import audit_event
from backoffice.errors import NotAllowed, ValidationFailed
from backoffice.extensions import db
from backoffice.onboarding.rules import SKILLS
from backoffice.orgs.models import Practice
from backoffice.remits.rules import QUEUES as DENIAL_QUEUES
from backoffice.services_base import service
from backoffice.work.models import WorkItem
from backoffice.work.rules import DEFAULT_QUEUES, OPEN_STATES, OUTSIDE_QUEUES
from backoffice.work.services import reassign_item

LINK_LIFETIME = timedelta(days=7)
LINK_SALT = "set-password"


def known_queues() -> list[str]:
    """Every queue the staff work: the kernel's default queues and the denial families' queues (not the ones worked
    outside the company, such as the practice's requests)."""
    return sorted({*DEFAULT_QUEUES.values(), *DENIAL_QUEUES.values()} - OUTSIDE_QUEUES)


def known_skills(organization_id: int) -> list[str]:
    """The skill catalogue plus any skill already given to someone in the organization."""
    given = db.session.scalars(select(User.skills).where(User.organization_id == organization_id))
    return sorted({*SKILLS, *(skill for skills in given for skill in (skills or ()))})


def _from_list(field: str, chosen: Iterable[str], allowed: Sequence[str]) -> list[str]:
    chosen = [c.strip().lower() for c in chosen if c and c.strip()]
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise ValidationFailed(f"{field}: {unknown[0]!r} is not on the list; choose from {', '.join(allowed)}")
    return sorted(set(chosen))


def _practices(organization_id: int, slugs_or_ids: Iterable[str | int]) -> list[Practice]:
    wanted = list(slugs_or_ids)
    rows = db.session.scalars(select(Practice).where(Practice.organization_id == organization_id)).all()
    by_key = {**{p.slug: p for p in rows}, **{p.id: p for p in rows}, **{str(p.id): p for p in rows}}
    missing = [str(w) for w in wanted if w not in by_key]
    if missing:
        raise ValidationFailed(f"practices: no practice {missing[0]!r} in this organization")
    return list({by_key[w].id: by_key[w] for w in wanted}.values())


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=LINK_SALT)


def _fingerprint(user: User) -> str:
    """Changes whenever the password does, so a link works once."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def set_password_token(user: User, now: datetime) -> str:
    """A signed token for /set-password/<token>: good for 7 days from ``now`` (the app clock, not the signer's) and
    only until the password changes."""
    return _serializer().dumps({"u": user.id, "f": _fingerprint(user), "t": int(now.timestamp())})


def user_for_token(token: str, now: datetime) -> User | None:
    """The active user a set-password token is for, while it is fresh and unused; None otherwise."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("t"), int):
        return None
    if not 0 <= now.timestamp() - data["t"] <= LINK_LIFETIME.total_seconds():
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.active or _fingerprint(user) != data.get("f"):
        return None
    return user


@service
def invite_user(*, organization_id: int, email: str, name: str, role: str, practices: Iterable[str | int] = (),
                queues: Iterable[str] = (), skills: Iterable[str] = (), password: str | None = None,
                actor: User | None, now: datetime) -> tuple[User, str | None]:  # fmt: skip
    """Create a user. With ``password``: it is an initial one they must change at first sign-in. Without: a random
    password nobody knows and a one-time set-password token (returned) to send them."""
    if actor is not None and actor.role != Role.ADMIN:
        raise NotAllowed("only an admin can add users")
    chosen = _practices(organization_id, practices)
    queue_list = _from_list("queues", queues, known_queues())
    skill_list = _from_list("skills", skills, known_skills(organization_id))
    if role == Role.PRACTICE:  # a practice's own user works no queue: only its portal
        queue_list, skill_list = [], []
    user = create_user(organization_id=organization_id, email=email, name=name, role=role,
                       password=password or secrets.token_urlsafe(32), now=now, practices=chosen, queues=queue_list,
                       skills=skill_list, actor=actor)  # fmt: skip
    if password:
        user.password_change_required = True
        db.session.commit()
        return user, None
    return user, set_password_token(user, now)


@service
def update_user(*, user: User, role: str, practices: Iterable[str | int], queues: Iterable[str], skills: Iterable[str],
                actor: User, now: datetime) -> dict[str, list[object]]:  # fmt: skip
    """Change a user's role, practices served, queues and skills (queues and skills from the lists)."""
    if actor.role != Role.ADMIN:
        raise NotAllowed("only an admin can change users")
    chosen = _practices(user.organization_id, practices)
    queue_list = _from_list("queues", queues, known_queues())
    skill_list = _from_list("skills", skills, known_skills(user.organization_id))
    if role not in set(Role):
        raise ValidationFailed(f"role: expected one of {', '.join(r.value for r in Role)}")
    binding = practice_binding_problem(role, len(chosen))
    if binding:
        raise ValidationFailed(binding)
    if role == Role.PRACTICE:
        queue_list, skill_list = [], []
    if user.id == actor.id and role != Role.ADMIN:
        raise NotAllowed("role: you cannot take away your own admin role")
    changes: dict[str, list[object]] = {}
    before_practices = sorted(p.slug for p in user.practices)
    if before_practices != sorted(p.slug for p in chosen):
        changes["practices"] = [before_practices, sorted(p.slug for p in chosen)]
        user.practices = chosen
    for field, value in (("queues", queue_list), ("skills", skill_list)):
        if sorted(getattr(user, field) or []) != value:
            changes[field] = [sorted(getattr(user, field) or []), value]
            setattr(user, field, value)
    if changes:
        audit_event(action="admin:user_update", user=actor, now=now, organization_id=user.organization_id,
                    target_type="user", target_id=user.id, data={"changes": changes})  # fmt: skip
    db.session.commit()
    if role != user.role.value:
        changes["role"] = [user.role.value, role]
        change_role(user=user, role=role, now=now, actor=actor)
    return changes


@service
def deactivate_user(*, user: User, actor: User, now: datetime) -> int:
    """Deactivate a user: every open item assigned to them goes back to its queue (logged on each item), then they
    are signed out everywhere and can no longer sign in. Returns how many items went back."""
    if actor.role != Role.ADMIN:
        raise NotAllowed("only an admin can deactivate users")
    if actor.id == user.id:
        raise NotAllowed("you cannot deactivate your own account")
    items = db.session.scalars(
        select(WorkItem).where(WorkItem.assignee_id == user.id, WorkItem.state.in_(OPEN_STATES)).order_by(WorkItem.id)
    ).all()
    for item in items:
        reassign_item(item=item, actor=actor, now=now, assignee=None, reason=f"{user.name} was deactivated")
    set_user_active(user=user, active=False, now=now, actor=actor)
    audit_event(action="admin:user_items_returned", user=actor, now=now, organization_id=user.organization_id,
                target_type="user", target_id=user.id, data={"items": [i.id for i in items]})  # fmt: skip
    db.session.commit()
    return len(items)


@service
def reset_password_link(*, user: User, actor: User, now: datetime) -> str:
    """A one-time set-password token for ``user`` (a forgotten password); their current password keeps working
    until they use it. Logged."""
    if actor.role != Role.ADMIN:
        raise NotAllowed("only an admin can reset passwords")
    audit_event(action="admin:password_reset_link", user=actor, now=now, organization_id=user.organization_id,
                target_type="user", target_id=user.id)  # fmt: skip
    db.session.commit()
    return set_password_token(user, now)


@service
def set_password_with_token(*, token: str, password: str, now: datetime) -> User:
    """Set the password a set-password link is for (once); every session of the user ends."""
    user = user_for_token(token, now)
    if user is None:
        raise NotAllowed("this link is not valid any more (used, expired or replaced); ask an admin for a new one")
    problem = password_problem(password, user_inputs=(user.email, user.name))
    if problem:
        raise ValidationFailed(problem)
    user.password_hash = hash_password(password)
    user.password_change_required = False
    end_all_sessions(user=user, now=now, reason="password_change")
    audit_event(action="password_set_by_link", user=user, now=now)
    db.session.commit()
    return user
