"""The client's monthly report as a PDF (every page with its footer, no blank trailing page: backoffice.pdf)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from backoffice.pdf import Document
from backoffice.reports import rules
from backoffice.reports.client import ClientReport, step_label


def amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def percent(value: Decimal | None) -> str:
    return "" if value is None else f"{value}%"


def report_pdf(report: ClientReport, *, organization_name: str, created: datetime) -> bytes:
    """The report's sections in the order of the page."""
    money = report.money
    doc = Document(f"Monthly report {report.month}: {report.practice.name}",
                   subtitle=f"Prepared by {organization_name}. {report.first.isoformat()} to "
                            f"{report.last.isoformat()} ({report.practice.timezone}).",
                   footer=f"{report.practice.name} - monthly report {report.month}")  # fmt: skip
    doc.heading("Money")
    doc.table(["Figure", "Amount"], [[label, amount(value)] for label, value in report.money_rows()], widths=[120, 50])
    reconciled = money.end_ar == money.rolled
    gap = amount(money.end_ar - money.rolled)
    doc.paragraph("Reconciles to the cent." if reconciled else f"Does not reconcile: {gap}")
    doc.paragraph("A/R at start + charges - payments - contractual - write-offs - refunds + other = A/R at end.")
    doc.heading("Denials by root cause")
    if report.denials:
        doc.table(["Root cause (CARC family)", "Whose to fix", "Claims", "Denied"],
                  [[row.family.replace("_", " "), rules.OWNER_LABELS[row.owner], str(row.claims), amount(row.amount)]
                   for row in report.denials], widths=[70, 40, 25, 35])  # fmt: skip
        doc.table(["Whose to fix", "Claims", "Denied"],
                  [[rules.OWNER_LABELS[o], str(n), amount(a)] for o, n, a in report.denials_by_owner()],
                  widths=[70, 40, 60])  # fmt: skip
    else:
        doc.paragraph("No denials were posted this month.")
    doc.heading("SLA attainment for the steps we own")
    if report.contract is None:
        doc.paragraph("No client contract is in force this month.")
    elif report.sla:
        doc.table(["Step", "Promised (hours)", "Completed", "On time", "Attainment"],
                  [[step_label(r.step), str(r.promised_hours) if r.promised_hours else "none promised",
                    str(r.completed), str(r.on_time), percent(r.attainment)] for r in report.sla],
                  widths=[55, 35, 25, 25, 30])  # fmt: skip
    else:
        doc.paragraph("The contract names no steps we own.")
    doc.heading("Waiting on the practice")
    if report.waiting:
        doc.table(["Item", "Request", "Claim", "Since", "Due"],
                  [[f"#{w.item_id}", step_label(w.kind), w.claim or "", w.since.date().isoformat(),
                    w.due_at.date().isoformat() if w.due_at else ""] for w in report.waiting],
                  widths=[20, 50, 40, 30, 30])  # fmt: skip
    else:
        doc.paragraph("Nothing is waiting on the practice.")
    return doc.render(created=created)
