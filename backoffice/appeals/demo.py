"""Demo data for appeals: the default template library (one per denial family, and levels 2 and 3 for medical
necessity), each in billing-rules §7.2's section order with §7.3's parity language where it applies; and, for a
few of the demo's appeal items, the denied claim and its appeal (some sent, some decided) so the list and the
overturn-rate report have something to show."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from backoffice.accounts.models import User
from backoffice.appeals import services
from backoffice.claims.models import Claim, ClaimLine
from backoffice.claims.rules import ClaimStatus
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer
from backoffice.patients.models import Coverage
from backoffice.remits.models import ClaimPayment, PaymentAdjustment, Remittance
from backoffice.sessions.models import Session
from backoffice.work.models import WorkItem

_HEADER = """{{ today }}

{{ payer.name }}
Appeals Department

Re: Level {{ level.number }} appeal ({{ level.title }}) — {{ request_line }} — claim {{ claim.number }}

Patient: {{ patient.name }}    Date of birth: {{ patient.dob }}    Member ID: {{ patient.member_id }}
Payer claim number: {{ claim.payer_claim_number }}    Our account: {{ claim.account_number }}
Date of service: {{ claim.date_of_service }}    Billed: {{ claim.billed }}{% if claim.denied_on %}    Denied on: \
{{ claim.denied_on }}{% endif %}
Diagnoses: {{ claim.diagnoses|join(', ') }}
{% if claim.authorization_number %}Authorization: {{ claim.authorization_number }}
{% endif %}
Services:
{% for line in lines %}  {{ line.code }} x{{ line.units }}  billed {{ line.charge }}  paid {{ line.paid }}
{% endfor %}
Denial (quoted from the remittance):
{% for d in denials %}  {{ d.code }} ({{ d.amount }}): {{ d.meaning }}
{% for r in d.remarks %}    {{ r.code }}: {{ r.meaning }}
{% endfor %}{% endfor %}
Rendering clinician: {{ provider.name }}, {{ provider.credential }}, NPI {{ provider.npi }}
Billing provider: {{ practice.name }}, NPI {{ practice.npi }}, TIN {{ practice.tax_id }}\
{% if practice.phone %}, phone {{ practice.phone }}{% endif %}

Request: {{ request_text }}

Chronology:
{% for event in chronology %}  {{ event }}
{% endfor %}
Why the denial should be overturned:
{{ argument }}
"""
_FOOTER = """{% if parity %}
Mental-health parity:
{{ parity }}
{% endif %}{% if erisa %}
{{ erisa }}
{% endif %}
Enclosed:
{% for item in attachments %}  {{ item }}
{% endfor %}{% if deadline %}
Appeal filing deadline: {{ deadline }}.
{% endif %}
Sincerely,


{{ practice.name }} billing office, on behalf of {{ provider.name }}, {{ provider.credential }}
"""


def _body(request_line: str, request_text: str, extra: str = "") -> str:
    header = _HEADER.replace("{{ request_line }}", request_line).replace("{{ request_text }}", request_text)
    return header + extra + _FOOTER


# (family, level, name, body)
DEFAULT_TEMPLATES: tuple[tuple[str, int, str, str], ...] = (
    ("medical_necessity", 1, "Medical necessity — level 1", _body(
        "request to overturn a medical-necessity denial",
        "please overturn the medical-necessity denial and reprocess the lines above for payment at the contracted "
        "rate.",
        "\nClinical summary (from the enclosed records): diagnosis and severity; symptoms and functional impairment; "
        "risk; treatment-plan goals and interventions; PHQ-9/GAD-7 scores over time; why this frequency and duration "
        "are needed and what would happen without care.\n",
    )),
    ("medical_necessity", 2, "Medical necessity — level 2", _body(
        "second-level appeal of an upheld medical-necessity denial",
        "please reverse the level-1 decision and pay the lines above; the first review did not apply generally "
        "accepted standards of care (LOCUS/CALOCUS).",
        "\nThe earlier decision did not address the enclosed treatment plan and measurement scores. We ask that a "
        "reviewer of the same specialty (behavioral health) decide this level.\n",
    )),
    ("medical_necessity", 3, "Medical necessity — external review", _body(
        "request for external review by an independent review organization",
        "please forward this claim file to an independent review organization; the plan's internal appeals are "
        "exhausted.",
        "\nThis is a medical-judgment denial, eligible for external review (ACA section 2719, 45 CFR 147.136).\n",
    )),
    ("authorization", 1, "Authorization — level 1", _body(
        "request to overturn an authorization denial",
        "please reprocess the lines above under the authorization on file, or review them retroactively.",
    )),
    ("timely_filing", 1, "Timely filing with proof — level 1", _body(
        "request to accept a timely filed claim",
        "please accept the claim as timely filed and process it for payment.",
        "\nProof of timely filing: first submitted {{ claim.submitted_on or 'see enclosed report' }}"
        "{% if claim.accepted_on %}, accepted by the payer's front end (277CA) {{ claim.accepted_on }}{% endif %}.\n",
    )),
    ("coding", 1, "Coding correction — level 1", _body(
        "request to reprocess a correctly coded claim",
        "please reprocess the lines above as billed (or as corrected on the enclosed claim).",
    )),
    ("eligibility", 1, "Eligibility — level 1", _body(
        "request to reprocess: the patient was covered",
        "please reprocess the claim under the member's coverage in force on the date of service.",
    )),
    ("credentialing", 1, "Credentialing — level 1", _body(
        "request to reprocess under the clinician's enrollment",
        "please reprocess the claim under the rendering clinician's effective enrollment.",
    )),
)  # fmt: skip

DEMO_DECIDED = 14  # finished demo appeal items: their appeals were sent, most decided
DEMO_DRAFTS = 6  # open demo appeal items: their appeals are drafts


def seed_appeals(now: datetime) -> None:
    """Default templates for the demo organization, and appeals for some of its appeal items."""

    org = db.session.scalar(select(Organization).order_by(Organization.id))
    admin = db.session.scalar(select(User).where(User.organization_id == org.id, User.role == "admin")) if org else None
    if org is None or admin is None:
        return
    for family, level, name, body in DEFAULT_TEMPLATES:
        services.save_template(actor=admin, now=now, name=name, denial_family=family, payer_id=None, level=level,
                               body=body)  # fmt: skip
    rng = random.Random(7)
    appeal_items = db.session.scalars(
        select(WorkItem)
        .where(WorkItem.kind == "appeal", WorkItem.session_id.is_not(None), WorkItem.claim_id.is_(None))
        .order_by(WorkItem.id)  # the replayed history's appeals (the billed sessions' are real, with claims)
    ).all()
    done = [item for item in appeal_items if item.state.value == "done"][:DEMO_DECIDED]
    waiting = [item for item in appeal_items if item.state.value != "done"][:DEMO_DRAFTS]
    today = now.date()
    for n, item in enumerate(done + waiting):
        claim = _denied_claim(item, now, n)
        if claim is None:
            continue
        item.claim_id = claim.id
        db.session.commit()
        when = item.created_at
        appeal = services.draft_appeal(claim=claim, now=when, today=when.date(), item=item, actor=None)
        if item not in done:
            continue
        sent_on = min(when.date() + timedelta(days=rng.randint(1, 5)), today)
        services.mark_sent(appeal=appeal, actor=admin, now=now, sent_on=sent_on, method=rng.choice(["portal", "fax"]),
                           reference=f"APL-{1000 + n}", late_reason="demo history")  # fmt: skip
        if sent_on >= today - timedelta(days=2) or n % 5 == 4:
            continue  # still waiting for the payer
        decided_on = min(sent_on + timedelta(days=rng.randint(10, 40)), today - timedelta(days=1))
        outcome = rng.choice(["overturned", "overturned", "partial", "upheld"])
        recovered = (appeal.amount / 2).quantize(Decimal("0.01")) if outcome == "partial" else None
        services.record_outcome(appeal=appeal, actor=admin, now=now, outcome=outcome, decided_on=decided_on,
                                recovered=recovered)  # fmt: skip


def _denied_claim(item: WorkItem, now: datetime, n: int) -> Claim | None:
    """A denied claim (CO-50) for the appeal item's session, with the remittance that denied it."""
    session = db.session.get(Session, item.session_id)
    if session is None:
        return None
    coverage = db.session.scalar(select(Coverage).where(Coverage.patient_id == session.patient_id))
    if coverage is None:
        return None
    payer = db.session.get(Payer, coverage.payer_id)
    if payer is None or payer.kind == "self_pay":
        return None  # nothing to appeal to
    group, _, carc = (item.reason_code or "CO-50").partition("-")  # what the supervisor demo put on the item
    charge = item.amount or Decimal("165.00")
    denied_at = item.created_at or now
    claim = Claim(
        practice_id=session.practice_id, session_id=session.id, patient_id=session.patient_id, payer_id=payer.id,
        coverage_id=coverage.id, account_number=f"DEMO-APL-{session.id}", status=ClaimStatus.DENIED,
        payer_claim_number=f"ICN{26000000 + session.id}", total_charge=charge, created_at=denied_at,
        submitted_at=denied_at - timedelta(days=30), accepted_at=denied_at - timedelta(days=29),
        adjudicated_at=denied_at,
        lines=[ClaimLine(line_number=1, date_of_service=session.date_of_service, cpt="90837", modifiers=[], units=1,
                         place_of_service="11", diagnosis_pointers=[1], charge=charge)],
    )  # fmt: skip
    db.session.add(claim)
    db.session.flush()
    remittance = Remittance(
        organization_id=payer.organization_id, payer_id=payer.id, payer_identifier=payer.payer_id,
        payer_name=payer.name, trace_number=f"DEMO-EFT-{n}", payment_method="NON", payment_date=denied_at.date(),
        total_paid=Decimal("0.00"), transaction_control_number=f"{9000 + n:04d}",
        posted_at=denied_at.astimezone(UTC),
    )  # fmt: skip
    db.session.add(remittance)
    db.session.flush()
    payment = ClaimPayment(
        remittance_id=remittance.id, claim_id=claim.id, account_number=claim.account_number, status_code="4",
        charge=charge, paid=Decimal("0.00"), patient_responsibility=Decimal("0.00"),
        payer_claim_number=claim.payer_claim_number, remarks=[],
    )  # fmt: skip
    db.session.add(payment)
    db.session.flush()
    db.session.add(PaymentAdjustment(claim_payment_id=payment.id, claim_line_id=claim.lines[0].id, group=group,
                                     reason=carc or "50", amount=charge, disposition="denial", remarks=[]))  # fmt: skip
    db.session.flush()
    return claim
