"""What an unmatched 835 claim keeps (pure): its claim-level CAS and its service lines as JSON on
``ClaimPayment.unmatched_detail``, and back, so a person can apply it to a claim line by line
(``remits/unmatched.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from backoffice.x12 import era835


def _cas(adjustments: Sequence[era835.Adjustment]) -> list[list[str | None]]:
    return [[a.group, a.reason, str(a.amount), None if a.quantity is None else str(a.quantity)] for a in adjustments]


def _uncas(rows: Sequence[Sequence[str | None]]) -> tuple[era835.Adjustment, ...]:
    return tuple(era835.Adjustment(g or "", r or "", Decimal(a or "0"), None if q is None else Decimal(q))
                 for g, r, a, q in rows)  # fmt: skip


def detail(clp: era835.Claim) -> dict[str, Any]:
    """The JSON an unmatched CLP keeps: its claim-level CAS and its service lines as the 835 sent them."""
    return {
        "adjustments": _cas(clp.adjustments),
        "services": [
            {"qualifier": s.qualifier, "code": s.code, "modifiers": list(s.modifiers), "charge": str(s.charge),
             "paid": str(s.paid), "units": str(s.units), "original_code": s.original_code,
             "date": s.date.isoformat() if s.date else None, "adjustments": _cas(s.adjustments),
             "remarks": list(s.remarks), "control_number": s.control_number}
            for s in clp.services
        ],
    }  # fmt: skip


def services(kept: Mapping[str, Any] | None) -> list[era835.ServiceLine]:
    """The kept service lines (empty for a payment posted before they were kept)."""
    return [
        era835.ServiceLine(
            qualifier=s["qualifier"], code=s["code"], modifiers=tuple(s["modifiers"]), charge=Decimal(s["charge"]),
            paid=Decimal(s["paid"]), units=Decimal(s["units"]), original_code=s["original_code"],
            date=date.fromisoformat(s["date"]) if s["date"] else None, adjustments=_uncas(s["adjustments"]),
            remarks=tuple(s["remarks"]), control_number=s["control_number"],
        )
        for s in (kept or {}).get("services", [])
    ]  # fmt: skip


def claim_adjustments(kept: Mapping[str, Any] | None) -> tuple[era835.Adjustment, ...]:
    """The kept claim-level CAS."""
    return _uncas((kept or {}).get("adjustments", []))


def label(service_line: era835.ServiceLine) -> str:
    """A service line as a poster reads it: code:modifiers, date, charge and paid."""
    code = ":".join([service_line.code, *service_line.modifiers])
    day = service_line.date.isoformat() if service_line.date else "no date"
    return f"{code} {day} charge {service_line.charge:.2f} paid {service_line.paid:.2f}"
