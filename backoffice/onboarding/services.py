"""Onboarding use cases: the first run, the organization, its practices, payer directory, fee schedules and contracted
rates. Each write checks every field first (onboarding/rules.py), writes nothing when one is wrong, and records an
audit event with who, when and each changed field's before → after, in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.accounts.services import create_user
from backoffice.audit.services import audit_event
from backoffice.errors import Conflict, NotAllowed
from backoffice.extensions import db
from backoffice.onboarding import rules
from backoffice.onboarding.rules import FieldError, Refused
from backoffice.orgs.models import DEFAULT_MFA_ROLES, ContractedRate, Organization, Payer, Practice
from backoffice.orgs.rules import identifier_problem
from backoffice.services_base import service


class Duplicate(Conflict):
    """The value must be unique and is taken (HTTP 409); the message names the field."""


def _plain(value: Any) -> Any:
    """A value as the audit trail keeps it (JSON)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _apply(row: Any, clean: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set the cleaned fields on ``row``; the fields that changed as {field: [before, after]}."""
    changes: dict[str, list[Any]] = {}
    for field, value in clean.items():
        before = getattr(row, field)
        if _plain(before) != _plain(value):
            changes[field] = [_plain(before), _plain(value)]
            setattr(row, field, value)
    return changes


def _audit(actor: User | None, action: str, now: datetime, target: Any, data: Mapping[str, Any], **kw: Any) -> None:
    audit_event(action=f"admin:{action}", user=actor, now=now, organization_id=target_org(target),
                target_type=type(target).__name__.lower(), target_id=target.id, data=dict(data), **kw)  # fmt: skip


def target_org(target: Any) -> int | None:
    if isinstance(target, Organization):
        return target.id
    return getattr(target, "organization_id", None) or getattr(
        getattr(target, "practice", None), "organization_id", None
    )


def _require_admin(actor: User | None) -> None:
    if actor is not None and str(actor.role) != "admin":
        raise NotAllowed("only an admin can change the organization's setup")


def _refuse(errors: Sequence[FieldError], what: str) -> None:
    if errors:
        raise Refused(errors, what)


# --- First run -----------------------------------------------------------------------------------------------------


@service
def setup_organization(*, slug: str, name: str, admin_email: str, admin_name: str, admin_password: str | None,
                       now: datetime) -> tuple[Organization, User]:  # fmt: skip
    """Create the billing company and its first admin on an empty database; refused, changing nothing, once any
    organization exists. Without a password the admin gets a random one nobody knows (give them a set-password
    link, ``people.set_password_token``). Admins and supervisors must set up two-step sign-in."""
    if db.session.scalar(select(func.count()).select_from(Organization)):
        raise NotAllowed("an organization already exists; setup runs once, on an empty database")
    slug_problem = identifier_problem("slug", slug)
    problems = [FieldError("organization", slug_problem)] if slug_problem else []
    if not name.strip():
        problems.append(FieldError("organization-name", "required"))
    _refuse(problems, "setup")
    org = Organization(slug=slug, name=name.strip(), legal_name=name.strip(), created_at=now,
                       mfa_required_roles=list(DEFAULT_MFA_ROLES))  # fmt: skip
    db.session.add(org)
    db.session.flush()
    audit_event(action="admin:organization_create", now=now, organization_id=org.id, target_type="organization",
                target_id=org.id, data={"slug": slug, "via": "setup"})  # fmt: skip
    user = create_user(organization_id=org.id, email=admin_email, name=admin_name, role="admin",
                       password=admin_password or secrets.token_urlsafe(32), now=now)  # fmt: skip
    return org, user


@service
def update_organization(
    *, organization: Organization, values: Mapping[str, Any], actor: User, now: datetime
) -> dict[str, list[Any]]:
    """Change the company's name, legal identity, address and EDI submitter details."""
    _require_admin(actor)
    clean, errors = rules.clean_organization(values)
    _refuse(errors, "organization")
    changes = _apply(organization, clean)
    if changes:
        _audit(actor, "organization_update", now, organization, {"changes": changes})
    db.session.commit()
    return changes


# --- Practices ----------------------------------------------------------------------------------------------------


def _slug_taken(slug: str, exclude: int | None = None) -> bool:
    query = select(func.count()).select_from(Practice).where(Practice.slug == slug)
    if exclude is not None:
        query = query.where(Practice.id != exclude)
    return bool(db.session.scalar(query))


@service
def create_practice(*, organization_id: int, values: Mapping[str, Any], actor: User | None, now: datetime) -> Practice:
    """A new client practice; every field is checked first (group NPI type 2 with its check digit, TIN, taxonomy,
    time zone, addresses) and a taken slug is a Duplicate."""
    _require_admin(actor)
    clean, errors = rules.clean_practice(values)
    _refuse(errors, "practice")
    if _slug_taken(clean["slug"]):
        raise Duplicate(f"slug: a practice with slug {clean['slug']!r} already exists")
    clean.setdefault("owned_steps", list(rules.OWNABLE_STEPS))
    clean.setdefault("sla_overrides", {})
    practice = Practice(organization_id=organization_id, created_at=now, active=True, fee_schedule={}, **clean)
    db.session.add(practice)
    db.session.flush()
    _audit(actor, "practice_create", now, practice, {"changes": {k: [None, _plain(v)] for k, v in clean.items()}},
           practice_id=practice.id)  # fmt: skip
    db.session.commit()
    return practice


@service
def update_practice(
    *, practice: Practice, values: Mapping[str, Any], actor: User | None, now: datetime
) -> dict[str, list[Any]]:
    """Change the fields given (a partial edit); the slug stays unique."""
    _require_admin(actor)
    clean, errors = rules.clean_practice(values, partial=True)
    _refuse(errors, "practice")
    if clean.get("slug") and _slug_taken(clean["slug"], exclude=practice.id):
        raise Duplicate(f"slug: a practice with slug {clean['slug']!r} already exists")
    changes = _apply(practice, clean)
    if changes:
        _audit(actor, "practice_update", now, practice, {"changes": changes}, practice_id=practice.id)
    db.session.commit()
    return changes


@service
def set_practice_active(*, practice: Practice, active: bool, actor: User | None, now: datetime) -> Practice:
    """Deactivate (kept with its claims and history: never deleted) or reactivate a practice."""
    _require_admin(actor)
    if practice.active != active:
        practice.active = active
        _audit(actor, "practice_update", now, practice, {"changes": {"active": [not active, active]}},
               practice_id=practice.id)  # fmt: skip
    db.session.commit()
    return practice


# --- Payer directory ----------------------------------------------------------------------------------------------


def _new_payer(organization_id: int, clean: dict[str, Any]) -> Payer:
    clean = dict(clean)
    kind = clean.get("kind")
    for name in ("enrollment_required_837", "enrollment_required_270", "enrollment_required_835"):
        if clean.get(name) is None:
            clean[name] = kind not in rules.NO_ENROLLMENT_KINDS
    clean = {k: v for k, v in clean.items() if v is not None or k not in ("telehealth_policy", "coding_policy")}
    clean.setdefault("telehealth_policy", {})
    clean.setdefault("coding_policy", {})
    clean.setdefault("prior_auth_cpts", [])
    clean.setdefault("clearinghouse_payer_ids", [])
    return Payer(organization_id=organization_id, **clean)


def _payer_by_id(organization_id: int, payer_id: str) -> Payer | None:
    return db.session.scalar(select(Payer).where(Payer.organization_id == organization_id, Payer.payer_id == payer_id))


@service
def create_payer(*, organization_id: int, values: Mapping[str, Any], actor: User | None, now: datetime) -> Payer:
    """Add a payer to the directory; its payer ID is unique in the organization (a Duplicate otherwise)."""
    _require_admin(actor)
    clean, errors = rules.clean_payer(values)
    _refuse(errors, "payer")
    if _payer_by_id(organization_id, clean["payer_id"]) is not None:
        raise Duplicate(f"payer_id: a payer with ID {clean['payer_id']!r} is already in the directory")
    payer = _new_payer(organization_id, clean)
    db.session.add(payer)
    db.session.flush()
    _audit(actor, "payer_create", now, payer, {"changes": {k: [None, _plain(v)] for k, v in clean.items()}})
    db.session.commit()
    return payer


@service
def update_payer(*, payer: Payer, values: Mapping[str, Any], actor: User | None, now: datetime) -> dict[str, list[Any]]:
    """Change the fields given; the payer ID stays unique."""
    _require_admin(actor)
    clean, errors = rules.clean_payer(values, partial=True)
    _refuse(errors, "payer")
    other = _payer_by_id(payer.organization_id, clean["payer_id"]) if clean.get("payer_id") else None
    if other is not None and other.id != payer.id:
        raise Duplicate(f"payer_id: a payer with ID {clean['payer_id']!r} is already in the directory")
    changes = _apply(payer, clean)
    if changes:
        _audit(actor, "payer_update", now, payer, {"changes": changes})
    db.session.commit()
    return changes


@service
def import_payers(
    *, organization_id: int, records: Sequence[Mapping[str, Any]], actor: User | None, now: datetime
) -> tuple[int, int, int]:
    """The payer directory from file rows, all or nothing: rows whose payer ID exists update it, others add a payer;
    payers not in the file are left as they are. Returns (created, updated, unchanged)."""
    _require_admin(actor)
    cleaned: list[dict[str, Any]] = []
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records, start=2):
        row = int(record.get("_row", index))
        values = {k: v for k, v in record.items() if k != "_row"}
        clean, problems = rules.clean_payer(values, partial=True, row=row)
        for required in ("payer_id", "name", "kind", "filing_limit_days", "appeal_window_days"):
            if required not in values:
                problems.append(FieldError(required, "required", row))
        payer_id = clean.get("payer_id")
        if payer_id in seen:
            problems.append(FieldError("payer_id", f"{payer_id} is already on row {seen[payer_id]}", row))
        elif payer_id:
            seen[payer_id] = row
        errors.extend(problems)
        cleaned.append(clean)
    _refuse(errors, "payer directory")
    counts = [0, 0, 0]
    for clean in cleaned:
        payer = _payer_by_id(organization_id, clean["payer_id"])
        if payer is None:
            payer = _new_payer(organization_id, clean)
            db.session.add(payer)
            db.session.flush()
            _audit(actor, "payer_create", now, payer, {"changes": {k: [None, _plain(v)] for k, v in clean.items()},
                                                       "via": "file"})  # fmt: skip
            counts[0] += 1
            continue
        changes = _apply(payer, clean)
        if changes:
            _audit(actor, "payer_update", now, payer, {"changes": changes, "via": "file"})
        counts[1 if changes else 2] += 1
    db.session.commit()
    return counts[0], counts[1], counts[2]


def payer_records(organization_id: int) -> list[dict[str, Any]]:
    """The directory as file rows (the columns ``import_payers`` takes)."""
    payers = db.session.scalars(select(Payer).where(Payer.organization_id == organization_id).order_by(Payer.payer_id))
    return [{column: _plain(getattr(p, column)) for column in rules.PAYER_COLUMNS} for p in payers]


# --- Fee schedules and contracted rates -----------------------------------------------------------------------------


@service
def replace_fee_schedule(*, practice: Practice, records: Sequence[Mapping[str, Any]], actor: User | None, now: datetime,
                         first_row: int = 1) -> dict[str, list[Any]]:  # fmt: skip
    """Make the practice's fee schedule exactly ``records`` (cpt, charge), all or nothing."""
    _require_admin(actor)
    fees, errors = rules.parse_fees(records, first_row=first_row)
    _refuse(errors, "fee schedule")
    before = dict(practice.fee_schedule or {})
    changes = {
        cpt: [before.get(cpt), fees.get(cpt)] for cpt in sorted({*before, *fees}) if before.get(cpt) != fees.get(cpt)
    }
    if changes:
        practice.fee_schedule = fees
        _audit(actor, "fee_schedule_update", now, practice, {"changes": changes}, practice_id=practice.id)
    db.session.commit()
    return changes


def fee_records(practice: Practice) -> list[dict[str, Any]]:
    return [
        {"cpt": cpt, "modifier": "", "charge": charge} for cpt, charge in sorted((practice.fee_schedule or {}).items())
    ]


def _rate_key(rate: ContractedRate) -> tuple[str, str, str, date]:
    return (rate.payer.payer_id, rate.cpt, rate.modifier, rate.effective_from)


@service
def replace_contracted_rates(*, practice: Practice, records: Sequence[Mapping[str, Any]], actor: User | None,
                             now: datetime, first_row: int = 1) -> tuple[int, int, int]:  # fmt: skip
    """Make the practice's contracted rates exactly ``records``, all or nothing: payers from the directory, amounts
    not negative, no overlapping dates for one payer × code × modifier. Returns (added, changed, removed)."""
    _require_admin(actor)
    payers = {
        p.payer_id: p
        for p in db.session.scalars(select(Payer).where(Payer.organization_id == practice.organization_id))
    }
    wanted, errors = rules.parse_rates(records, known_payers=payers, today=now.date(), first_row=first_row)
    _refuse(errors, "contracted rates")
    existing = {
        _rate_key(r): r
        for r in db.session.scalars(select(ContractedRate).where(ContractedRate.practice_id == practice.id))
    }
    wanted_by_key = {r.key: r for r in wanted}
    added = changed = removed = 0
    log: dict[str, list[Any]] = {}
    for key, row in existing.items():
        if key not in wanted_by_key:
            log[_label(key)] = [_rate_value(row.allowed, row.effective_to), None]
            db.session.delete(row)
            removed += 1
    db.session.flush()
    for key, rate in wanted_by_key.items():
        row = existing.get(key)
        if row is None:
            db.session.add(
                ContractedRate(
                    practice_id=practice.id,
                    payer_id=payers[rate.payer_id].id,
                    cpt=rate.cpt,
                    modifier=rate.modifier,
                    allowed=rate.allowed,
                    effective_from=rate.effective_from,
                    effective_to=rate.effective_to,
                )
            )
            log[_label(key)] = [None, _rate_value(rate.allowed, rate.effective_to)]
            added += 1
        elif row.allowed != rate.allowed or row.effective_to != rate.effective_to:
            log[_label(key)] = [
                _rate_value(row.allowed, row.effective_to),
                _rate_value(rate.allowed, rate.effective_to),
            ]
            row.allowed, row.effective_to = rate.allowed, rate.effective_to
            changed += 1
    if log:
        _audit(actor, "contracted_rates_update", now, practice, {"changes": log}, practice_id=practice.id)
    db.session.commit()
    return added, changed, removed


def _label(key: tuple[str, str, str, date]) -> str:
    payer_id, cpt, modifier, start = key
    return f"{payer_id} {cpt}{'-' + modifier if modifier else ''} from {start.isoformat()}"


def _rate_value(allowed: Decimal, end: date | None) -> str:
    return f"{allowed:.2f}" + (f" to {end.isoformat()}" if end else "")


def rate_records(practice: Practice) -> list[dict[str, Any]]:
    rows = db.session.scalars(select(ContractedRate).where(ContractedRate.practice_id == practice.id))
    records = [{"payer_id": r.payer.payer_id, "cpt": r.cpt, "modifier": r.modifier, "allowed": f"{r.allowed:.2f}",
                "effective_from": r.effective_from.isoformat(),
                "effective_to": r.effective_to.isoformat() if r.effective_to else ""} for r in rows]  # fmt: skip
    return sorted(records, key=lambda r: (r["payer_id"], r["cpt"], r["modifier"], r["effective_from"]))
