"""Credentialing writes: providers (create, edit, deactivate — never deleted), payer enrolments (whose becoming
effective releases held claims), and the 90/60/30-day expiry sweep. Each owns its commit and audits the change."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backoffice.audit.services import audit_event
from backoffice.credentialing import gate, queries
from backoffice.credentialing.models import Enrollment
from backoffice.credentialing.records import RecordError, RecordRefused, provider_csv_rows, providers_csv
from backoffice.credentialing.rules import (
    EXPIRY_LABELS,
    STAGE_PRIORITY,
    EnrollmentInput,
    EnrollmentStatus,
    ExpiryKind,
    ProviderFacts,
    ProviderInput,
    enrollment_dates_problem,
    expiry_stage,
    provider_field_problem,
    status_problem,
    supervisor_problem,
)
from backoffice.errors import Conflict, ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Payer, Practice, Provider
from backoffice.services_base import service
from backoffice.work.chains import add_item
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import OPEN_STATES, ExceptionKind, InteractionKind
from backoffice.work.services import complete_item

SWEEP = "credential-watch"


def provider_input(provider: Provider, **changes: Any) -> ProviderInput:
    """A provider's current values as input (with ``changes``): what an edit form starts from."""
    supervisor = provider.supervising_provider
    values: dict[str, Any] = {
        f.name: getattr(provider, f.name) for f in fields(ProviderInput) if f.name != "supervising_npi"
    }
    values["credential"] = str(provider.credential)
    values["supervising_npi"] = supervisor.npi if supervisor is not None else None
    values.update(changes)
    return ProviderInput(**values)


def _facts_of(provider: Provider) -> ProviderFacts:
    return ProviderFacts(provider.id, provider.practice_id, str(provider.credential), provider.active,
                         provider.license_number, provider.license_expires_on)  # fmt: skip


def _supervisor(practice: Practice, data: ProviderInput, provider_id: int | None, today: date) -> int | None:
    if not data.supervising_npi:
        return None
    supervisor = db.session.scalar(
        select(Provider).where(Provider.practice_id == practice.id, Provider.npi == data.supervising_npi)
    )
    associate = ProviderFacts(provider_id, practice.id, data.credential, data.active, data.license_number,
                              data.license_expires_on)  # fmt: skip
    problem = supervisor_problem(associate, _facts_of(supervisor) if supervisor else None, today)
    if problem:
        raise ValidationFailed(f"supervising_npi: {problem}")
    return supervisor.id if supervisor else None


def check_provider(practice: Practice, data: ProviderInput, *, provider_id: int | None, today: date) -> int | None:
    """Validate ``data`` for ``practice``; returns the supervisor's id. Raises ValidationFailed naming the field,
    Conflict for an NPI already on another provider of the practice."""
    found = provider_field_problem(data)
    if found:
        raise ValidationFailed(f"{found[0]}: {found[1]}")
    other = db.session.scalar(select(Provider.id).where(Provider.practice_id == practice.id, Provider.npi == data.npi))
    if other is not None and other != provider_id:
        raise Conflict(f"npi: a provider with NPI {data.npi} already exists in this practice")
    return _supervisor(practice, data, provider_id, today)


PROVIDER_FIELDS = ("first_name", "last_name", "npi", "credential", "taxonomy", "license_type", "license_number",
                   "license_state", "license_expires_on", "active_from", "active_to", "active")  # fmt: skip


def provider_snapshot(provider: Provider) -> dict[str, Any]:
    """The audited fields of a provider (no PHI: providers are clinicians, not patients)."""
    out: dict[str, Any] = {}
    for name in PROVIDER_FIELDS:
        value = getattr(provider, name)
        out[name] = value.isoformat() if isinstance(value, date) else (str(value) if value is not None else None)
    out["supervising_provider_id"] = provider.supervising_provider_id
    return out


def _apply(provider: Provider, data: ProviderInput, supervisor_id: int | None) -> None:
    for field in fields(ProviderInput):
        if field.name != "supervising_npi":
            value = getattr(data, field.name)
            setattr(provider, field.name, value.strip() if isinstance(value, str) else value)
    provider.supervising_provider_id = supervisor_id


def stage_provider(practice: Practice, data: ProviderInput, *, actor: Any, now: datetime) -> Provider:
    """Add (or update, by NPI) one provider in the caller's transaction with its audit row; the caller commits."""
    existing = db.session.scalar(select(Provider).where(Provider.practice_id == practice.id, Provider.npi == data.npi))
    supervisor_id = check_provider(practice, data, provider_id=existing.id if existing else None, today=now.date())
    before = provider_snapshot(existing) if existing else None
    provider = existing or Provider(practice_id=practice.id)
    _apply(provider, data, supervisor_id)
    db.session.add(provider)
    db.session.flush()
    after = provider_snapshot(provider)
    if before != after:
        audit_event(action="provider_create" if before is None else "provider_update", user=actor, now=now,
                    organization_id=practice.organization_id, target_type="provider", target_id=provider.id,
                    practice_id=practice.id, data={"before": before, "after": after})  # fmt: skip
    return provider


@service
def create_provider(*, practice: Practice, data: ProviderInput, actor: Any, now: datetime) -> Provider:
    """A new provider of ``practice`` (409 when its NPI is already there)."""
    if db.session.scalar(select(Provider.id).where(Provider.practice_id == practice.id, Provider.npi == data.npi)):
        raise Conflict(f"npi: a provider with NPI {data.npi} already exists in this practice")
    provider = stage_provider(practice, data, actor=actor, now=now)
    db.session.commit()
    return provider


@service
def update_provider(*, provider: Provider, data: ProviderInput, actor: Any, now: datetime) -> Provider:
    """Edit a provider (its NPI may change when no other provider has the new one); deactivating keeps the row."""
    practice = provider.practice
    supervisor_id = check_provider(practice, data, provider_id=provider.id, today=now.date())
    if not data.active and _supervised_by(provider.id):
        raise ValidationFailed("active: this provider still supervises active associates; reassign them first")
    before = provider_snapshot(provider)
    _apply(provider, data, supervisor_id)
    after = provider_snapshot(provider)
    if before != after:
        action = "provider_deactivate" if before["active"] == "True" and not data.active else "provider_update"
        audit_event(action=action, user=actor, now=now, organization_id=practice.organization_id,
                    target_type="provider", target_id=provider.id, practice_id=practice.id,
                    data={"before": before, "after": after})  # fmt: skip
    renewed = before["license_expires_on"] != after["license_expires_on"]
    db.session.commit()
    if renewed:
        _close_renewals(ExpiryKind.LICENSE, f"provider:{provider.id}", now, "licence date changed")
    return provider


def _error_of(error: Exception, row: int) -> RecordError:
    field, _, why = str(error).partition(": ")
    return RecordError(row, field if why and field.isidentifier() else "row", why or str(error))


@service
def import_providers(*, practice: Practice, text: str, actor: Any, now: datetime) -> dict[str, int]:
    """Create or update (by NPI) a practice's providers from a CSV in the export's format, all or nothing; every bad
    row is named by row and column (RecordRefused). Importing an export changes nothing (no audit rows either)."""
    rows, errors = provider_csv_rows(text, today=now.date())
    counts = Counter({"created": 0, "updated": 0, "unchanged": 0})
    renewed: list[int] = []
    # Supervisors first: an associate's row may name a supervisor that a later row creates.
    ordered = sorted(rows, key=lambda pair: (pair[1].supervising_npi is not None, pair[0]))
    if not errors:
        for number, data in ordered:
            before = db.session.scalar(
                select(Provider).where(Provider.practice_id == practice.id, Provider.npi == data.npi)
            )
            snapshot = provider_snapshot(before) if before is not None else None
            try:  # a refused row is refused before anything of it is staged
                provider = stage_provider(practice, data, actor=actor, now=now)
            except (ValidationFailed, Conflict) as error:
                errors.append(_error_of(error, number))
                continue
            after = provider_snapshot(provider)
            counts["created" if snapshot is None else "updated" if snapshot != after else "unchanged"] += 1
            if snapshot is not None and snapshot["license_expires_on"] != after["license_expires_on"]:
                renewed.append(provider.id)
    if errors:
        db.session.rollback()
        raise RecordRefused(sorted(errors, key=lambda e: (e.row, e.column)))
    audit_event(action="providers_import", user=actor, now=now, organization_id=practice.organization_id,
                target_type="practice", target_id=practice.id, practice_id=practice.id, data=dict(counts))  # fmt: skip
    db.session.commit()
    for provider_id in renewed:
        _close_renewals(ExpiryKind.LICENSE, f"provider:{provider_id}", now, "licence date changed")
    return dict(counts)


def export_providers(practice: Practice) -> str:
    """The practice's providers as the import's CSV."""
    return providers_csv(provider_input(p) for p in queries.providers_of(practice))


def _supervised_by(provider_id: int) -> list[int]:
    return list(
        db.session.scalars(
            select(Provider.id).where(Provider.supervising_provider_id == provider_id, Provider.active.is_(True))
        )
    )


ENROLLMENT_FIELDS = tuple(f.name for f in fields(EnrollmentInput))


def _enrollment_snapshot(row: Enrollment) -> dict[str, Any]:
    out = {}
    for name in ENROLLMENT_FIELDS:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, date) else (str(value) if value is not None else None)
    return out


@service
def save_enrollment(
    *, practice: Practice, provider: Provider, payer: Payer, data: EnrollmentInput, actor: Any, now: datetime
) -> Enrollment:
    """Create or update the enrolment of ``provider`` with ``payer``; audited. When it now covers claims that wait
    for it (a retroactive effective date included), they are released to submission, and the release is logged on
    each held item."""
    problem = status_problem(data.status)
    if problem:
        raise ValidationFailed(f"status: {problem}")
    if provider.practice_id != practice.id:
        raise ValidationFailed("provider_npi: not a provider of this practice")
    if payer.organization_id != practice.organization_id:
        raise ValidationFailed("payer_id: not a payer of this organization")
    found = enrollment_dates_problem(data.status, data.submitted_on, data.effective_from, data.terminated_on)
    if found:
        raise ValidationFailed(f"{found[0]}: {found[1]}")
    if data.payer_provider_id and len(data.payer_provider_id) > 40:
        raise ValidationFailed("payer_provider_id: up to 40 characters")
    row = queries.enrollment_for(provider.id, payer.id)
    before = _enrollment_snapshot(row) if row is not None else None
    if row is None:
        row = Enrollment(practice_id=practice.id, provider_id=provider.id, payer_id=payer.id, created_at=now,
                         provider=provider, payer=payer)  # fmt: skip
        db.session.add(row)
    for name in ENROLLMENT_FIELDS:
        setattr(row, name, getattr(data, name))
    row.status = EnrollmentStatus(data.status)
    row.updated_at = now
    db.session.flush()
    after = _enrollment_snapshot(row)
    if before != after:
        audit_event(action="enrollment_create" if before is None else "enrollment_update", user=actor, now=now,
                    organization_id=practice.organization_id, target_type="enrollment", target_id=row.id,
                    practice_id=practice.id, data={"before": before, "after": after,
                                                   "provider_id": provider.id, "payer_id": payer.id})  # fmt: skip
    gate.release_held_claims(row, now=now)
    db.session.commit()
    gate.complete_released(row, now=now)
    if before is not None:
        for kind, name in ((ExpiryKind.REVALIDATION, "revalidation_due"), (ExpiryKind.CAQH, "caqh_reattestation_due")):
            if before[name] != after[name]:
                _close_renewals(kind, f"enrollment:{row.id}", now, f"{EXPIRY_LABELS[kind]} date changed")
    return row


# --- the 90/60/30-day expiry watch ---


def _renewal_key(kind: ExpiryKind, target: str, expires: date, stage: int) -> str:
    return f"renew:{kind.value}:{target}:{expires.isoformat()}:{stage}"


def _open_renewals(kind: ExpiryKind, target: str) -> list[WorkItem]:
    return list(
        db.session.scalars(
            select(WorkItem).where(
                WorkItem.kind == ExceptionKind.RENEW_CREDENTIAL,
                WorkItem.dedupe_key.like(f"renew:{kind.value}:{target}:%"),
                WorkItem.state.in_([s.value for s in OPEN_STATES]),
            )
        )
    )


def _close_renewals(kind: ExpiryKind, target: str, now: datetime, why: str) -> None:
    """Work closes itself: a renewed date resolves the renewal items opened for the old one."""
    for item in _open_renewals(kind, target):
        complete_item(item=item, actor=None, actor_label=SWEEP, now=now, note=f"Resolved: {why}",
                      result={"resolved_by": why})  # fmt: skip


def _watch(
    counts: Counter[str],
    *,
    kind: ExpiryKind,
    target: str,
    expires: date | None,
    practice: Practice,
    now: datetime,
    provider_id: int,
    payer_id: int | None,
    what: str,
) -> None:
    local = now.astimezone(ZoneInfo(practice.timezone)).date()
    stage = expiry_stage(expires, local)
    if stage is None or expires is None:
        return
    left = (expires - local).days
    due = datetime.combine(expires, time(17, 0), tzinfo=ZoneInfo(practice.timezone))
    reason = f"{what} {'expired' if left < 0 else 'expires'} on {expires:%Y-%m-%d} ({left} days left): renew it"
    key = _renewal_key(kind, target, expires, stage)
    earlier = [i for i in _open_renewals(kind, target) if i.dedupe_key != key and i.dedupe_key.endswith(
        tuple(f"{expires.isoformat()}:{s}" for s in STAGE_PRIORITY if s > stage))]  # fmt: skip
    if earlier:  # still open from the earlier reminder: raise it rather than open a second item
        for item in earlier:
            if item.priority < STAGE_PRIORITY[stage]:
                item.priority = STAGE_PRIORITY[stage]
                item.updated_at = now
                record_interaction(practice_id=item.practice_id, actor=None, actor_label=SWEEP,
                                   kind=InteractionKind.NOTE, now=now, item=item,
                                   body=f"{stage}-day reminder: {reason}", data={"stage": stage})  # fmt: skip
                counts["items_raised"] += 1
        return
    _, created = add_item(
        practice_id=practice.id, kind=ExceptionKind.RENEW_CREDENTIAL, now=now, provider_id=provider_id,
        payer_id=payer_id, dedupe_key=key, due_at=max(due, now), priority=STAGE_PRIORITY[stage], source=SWEEP,
        reason=f"{stage}-day reminder: {reason}",
        evidence={"what": kind.value, "expires_on": expires.isoformat(), "stage": stage},
    )  # fmt: skip
    counts["items_created"] += created


@service
def watch_credential_expiries(*, now: datetime) -> dict[str, int]:
    """Licences, enrolment revalidations and CAQH re-attestations within 90, 60 or 30 days of expiry get a
    renew-credential item (one per stage; an item still open from an earlier stage is raised instead). Idempotent."""
    counts: Counter[str] = Counter({"items_created": 0, "items_raised": 0})
    for provider, practice in db.session.execute(
        select(Provider, Practice).join(Practice, Practice.id == Provider.practice_id)
        .where(Provider.active.is_(True), Provider.license_expires_on.is_not(None)).order_by(Provider.id)
    ):  # fmt: skip
        _watch(
            counts,
            kind=ExpiryKind.LICENSE,
            target=f"provider:{provider.id}",
            expires=provider.license_expires_on,
            practice=practice,
            now=now,
            provider_id=provider.id,
            payer_id=None,
            what=f"{provider.license_type or ''} licence {provider.license_number} ({provider.license_state})",
        )
    for row, practice in db.session.execute(
        select(Enrollment, Practice).join(Practice, Practice.id == Enrollment.practice_id)
        .where(Enrollment.status.in_([EnrollmentStatus.EFFECTIVE.value, EnrollmentStatus.PENDING.value,
                                      EnrollmentStatus.SUBMITTED.value]))
        .order_by(Enrollment.id)
    ):  # fmt: skip
        for kind, expires in ((ExpiryKind.REVALIDATION, row.revalidation_due),
                              (ExpiryKind.CAQH, row.caqh_reattestation_due)):  # fmt: skip
            _watch(
                counts,
                kind=kind,
                target=f"enrollment:{row.id}",
                expires=expires,
                practice=practice,
                now=now,
                provider_id=row.provider_id,
                payer_id=row.payer_id,
                what=f"{EXPIRY_LABELS[kind]} with {row.payer.payer_id}",
            )
    db.session.commit()
    return dict(counts)
