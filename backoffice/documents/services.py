"""Attach, list and read documents; build an appeal packet. Every read is authorised by the caller (practice scope)
and audited here as a PHI read; uploads are checked by content, never trusted from the name."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader, PdfWriter
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session as OrmSession

from backoffice.appeals.models import Appeal
from backoffice.audit.services import audit_event, record_phi_read
from backoffice.claims.models import Claim
from backoffice.documents import rules
from backoffice.documents.models import Document
from backoffice.documents.storage import DocumentStorage, storage_for
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.patients.models import Patient
from backoffice.services_base import service
from backoffice.work.log import record_interaction
from backoffice.work.models import WorkItem
from backoffice.work.rules import InteractionKind

log = logging.getLogger(__name__)
WRITTEN_KEY = "documents_written"  # session.info: (storage, key) stored in the open transaction


@dataclass(frozen=True)
class Target:
    """What a document is attached to, and whose it is."""

    kind: str
    id: int
    organization_id: int
    practice_id: int
    patient_id: int | None
    claim_id: int | None = None
    item: WorkItem | None = None


def init_app(app: Flask) -> None:
    """Delete what an upload stored when its transaction rolls back, so no object is left without its row
    (idempotent: the listeners are registered once per process)."""
    if not event.contains(OrmSession, "after_rollback", _discard_written):
        event.listen(OrmSession, "after_commit", _forget_written)
        event.listen(OrmSession, "after_rollback", _discard_written)


def _forget_written(session: OrmSession) -> None:
    session.info.pop(WRITTEN_KEY, None)


def _discard_written(session: OrmSession) -> None:
    for store, key in session.info.pop(WRITTEN_KEY, []):
        try:
            store.delete(key)
        except Exception:  # noqa: BLE001 - the rollback stands; an orphan object holds no row's data
            log.warning("document %s: not deleted after its upload rolled back", key)


def storage() -> DocumentStorage:
    """The app's document storage (the setting chooses the instance folder or an S3 bucket), made once per app."""
    found = current_app.extensions.get("document_storage")
    if found is None:
        found = storage_for(current_app.config["BACKOFFICE_SETTINGS"], current_app.instance_path)
        current_app.extensions["document_storage"] = found
    return found


def _patient_of_item(item: WorkItem) -> int | None:
    if item.patient_id is not None:
        return item.patient_id
    if item.session is not None:
        return item.session.patient_id
    return item.claim.patient_id if item.claim is not None else None


def target(kind: str, target_id: int, scope: set[int]) -> Target | None:
    """The target when it exists and its practice is in ``scope``; None otherwise (a 404 for the caller)."""
    if kind not in rules.TARGETS:
        return None
    row: Any = db.session.get({"item": WorkItem, "claim": Claim, "appeal": Appeal, "patient": Patient}[kind], target_id)
    if row is None or row.practice_id not in scope:
        return None
    organization_id = db.session.get(Practice, row.practice_id).organization_id
    if kind == "item":
        return Target(kind, row.id, organization_id, row.practice_id, _patient_of_item(row), row.claim_id, row)
    if kind == "claim":
        return Target(kind, row.id, organization_id, row.practice_id, row.patient_id, row.id)
    if kind == "appeal":
        claim = db.session.get(Claim, row.claim_id)
        return Target(kind, row.id, organization_id, row.practice_id, claim.patient_id if claim else None, row.claim_id)
    return Target(kind, row.id, organization_id, row.practice_id, row.id)


@service
def attach(*, to: Target, filename: str, data: bytes, user: Any, now: datetime, note: str | None = None) -> Document:
    """Store ``data`` and attach it; refused (naming the field, nothing stored) when it is not an accepted file."""
    problem = rules.upload_problem(filename, data)
    if problem:
        raise ValidationFailed(problem)
    content_type = rules.sniff(data)
    store = storage()
    key = store.new_key(rules.extension(content_type))
    document = Document(
        organization_id=to.organization_id, practice_id=to.practice_id, patient_id=to.patient_id,
        target_type=to.kind, target_id=to.id, filename=rules.display_name(filename), content_type=content_type,
        size=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
        note=(note or "").strip()[:200] or None, uploaded_by_id=getattr(user, "id", None), uploaded_at=now,
    )  # fmt: skip
    db.session.add(document)
    db.session.flush()
    audit_event(action="document_uploaded", user=user, now=now, organization_id=to.organization_id,
                target_type="document", target_id=document.id, practice_id=to.practice_id,
                patient_id=to.patient_id, data={"attached_to": f"{to.kind} {to.id}", "size": len(data)})  # fmt: skip
    if to.item is not None or to.claim_id is not None:
        record_interaction(practice_id=to.practice_id, actor=user, kind=InteractionKind.DOCUMENT, now=now,
                           item=to.item, claim_id=to.claim_id,
                           body=f"Attached {document.filename} ({content_type}, {len(data):,} bytes)")  # fmt: skip
    store.put(key, data)  # last: a failed write rolls the row back
    db.session().info.setdefault(WRITTEN_KEY, []).append((store, key))  # a rollback deletes it again
    return document


def documents_for(pairs: list[tuple[str, int | None]]) -> list[Document]:
    """Documents attached to any of (target kind, id), newest first."""
    wanted = [(kind, ident) for kind, ident in pairs if ident is not None]
    if not wanted:
        return []
    clause = or_(*((Document.target_type == kind) & (Document.target_id == ident) for kind, ident in wanted))
    return list(db.session.scalars(select(Document).where(clause).order_by(Document.uploaded_at.desc(),
                                                                           Document.id.desc())))  # fmt: skip


def related_documents(to: Target) -> list[Document]:
    """A target's own documents and those of what it belongs to (its claim, its patient)."""
    pairs: list[tuple[str, int | None]] = [(to.kind, to.id), ("claim", to.claim_id), ("patient", to.patient_id)]
    if to.item is not None:
        pairs.append(("item", to.item.id))
    if to.claim_id is not None:
        appeals = db.session.scalars(select(Appeal.id).where(Appeal.claim_id == to.claim_id)).all()
        items = db.session.scalars(select(WorkItem.id).where(WorkItem.claim_id == to.claim_id)).all()
        pairs += [("appeal", a) for a in appeals] + [("item", i) for i in items]
    return documents_for(list(dict.fromkeys(pairs)))


def read(document: Document, *, action: str = "phi_view") -> bytes:
    """The document's bytes; the read is on the audit trail (the caller has checked the practice scope)."""
    record_phi_read(patient_id=document.patient_id, practice_id=document.practice_id, action=action,
                    target_type="document", target_id=document.id)  # fmt: skip
    return storage().get(document.storage_key)


def _image_pdf(data: bytes) -> bytes:
    """One Letter page per image frame (a multi-page TIFF keeps every page), each fitted inside the margins."""
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(False)
    with Image.open(io.BytesIO(data)) as image:
        for frame in range(getattr(image, "n_frames", 1)):
            image.seek(frame)
            page = image.convert("RGB")
            pdf.add_page()
            width, height = page.size
            scale = min((pdf.w - 20) / width, (pdf.h - 20) / height)
            pdf.image(page, x=10, y=10, w=width * scale, h=height * scale)
    return bytes(pdf.output())


def packet(letter: bytes, documents: list[Document]) -> bytes:
    """One PDF: the letter, then each chosen document in order (images become pages); each read is audited."""
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(letter)))
    for document in documents:
        data = read(document, action="pdf")
        pdf = data if document.content_type == "application/pdf" else _image_pdf(data)
        writer.append(PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
