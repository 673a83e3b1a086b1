"""Documents (issue 20.6): the content decides the type (never the name), size limits, safe names, storage under
the instance folder, every read authorised and audited as a PHI read, and the appeal packet as one PDF."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from backoffice.appeals.models import Appeal
from backoffice.audit.models import AuditEvent
from backoffice.documents import rules, services
from backoffice.documents.models import Document
from backoffice.errors import ValidationFailed
from backoffice.extensions import db
from backoffice.work import chains
from backoffice.work.models import Interaction
from tests import factories as f
from tests.conftest import AuthActions, csrf_token
from tests.factories import NOW
from tests.factories_edi_posting import make_claim


def pdf_bytes(text: str, pages: int = 1) -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for n in range(pages):
        pdf.add_page()
        pdf.cell(0, 10, f"{text} page {n + 1}")
    return bytes(pdf.output())


def image_bytes(kind: str, frames: int = 1) -> bytes:
    out = io.BytesIO()
    images = [Image.new("RGB", (200, 100), (255, 255 - 40 * n, 255)) for n in range(frames)]
    images[0].save(out, format=kind, save_all=frames > 1, append_images=images[1:])
    return out.getvalue()


# ---- pure rules -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [(lambda: pdf_bytes("x"), "application/pdf"), (lambda: image_bytes("PNG"), "image/png"),
     (lambda: image_bytes("JPEG"), "image/jpeg"), (lambda: image_bytes("TIFF"), "image/tiff"),
     (lambda: b"MZ\x90\x00 an executable", None), (lambda: b"<html><script>", None)],
)  # fmt: skip
def test_the_type_comes_from_the_content(data, expected: str | None) -> None:  # noqa: ANN001
    assert rules.sniff(data()) == expected


def test_a_file_named_pdf_that_is_not_one_is_refused_and_limits_apply() -> None:
    assert rules.upload_problem("notes.pdf", b"#!/bin/sh\nrm -rf /") == (
        "file: not a PDF, PNG, JPEG or TIFF file (the content is checked, not the name)"
    )
    assert rules.upload_problem("a.pdf", b"") == "file: the file is empty"
    too_big = b"%PDF-" + b"0" * rules.MAX_BYTES
    assert rules.upload_problem("a.pdf", too_big).startswith("file: 10.0 MB is over the 10 MB limit")
    assert rules.upload_problem("a.pdf", b"%PDF-" + b"0" * (rules.MAX_BYTES - 5)) is None


@pytest.mark.parametrize(
    ("name", "shown"),
    [("../../etc/passwd.pdf", "passwd.pdf"), ("C:\\scans\\Progress Note.pdf", "Progress Note.pdf"),
     ("Évaluation<script>.png", "Evaluation_script_.png"), ("...", "")],
)  # fmt: skip
def test_the_display_name_is_never_a_path_or_markup(name: str, shown: str) -> None:
    assert rules.display_name(name) == shown


# ---- services and screens --------------------------------------------------------------------------------------


def world(app):  # noqa: ANN001, ANN201
    with app.app_context():
        org = f.make_org()
        practice, other = f.make_practice(org), f.make_practice(org)
        payer = f.make_payer(org)
        patient = f.make_patient(practice, payer)
        session = f.make_session(practice, patient=patient)
        item = chains.create_chain(session=session, kinds=["verify_benefits"], now=NOW)[0]
        claim = make_claim(practice, patient)
        appeal = Appeal(organization_id=org.id, practice_id=practice.id, claim_id=claim.id, payer_id=payer.id,
                        level=1, denial_family="medical_necessity", letter="Please reconsider.",
                        amount=Decimal("150.00"), deadline=date(2027, 5, 1), status="draft", created_at=NOW,
                        updated_at=NOW)  # fmt: skip
        db.session.add(appeal)
        f.make_user(org, practices=[practice], email="biller@example.test")
        f.make_user(org, practices=[other], email="other@example.test")
        db.session.commit()
        return {"item": item.id, "claim": claim.id, "appeal": appeal.id, "patient": patient.id}


def upload(client, kind: str, target_id: int, data: bytes, name: str, page: str):  # noqa: ANN001, ANN201
    return client.post("/documents/upload", data={
        "csrf_token": csrf_token(page), "target_type": kind, "target_id": str(target_id), "note": "progress note",
        "file": (io.BytesIO(data), name)}, content_type="multipart/form-data", follow_redirects=True)  # fmt: skip


def test_a_biller_attaches_a_note_to_an_item_and_reads_it_back_audited(app, client) -> None:  # noqa: ANN001
    ids = world(app)
    AuthActions(client).login("biller@example.test")
    page = client.get(f"/items/{ids['item']}").get_data(as_text=True)
    assert "Documents" in page and "Nothing attached yet." in page
    note = pdf_bytes("Progress note for the appeal")
    done = upload(client, "item", ids["item"], note, "Progress Note.pdf", page)
    assert done.status_code == 200 and "Attached Progress Note.pdf." in done.get_data(as_text=True)
    with app.app_context():
        document = db.session.scalars(select(Document)).one()
        assert (document.content_type, document.size, document.target_type) == ("application/pdf", len(note), "item")
        stored = Path(app.instance_path) / "documents" / document.storage_key
        assert stored.read_bytes() == note and "Progress" not in document.storage_key
        logged = db.session.scalars(select(Interaction).where(Interaction.kind == "document")).one()
        assert logged.work_item_id == ids["item"] and "Progress Note.pdf" in logged.body
        document_id = document.id
    got = client.get(f"/documents/{document_id}")
    assert got.status_code == 200 and got.data == note and got.mimetype == "application/pdf"
    with app.app_context():
        reads = db.session.scalars(select(AuditEvent).where(AuditEvent.target_type == "document",
                                                            AuditEvent.action == "phi_view")).all()  # fmt: skip
        assert [(r.target_id, r.patient_id) for r in reads] == [(str(document_id), ids["patient"])]


def test_a_disguised_file_is_refused_and_nothing_is_stored(app, client) -> None:  # noqa: ANN001
    ids = world(app)
    AuthActions(client).login("biller@example.test")
    page = client.get(f"/items/{ids['item']}").get_data(as_text=True)
    done = upload(client, "item", ids["item"], b"<html><script>alert(1)</script>", "scan.pdf", page)
    assert "file: not a PDF, PNG, JPEG or TIFF file" in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert not (Path(app.instance_path) / "documents").exists() or not any(
        p.is_file() for p in (Path(app.instance_path) / "documents").rglob("*")
    )


def test_another_practices_biller_can_neither_attach_nor_read(app, client) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        target = services.target("claim", ids["claim"], {db.session.get(Appeal, ids["appeal"]).practice_id})
        document = services.attach(to=target, filename="eob.png", data=image_bytes("PNG"), user=None, now=NOW)
        db.session.commit()
        document_id = document.id
    AuthActions(client).login("other@example.test")
    page = client.get("/queue").get_data(as_text=True)
    assert upload(client, "claim", ids["claim"], pdf_bytes("x"), "x.pdf", page).status_code == 404
    assert client.get(f"/documents/{document_id}").status_code == 404
    assert client.get(f"/appeals/{ids['appeal']}/packet.pdf?doc={document_id}").status_code == 404


def test_the_appeal_packet_is_the_letter_then_each_chosen_document(app, client) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        scope = {db.session.get(Appeal, ids["appeal"]).practice_id}
        notes = services.attach(to=services.target("appeal", ids["appeal"], scope), filename="notes.pdf",
                                data=pdf_bytes("Session notes", pages=2), user=None, now=NOW)  # fmt: skip
        fax = services.attach(to=services.target("claim", ids["claim"], scope), filename="auth fax.tif",
                              data=image_bytes("TIFF", frames=2), user=None, now=NOW)  # fmt: skip
        services.attach(to=services.target("patient", ids["patient"], scope), filename="id card.jpg",
                        data=image_bytes("JPEG"), user=None, now=NOW)  # fmt: skip
        db.session.commit()
        notes_id, fax_id = notes.id, fax.id
    AuthActions(client).login("biller@example.test")
    appeal_page = client.get(f"/appeals/{ids['appeal']}").get_data(as_text=True)
    assert "notes.pdf" in appeal_page and "auth fax.tif" in appeal_page and "id card.jpg" in appeal_page
    packet = client.get(f"/appeals/{ids['appeal']}/packet.pdf?doc={notes_id}&doc={fax_id}")
    assert packet.status_code == 200 and packet.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(packet.data))
    letter_pages = len(PdfReader(io.BytesIO(client.get(f"/appeals/{ids['appeal']}/letter.pdf").data)).pages)
    assert len(reader.pages) == letter_pages + 2 + 2  # two pages of notes, two TIFF frames; the ID card not chosen
    assert "Session notes page 2" in reader.pages[letter_pages + 1].extract_text()
    with app.app_context():
        pdf_reads = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.target_type == "document", AuditEvent.action == "pdf"))  # fmt: skip
        assert pdf_reads == 2


def test_a_bad_upload_through_the_service_names_the_field(app) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        scope = {db.session.get(Appeal, ids["appeal"]).practice_id}
        with pytest.raises(ValidationFailed, match="file: not a PDF"):
            services.attach(to=services.target("patient", ids["patient"], scope), filename="x.pdf", data=b"GIF89a",
                            user=None, now=NOW)  # fmt: skip
        assert services.target("patient", ids["patient"], {-1}) is None
        assert services.target("spreadsheet", ids["patient"], scope) is None


def test_an_upload_whose_transaction_rolls_back_leaves_no_file(app) -> None:  # noqa: ANN001
    ids = world(app)
    with app.app_context():
        scope = {db.session.get(Appeal, ids["appeal"]).practice_id}
        document = services.attach(to=services.target("claim", ids["claim"], scope), filename="eob.png",
                                   data=image_bytes("PNG"), user=None, now=NOW)  # fmt: skip
        stored = Path(app.instance_path) / "documents" / document.storage_key
        assert stored.is_file()
        db.session.rollback()
        assert not stored.exists() and db.session.scalar(select(func.count()).select_from(Document)) == 0
