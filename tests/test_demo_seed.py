"""The demo seed: one seeded organization checked the way a billing expert would, plus its pure generators.

Seeding takes ~20 s, so one test seeds once and asserts many facts (the ``app`` fixture wipes the data after
each test, so a module-scoped seed would not survive).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select

from backoffice.accounts.models import User
from backoffice.accounts.services import authenticate
from backoffice.claims.models import Claim
from backoffice.claims.rules import ClaimStatus
from backoffice.demo import data
from backoffice.demo.seed import BILLED_SESSIONS, DEMO_LOGINS, DEMO_ORG_SLUG, LIVE_SESSIONS, DemoSummary, seed_demo
from backoffice.exchange.models import ClaimSubmission
from backoffice.extensions import db
from backoffice.orgs.models import Organization, Payer, Practice, Provider
from backoffice.orgs.rules import PRESCRIBERS, npi_is_valid
from backoffice.patients.models import Authorization, Coverage, Patient
from backoffice.portal.models import PracticeRequest
from backoffice.remits.models import Remittance
from backoffice.sessions.models import Modality, PatientLocation, ServiceKind, Session
from backoffice.work import queries
from backoffice.work.models import Interaction, WorkItem
from backoffice.work.rules import PLANNED_KINDS, ItemState, Mode, WorkKind
from tests.conftest import PinnedClock

NOW = datetime(2026, 11, 18, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
MBI_RE = re.compile(
    r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
)
ICD10_RE = re.compile(r"^[A-Z][0-9][0-9A-Z]\.[0-9A-Z]{1,4}$")  # billable codes carry a dot (no bare categories)
OPEN = [ItemState.READY, ItemState.IN_PROGRESS, ItemState.SNOOZED]


def _all(model: type) -> list:
    return list(db.session.scalars(select(model)))


# The seed is dated by its ``now``: any day gives the same shape relative to it (a Wednesday, the next leap day,
# a new year's eve years on, late in the evening).
SEED_DAYS = [
    NOW,
    datetime(2028, 2, 29, 15, 0, tzinfo=UTC),
    datetime(2030, 12, 31, 23, 30, tzinfo=UTC),
]


@pytest.mark.parametrize("now", SEED_DAYS, ids=lambda at: f"{at:%Y-%m-%d}")
def test_the_demo_seed_builds_a_realistic_organization_with_work_in_every_state(
    ctx: Flask, clock_pin: PinnedClock, now: datetime
) -> None:
    clock_pin.set(now)  # the demo command seeds at the clock's now; so does this test
    global_random = random.getstate()
    summary = seed_demo(now=now)
    assert random.getstate() == global_random, "the seed must use its own random.Random, never the global one"

    _check_reference_data()
    _check_patients_and_coverages(now)
    _check_sessions(now)
    _check_work_items(now)
    _check_billed_claims()
    _check_logins_and_queues(now)
    _check_summary(summary)


def _check_billed_claims() -> None:
    """The billed part of the history went through the real pipeline: submitted to the Sandbox payer, answered and
    posted, with denials on work items that carry their CARC, family and dollars."""
    claims = [c for c in _all(Claim) if not c.account_number.startswith("DEMO-APL-")]  # the appeals demo's own
    status = Counter(c.status for c in claims)
    assert len(claims) >= 35 and status[ClaimStatus.PAID] >= 15 and status[ClaimStatus.DENIED] >= 3, status
    assert db.session.scalar(select(func.count()).select_from(Remittance)) >= 15
    assert db.session.scalar(select(func.count()).select_from(ClaimSubmission)) >= 35
    denials = [i for i in _all(WorkItem) if i.kind == "work_denial"]
    assert denials and all(i.claim_id and i.reason_code and i.denial_family and i.amount > 0 for i in denials)


def _check_reference_data() -> None:
    org = db.session.scalars(select(Organization)).one()
    assert (org.slug, org.name) == (DEMO_ORG_SLUG, "Summit Behavioral Billing")
    practices = {p.slug: p for p in _all(Practice)}
    assert set(practices) == {"calm-mind", "bright-path", "harbor-family"}
    for practice in practices.values():
        assert npi_is_valid(practice.group_npi) and practice.group_npi.startswith("2")
        assert re.fullmatch(r"[0-9]{9}", practice.tax_id) and re.fullmatch(r"[0-9]{9}", practice.zip_code)
        assert practice.taxonomy in ("261QM0801X", "193200000X")
        assert ZoneInfo(practice.timezone) and practice.address_line1
    assert len({p.timezone for p in practices.values()}) == 3
    assert "verify_benefits" not in practices["harbor-family"].owned_steps  # the practice verifies itself
    assert practices["harbor-family"].sla_overrides["enter_charge"] == 2

    providers = _all(Provider)
    assert 9 <= len(providers) <= 12
    assert all(npi_is_valid(p.npi) and p.npi.startswith("1") for p in providers)
    assert len({p.npi for p in providers}) == len(providers)
    assert all(p.taxonomy == data.TAXONOMY[p.credential.value] for p in providers)
    assert Counter(p.practice.slug for p in providers)["bright-path"] >= 3
    bright_path = {p.credential.value for p in providers if p.practice.slug == "bright-path"}
    assert {"MD", "NP", "PA", "PsyD"} <= bright_path

    associates = [p for p in providers if p.supervising_provider_id is not None]
    assert [(a.last_name, a.supervising_provider.last_name) for a in associates] == [("Nandakumar", "Abernathy")]

    payers = _all(Payer)
    assert len(payers) == 9
    (mco,) = [p for p in payers if p.kind == "medicaid_managed_care"]  # HCPCS with HO/AJ/HE, associates in 2310D
    assert mco.coding_policy["crosswalk"]["90837"] == "H0004"
    assert mco.coding_policy["associate_billing"] == "supervisor_2310d"
    medicare = [p for p in payers if p.kind == "medicare"]
    assert len(medicare) == 1
    assert (medicare[0].filing_limit_days, medicare[0].appeal_window_days) == (365, 120)
    assert medicare[0].telehealth_policy == {
        "video_modifier": None,
        "audio_only_modifier": "93",
        "home_pos": "10",
        "other_pos": "02",
    }
    medicaid = [p for p in payers if p.kind == "medicaid"]
    assert len(medicaid) == 1 and medicaid[0].filing_limit_days == 180
    assert "90837" in medicaid[0].prior_auth_cpts
    assert any(p.kind == "behavioral_health_carve_out" and "90847" in p.prior_auth_cpts for p in payers)
    assert sum(p.kind == "commercial" for p in payers) >= 4


def _check_patients_and_coverages(now: datetime) -> None:
    patients = _all(Patient)
    assert len(patients) == 200
    assert len({(p.practice_id, p.account_number) for p in patients}) == 200
    coverages = _all(Coverage)
    primaries = [c for c in coverages if c.priority == "primary"]
    assert len(primaries) == 200  # exactly one primary each
    secondary_share = sum(c.priority == "secondary" for c in coverages) / 200
    assert 0.08 <= secondary_share <= 0.25
    for coverage in coverages:
        if coverage.payer.kind == "medicare":
            assert MBI_RE.match(coverage.member_id), coverage.member_id
            born = coverage.patient.date_of_birth
            assert (now.date() - born).days >= 65 * 365, "Medicare Part B patients are 65 or older"
            assert coverage.effective_from >= born.replace(year=born.year + 65, day=1)
        assert coverage.is_active_on(now.date() - timedelta(days=60))
        if coverage.relationship_to_subscriber != "18":
            assert coverage.subscriber_first_name and coverage.subscriber_last_name
            assert coverage.subscriber_date_of_birth and coverage.subscriber_sex
    assert any(c.relationship_to_subscriber == "19" for c in coverages), "some dependents on a parent's plan"

    authorizations = _all(Authorization)
    assert 3 <= len(authorizations) <= 40
    assert any(a.remaining <= 2 for a in authorizations), "some authorizations are nearly exhausted"
    for auth in authorizations:
        payer = db.session.get(Payer, auth.payer_id)
        assert set(auth.cpt_codes) <= set(payer.prior_auth_cpts) and auth.used <= auth.authorized
        assert auth.start_date <= now.date() <= auth.end_date


def _check_sessions(now: datetime) -> None:
    sessions = _all(Session)
    assert len(sessions) == 500
    for session in sessions:
        assert now.date() - timedelta(days=60) <= session.date_of_service < now.date()
        assert session.date_of_service.weekday() < 5
        local_received = session.received_at.astimezone(ZoneInfo(session.practice.timezone))
        assert session.date_of_service <= local_received.date() and session.received_at <= now
        assert 1 <= len(session.diagnoses) <= 3 and all(ICD10_RE.match(code) for code in session.diagnoses)
        assert session.diagnoses[0].startswith("F"), "a Z-code never goes first"
        assert 0 <= session.screening_count <= 2
        if session.modality == Modality.IN_PERSON:
            assert session.patient_location == PatientLocation.OFFICE
        if session.modality == Modality.AUDIO_ONLY:
            assert session.patient_location == PatientLocation.HOME
        kind = session.service_kind
        e_and_m = kind in (ServiceKind.EM_ONLY, ServiceKind.EM_WITH_PSYCHOTHERAPY)
        assert (session.em_code is not None) == e_and_m
        if e_and_m or kind == ServiceKind.INTAKE_MEDICAL:
            assert session.provider.credential in PRESCRIBERS, "only prescribers bill E/M and 90792"
        if kind in (ServiceKind.PSYCHOTHERAPY, ServiceKind.EM_WITH_PSYCHOTHERAPY):
            assert session.minutes >= 16
        if kind in (ServiceKind.FAMILY_WITH_PATIENT, ServiceKind.FAMILY_WITHOUT_PATIENT):
            assert session.minutes >= 26
        if session.interactive_complexity:
            assert kind not in (ServiceKind.CRISIS, ServiceKind.FAMILY_WITH_PATIENT, ServiceKind.EM_ONLY)
        if session.auth_number:
            auth = db.session.scalars(select(Authorization).where(Authorization.number == session.auth_number)).one()
            assert auth.patient_id == session.patient_id and auth.start_date <= session.date_of_service
    refs = {(s.practice.slug, s.external_ref) for s in sessions}
    assert len(refs) == 500 and all(re.fullmatch(r"(CM|BP|HF)-[0-9]{6}", ref) for _, ref in refs)
    kinds = {(s.practice.slug, s.service_kind) for s in sessions}
    assert ("calm-mind", ServiceKind.PSYCHOTHERAPY) in kinds and ("calm-mind", ServiceKind.INTAKE) in kinds
    assert ("bright-path", ServiceKind.EM_WITH_PSYCHOTHERAPY) in kinds and ("bright-path", ServiceKind.EM_ONLY) in kinds
    assert ("harbor-family", ServiceKind.FAMILY_WITH_PATIENT) in kinds and ("harbor-family", ServiceKind.GROUP) in kinds
    modality = Counter(s.modality for s in sessions)
    assert 0.45 <= modality[Modality.IN_PERSON] / 500 <= 0.65 and 0.02 <= modality[Modality.AUDIO_ONLY] / 500 <= 0.12
    assert any(s.auth_number for s in sessions) and any(s.interactive_complexity for s in sessions)


def _check_work_items(now: datetime) -> None:
    items = _all(WorkItem)
    # Billing plans its sessions at the seed's now; the replayed history planned every chain at its own moment.
    billed = {s.id for s in _all(Session) if s.planned_at == now}
    assert len(billed) == BILLED_SESSIONS
    assert {i.session_id for i in items if i.mode == Mode.AUTOMATED and i.session_id} <= billed
    assert not any(i.mode == Mode.AUTOMATED and i.state in (ItemState.READY, ItemState.IN_PROGRESS) for i in items)
    assert all(item.updated_at <= now for item in items)
    assert db.session.scalar(select(func.max(Interaction.at))) <= now, "nothing happens after the seed's now"
    by_session: dict[int, list[WorkItem]] = {}
    for item in (item for item in items if item.session_id is not None):  # not the balances demo's patient items
        by_session.setdefault(item.session_id, []).append(item)
    sessions = {s.id: s for s in _all(Session)}
    live = {s.id for s in sessions.values() if s.planned_at is None}
    assert len(live) == LIVE_SESSIONS, "the newest sessions are left for the running demo's intake flow"
    assert set(by_session) == set(sessions) - live, "every other session has its chain"
    primary = {c.patient_id: c.payer for c in _all(Coverage) if c.priority == "primary"}
    insurer_steps = {WorkKind.VERIFY_BENEFITS, WorkKind.OBTAIN_PREAUTH, WorkKind.SUBMIT, WorkKind.FOLLOW_UP}
    for session_id, chain in by_session.items():
        session = sessions[session_id]
        planned = {item.kind for item in chain} & PLANNED_KINDS
        owned = set(session.practice.owned_steps) - {WorkKind.APPEAL}
        # History and billing plan like live intake: only owned steps, and only the ones needed.
        assert planned <= owned
        payer = primary[session.patient_id]
        if payer.kind == "self_pay":  # no insurer to verify, authorize, bill or chase: the charge only
            assert not planned & insurer_steps, (session_id, planned)
        if WorkKind.OBTAIN_PREAUTH in planned:  # the payer asks for auth and none on file covered the visit
            assert set(payer.prior_auth_cpts) and not session.auth_number, session_id
        if WorkKind.ENTER_CHARGE in owned:
            assert WorkKind.ENTER_CHARGE in planned
        if session.received_at > now - timedelta(days=2):  # recent: still at the first step
            assert sum(item.state != ItemState.BLOCKED for item in chain) == 1
            assert not any(item.state == ItemState.DONE for item in chain)
    states = Counter(item.state for item in items)
    assert states[ItemState.DONE] > len(items) / 2 and states[ItemState.READY] >= 100
    assert states[ItemState.SNOOZED] >= 3 and states[ItemState.IN_PROGRESS] >= 3
    assert any(item.snoozed_until and item.snoozed_until > now for item in items)
    assert any(item.escalated_at and item.state in OPEN for item in items)
    assert any(item.kind == WorkKind.APPEAL for item in items)
    # Open work is weeks old at most, never years: the history spans 60 days before ``now``.
    open_due = [item.due_at for item in items if item.state in OPEN and item.due_at is not None]
    assert open_due and min(open_due) >= now - timedelta(days=70), min(open_due)

    done_logged = set(
        db.session.scalars(select(Interaction.work_item_id).where(Interaction.to_state == ItemState.DONE.value))
    )
    assert {item.id for item in items if item.state == ItemState.DONE} <= done_logged
    calls = list(db.session.scalars(select(Interaction).where(Interaction.kind == "call")))
    assert len(calls) >= 50
    answered = [call for call in calls if call.outcome != "voicemail"]
    assert all(call.representative and re.fullmatch(r"REF-[0-9]{4}-[0-9]{2}-[0-9]{5}", call.reference_number)
               for call in answered)  # fmt: skip
    assert all(call.payer_id for call in answered)
    assert {"paid", "denied", "benefits_confirmed"} <= {call.outcome for call in calls}


def _check_logins_and_queues(now: datetime) -> None:
    assert [role for _, _, role in DEMO_LOGINS] == ["biller", "biller", "biller", "supervisor", "admin", "practice"]
    waiting = _all(PracticeRequest)  # Calm Mind's front desk finds one request in its portal, its item paused
    assert len(waiting) == 1 and waiting[0].answered_at is None and waiting[0].origin.state == ItemState.BLOCKED
    for email, password, role in DEMO_LOGINS:
        assert len(password) >= 10
        user = authenticate(email=email, password=password, now=now, remote_addr=None)
        assert user is not None and user.role == role, email
    users = {u.email: u for u in _all(User)}
    supervisor = users["supervisor@summit.example"]
    for number in (1, 2, 3):
        biller = users[f"biller{number}@summit.example"]
        mine = queries.my_items(biller)
        assert any(item.state == ItemState.READY for item in mine), f"biller{number} has ready items assigned"
        assert any(item.state == ItemState.IN_PROGRESS for item in mine)
        assert len(queries.team_items(biller)) >= 5, f"Get next has work for biller{number}"
    assert {p.slug for p in users["biller1@summit.example"].practices} == {"calm-mind", "bright-path"}
    assert users["biller2@summit.example"].queues == sorted(["coding", "submission", "follow-up", "denials"])
    breached = queries.breached_items(supervisor, now)
    assert 5 <= len(breached) <= 100, "some items are past their SLA, not most of them"
    assert queries.escalated_items(supervisor)


def _check_summary(summary: DemoSummary) -> None:
    assert (summary.practices, summary.payers, summary.patients, summary.sessions, summary.users) == (3, 9, 200, 500, 6)
    assert summary.work_items == db.session.scalar(select(func.count()).select_from(WorkItem))
    assert summary.interactions == db.session.scalar(select(func.count()).select_from(Interaction))
    text = summary.describe()
    assert "500 sessions" in text and len(text.splitlines()) >= 3
    assert not any(p.last_name in text for p in _all(Patient)), "the summary has counts, never patient names"


# --- Pure generators: no app, no database ---------------------------------------------------------------------


def test_generated_medicare_ids_are_mbis_and_other_member_ids_have_their_payers_shape() -> None:
    rng = random.Random(7)
    assert all(MBI_RE.match(data.make_mbi(rng)) for _ in range(2000))
    assert re.fullmatch(r"W[0-9]{9}", data.make_member_id(rng, "AETNA"))  # Aetna
    assert re.fullmatch(r"U[0-9]{8}01", data.make_member_id(rng, "CIGNA"))  # Cigna
    assert re.fullmatch(r"[A-Z]{3}[0-9]{9}", data.make_member_id(rng, "BCBS"))


def test_generators_are_deterministic_for_a_given_rng_seed() -> None:
    def sample(seed: int) -> list:
        rng = random.Random(seed)
        spec = data.PRACTICES[0]
        patients = [data.patient_fields(rng, spec, n, NOW.date()) for n in range(20)]
        visits = [data.visit_fields(rng, spec["slug"], "LCSW", n == 0, True) for n in range(20)]
        return [patients, visits, [data.payer_ids(rng, age) for age in (30, 70)]]

    assert sample(2026) == sample(2026)
    assert sample(2026) != sample(2027)
