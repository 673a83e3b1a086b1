"""An invoice as PDF and as CSV (one row per line, then one row per payment, claim or appeal behind it)."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from backoffice.contracts.models import Invoice
from backoffice.contracts.rules import InvoiceKind
from backoffice.pdf import Document

SOURCE_LABELS = {
    "claim_payment": "insurance payment",
    "patient_ledger": "patient payment or refund",
    "claim": "claim submitted",
    "appeal": "appeal sent",
    "contract": "contract (setup fee)",
}


def invoice_pdf(invoice: Invoice, *, organization_name: str, created: datetime) -> bytes:
    title = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "Invoice"
    doc = Document(f"{title} {invoice.number}", subtitle=f"{organization_name} to {invoice.practice.name}")
    doc.facts([
        ("Period", f"{invoice.period_start.isoformat()} to {invoice.period_end.isoformat()}"),
        ("Status", str(invoice.status)),
        ("Total", f"{invoice.total:,.2f}"),
        *([("Reason", invoice.reason)] if invoice.reason else []),
    ])  # fmt: skip
    doc.table(
        ["Line", "Quantity / basis", "Rate", "Amount"],
        [[line.description, f"{line.quantity:,.2f}", f"{line.rate:,.2f}", f"{line.amount:,.2f}"]
         for line in invoice.lines],
        widths=[80, 35, 25, 30],
    )  # fmt: skip
    behind = [(line, source) for line in invoice.lines for source in line.sources]
    if behind:
        doc.heading("What each line is computed from")
        doc.table(
            ["Line", "Source", "Reference", "Date", "Amount"],
            [[line.kind.value if hasattr(line.kind, "value") else str(line.kind), SOURCE_LABELS.get(s.kind, s.kind),
              f"#{s.source_id}", s.on.isoformat(), f"{s.amount:,.2f}"] for line, s in behind],
            widths=[30, 45, 30, 30, 35],
        )  # fmt: skip
    return doc.render(created=created)


def invoice_csv(invoice: Invoice) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["invoice", "line", "kind", "description", "quantity", "rate", "amount", "source_kind",
                     "source_id", "source_date", "source_amount"])  # fmt: skip
    for number, line in enumerate(invoice.lines, start=1):
        writer.writerow([invoice.number, number, str(line.kind), line.description, line.quantity, line.rate,
                         line.amount, "", "", "", ""])  # fmt: skip
        for source in line.sources:
            writer.writerow([invoice.number, number, str(line.kind), "", "", "", "", source.kind, source.source_id,
                             source.on.isoformat(), source.amount])  # fmt: skip
    return out.getvalue()
