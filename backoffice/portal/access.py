"""Load what a practice user asks for in the portal, within their practice, or 404 (never a leak)."""

from __future__ import annotations

from flask import abort

from backoffice.accounts.models import User
from backoffice.contracts.models import Invoice
from backoffice.documents.models import Document
from backoffice.extensions import db
from backoffice.orgs.models import Practice
from backoffice.portal import queries
from backoffice.portal.models import PracticeRequest


def practice_or_403(user: User) -> Practice:
    """The practice of a practice user; anyone else (staff, a user bound to no practice) is refused."""
    practice = queries.practice_of(user)
    if practice is None:
        abort(403)
    return practice


def get_request_or_404(request_id: int, practice: Practice) -> PracticeRequest:
    request = db.session.get(PracticeRequest, request_id)
    if request is None or request.practice_id != practice.id:
        abort(404)
    return request


def get_invoice_or_404(invoice_id: int, practice: Practice) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.practice_id != practice.id or invoice.status not in queries.ISSUED:
        abort(404)
    return invoice


def get_document_or_404(document_id: int, practice: Practice) -> Document:
    document = db.session.get(Document, document_id)
    if document is None or not queries.document_visible_to_practice(document, practice.id):
        abort(404)
    return document
