"""The demo's 60 days of work history, replayed through the real work services, each call made at the
simulated moment it happened (never after ``now``)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backoffice.accounts.models import User
from backoffice.accounts.rules import Role
from backoffice.coding.rules import LineDraft, SessionFacts, code_session
from backoffice.demo import data
from backoffice.extensions import db
from backoffice.intake.planning import plan_of
from backoffice.orgs.models import Payer
from backoffice.scrubber.queries import payer_facts
from backoffice.sessions.models import Session
from backoffice.work import chains, claiming
from backoffice.work import services as work
from backoffice.work.models import WorkItem
from backoffice.work.rules import CallOutcome, CompletionOutcome, WorkKind

UNTOUCHED = timedelta(days=2)  # sessions received this recently are still at their first step
MARGIN = timedelta(hours=2)  # a step starts this long before ``now`` at the latest, so it also ends before it


def coded_lines(session: Session, credential: str, payer: Payer) -> tuple[LineDraft, ...]:
    """The session's claim lines from the coding engine under the payer's rules (the demo codes nothing itself)."""
    facts = SessionFacts(
        service=str(session.service_kind), minutes=session.minutes, em_code=session.em_code,
        modality=str(session.modality), patient_location=str(session.patient_location),
        interactive_complexity=bool(session.interactive_complexity), screenings=session.screening_count or 0,
        diagnoses=tuple(session.diagnoses), credential=credential, date_of_service=session.date_of_service,
    )  # fmt: skip
    return code_session(facts, payer_facts(payer).rules).lines


@dataclass
class Plan:
    """One session to replay, with what its row does not say: primary payer, CPT lines and time zone."""

    session: Session
    payer: Payer
    cpts: list[str]
    tz: ZoneInfo


@dataclass
class _Open:
    item_id: int
    practice_id: int
    queue: str
    ready_at: datetime


class Staff:
    """The demo users, and which billers work a queue of a practice."""

    def __init__(self, users: list[User]) -> None:
        self.billers = [user for user in users if user.role == Role.BILLER]
        self.supervisor = next(user for user in users if user.role == Role.SUPERVISOR)
        self._scope = {user.id: {p.id for p in user.practices} for user in self.billers}

    def serves(self, user: User, practice_id: int, queue: str) -> bool:
        """Whether ``user`` works ``queue`` for this practice."""
        return practice_id in self._scope[user.id] and queue in user.queues

    def for_queue(self, practice_id: int, queue: str) -> list[User]:
        """The billers who work this queue of this practice (the supervisor if nobody does)."""
        return [user for user in self.billers if self.serves(user, practice_id, queue)] or [self.supervisor]


class History:
    """Plans each session's chain when it arrived and works it step by step at simulated moments."""

    def __init__(self, rng: random.Random, now: datetime, staff: Staff) -> None:
        self.rng, self.now, self.staff = rng, now, staff
        self.open: list[_Open] = []  # items left ready, for this morning's activity
        self.verified: dict[int, datetime] = {}  # patient -> last eligibility check
        self.refs = itertools.count(1001)

    def replay(self, plans: list[Plan], *, live: int = 0) -> None:
        """Work every session in arrival order, then this morning's activity. ``live`` sessions, spread evenly over
        the window, are left unplanned: the running demo's intake flow plans them and the workers automate them."""
        ordered = sorted(plans, key=lambda p: (p.session.received_at, p.session.id))
        left = {id(plan) for plan in ordered[:: max(len(ordered) // live, 1)][:live]} if live else set()
        for plan in ordered:
            if id(plan) not in left:
                self._session(plan)
        self._today()

    def _session(self, plan: Plan) -> None:
        session = plan.session
        session.planned_at = session.received_at
        kinds = plan_of(session, now=session.received_at).kinds  # what live intake plans (self-pay: charge only)
        if not kinds:
            return
        chain = chains.create_chain(session=session, kinds=kinds, now=session.received_at)
        at: datetime | None = session.received_at
        for item in chain:
            assert at is not None
            days = self.rng.randint(14, 21) if item.kind == WorkKind.FOLLOW_UP else self._lag()
            when = data.work_moment(self.rng, at, plan.tz, days)
            if session.received_at > self.now - UNTOUCHED or when > self.now - MARGIN:
                self.open.append(_Open(item.id, item.practice_id, item.queue, at))
                return
            user = self.rng.choice(self.staff.for_queue(item.practice_id, item.queue))
            at = getattr(self, f"_{item.kind}")(item, plan, user, when)
            if at is None:
                return

    def _verify_benefits(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        last = self.verified.get(plan.session.patient_id)
        if last is not None and when - last < timedelta(days=30):
            note = f"Eligibility verified {last:%b %d}; re-verification not due yet."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note)
        copay = self.rng.choice([0, 20, 25, 30, 40, 50])
        if self.rng.random() < 0.3:
            body = f"Active; outpatient BH in network, copay ${copay}, no visit limit."
            when = self._call(item, plan, user, when, CallOutcome.BENEFITS_CONFIRMED, body=body)
        self.verified[plan.session.patient_id] = when
        result = {"eligible": True, "copay": copay}
        return self._done(item, user, when, CompletionOutcome.RESOLVED, "Active coverage confirmed (271).", result)

    def _obtain_preauth(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        number = plan.session.auth_number
        if not set(plan.cpts) & set(plan.payer.prior_auth_cpts):
            note = f"{plan.payer.name} requires no prior auth for {plan.cpts[0]}."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note)
        if self.rng.random() < 0.3:
            body = f"Auth {number} active; remaining visits confirmed."
            when = self._call(item, plan, user, when, CallOutcome.AUTH_APPROVED, body=body)
        note, result = f"Auth {number} on file and in date.", {"auth_number": number}
        return self._done(item, user, when, CompletionOutcome.RESOLVED, note, result)

    def _enter_charge(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        if self.rng.random() < 0.06:
            note = "Progress note was unsigned in the EHR; clinician signed it today."
            work.add_note(item=item, actor=user, now=when, body=note)
            when += timedelta(minutes=self.rng.randint(30, 120))
        lines = coded_lines(plan.session, str(plan.session.provider.credential), plan.payer)
        result = {
            "lines": [{"cpt": x.cpt, "modifiers": list(x.modifiers), "units": x.units, "pos": x.pos} for x in lines]
        }
        return self._done(item, user, when, CompletionOutcome.RESOLVED, None, result)

    def _audit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        edited = self.rng.random() < 0.08
        note = self.rng.choice(data.AUDIT_FINDINGS) if edited else "Scrubber passed; no edits."
        return self._done(item, user, when, CompletionOutcome.RESOLVED, note, {"edited": edited})

    def _submit(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime:
        batch = f"837P-{when.astimezone(plan.tz):%Y%m%d}-{item.practice_id:02d}"
        return self._done(
            item, user, when, CompletionOutcome.RESOLVED, f"Sent in {batch}; 999 accepted.", {"batch": batch}
        )

    def _follow_up(self, item: WorkItem, plan: Plan, user: User, when: datetime) -> datetime | None:
        """The first status check, ~30 days after submission (9.2); denials go on to an appeal."""
        outcome = self.rng.choices(["era", "paid", "pending", "denied", "lost"], weights=[45, 30, 10, 10, 5])[0]
        paid = {"claim_status": "paid"}
        if outcome == "era":
            note = "ERA posted: paid per contract; no status call needed."
            return self._done(item, user, when, CompletionOutcome.NOT_NEEDED, note, paid)
        if outcome == "paid":
            when = self._call(item, plan, user, when, CallOutcome.PAID, body="Paid; EFT trace number noted.")
            return self._done(item, user, when, CompletionOutcome.RESOLVED, None, paid)
        if outcome == "lost":
            when = self._call(item, plan, user, when, CallOutcome.NO_CLAIM_ON_FILE, next_action="Resubmit")
            note = "Resubmitted electronically; kept the 999 acceptance as proof of timely filing."
            return self._done(item, user, when, CompletionOutcome.RESOLVED, note, {"claim_status": "resubmitted"})
        if outcome == "denied":
            reason, family = self.rng.choice(
                data.APPEALABLE_DENIALS + [data.AUTH_DENIAL] * bool(plan.session.auth_number)
            )
            when = self._call(item, plan, user, when, CallOutcome.DENIED, body=reason, next_action="Appeal")
            note = f"Denied ({family}); routed to the denials queue."
            self._done(item, user, when, CompletionOutcome.HANDED_OFF, note, {"claim_status": "denied"})
            return self._appeal(plan, when)
        when = self._call(item, plan, user, when, CallOutcome.IN_PROCESS, next_action="Check again in two weeks")
        retry = data.work_moment(self.rng, when, plan.tz, 10)
        if retry < self.now - MARGIN:
            retry = self._call(item, plan, user, retry, CallOutcome.PAID, body="Paid after review.")
            return self._done(item, user, retry, CompletionOutcome.RESOLVED, None, paid)
        until = max(retry, self.now + timedelta(days=1))
        work.snooze_item(item=item, actor=user, now=when, until=until, reason=data.SNOOZE_REASONS[0])
        return None

    def _appeal(self, plan: Plan, denied_at: datetime) -> None:
        appeal = chains.create_chain(session=plan.session, kinds=[WorkKind.APPEAL], now=denied_at)[0]
        when = data.work_moment(self.rng, denied_at, plan.tz, self.rng.randint(1, 6))
        if when > self.now - MARGIN:
            self.open.append(_Open(appeal.id, appeal.practice_id, appeal.queue, denied_at))
            return
        user = self.rng.choice(self.staff.for_queue(appeal.practice_id, appeal.queue))
        note = "Appeal letter drafted with progress notes, treatment plan and auth history."
        work.add_note(item=appeal, actor=user, now=when, body=note)
        note = "Appeal submitted on the payer portal; reconsideration pending."
        self._done(appeal, user, when + timedelta(minutes=40), CompletionOutcome.RESOLVED, note)

    def _today(self) -> None:
        """This morning: the supervisor hands out work; billers start, call, escalate, snooze, and use Get next."""
        rng, now = self.rng, self.now
        pool = [o for o in self.open if o.ready_at < now - timedelta(hours=1)]
        taken: set[int] = set()
        for user in self.staff.billers:
            mine = [o for o in pool if o.item_id not in taken and self.staff.serves(user, o.practice_id, o.queue)]
            picks = rng.sample(mine, k=min(len(mine), 7))
            taken.update(o.item_id for o in picks)
            for n, choice in enumerate(picks):
                item = db.session.get(WorkItem, choice.item_id)
                at = max(choice.ready_at, now - timedelta(minutes=rng.randint(60, 360)))
                reason = rng.choice(data.ESCALATIONS)
                if n < 3:  # in the biller's queue, not started
                    supervisor = self.staff.supervisor
                    work.reassign_item(item=item, actor=supervisor, now=at, assignee=user, reason="Today's workload.")
                elif n < 5:  # in progress: one waiting on a payer call back, one escalated
                    work.start_item(item=item, actor=user, now=at)
                    if n == 3:
                        call = {"outcome": CallOutcome.VOICEMAIL, "duration_minutes": 3, "next_action": "Call back"}
                        work.log_call(item=item, actor=user, now=at + timedelta(minutes=4), **call)
                    else:
                        work.escalate_item(item=item, actor=user, now=at + timedelta(minutes=20), reason=reason)
                elif n == 5:
                    until, why = now + timedelta(days=rng.randint(2, 7)), rng.choice(data.SNOOZE_REASONS[1:])
                    work.snooze_item(item=item, actor=user, now=at, until=until, reason=why)
                else:  # escalated while still unassigned in the queue
                    work.escalate_item(item=item, actor=user, now=at, reason=reason)
        for user in self.staff.billers:
            claiming.claim_next_item(user=user, now=now - timedelta(minutes=rng.randint(2, 15)))

    def _done(
        self, item: WorkItem, user: User, when: datetime, outcome: str, note: str | None, result: dict | None = None
    ) -> datetime:
        work.complete_item(item=item, actor=user, now=when, outcome=outcome, note=note, result=result)
        return when

    def _call(self, item: WorkItem, plan: Plan, user: User, when: datetime, outcome: str, **fields: str) -> datetime:
        """Log a payer call at ``when``; returns when the call ended."""
        phone, minutes, rep = plan.payer.phone or "", self.rng.randint(6, 42), self.rng.choice(data.REPRESENTATIVES)
        fields |= {"phone_line": f"{phone[:3]}-{phone[3:6]}-{phone[6:]}", "representative": rep}
        fields |= {"reference_number": f"REF-{when:%Y-%m}-{next(self.refs):05d}"}
        work.log_call(
            item=item, actor=user, now=when, outcome=outcome, payer_id=plan.payer.id, duration_minutes=minutes, **fields
        )
        return when + timedelta(minutes=minutes)

    def _lag(self) -> int:
        """Business days before a step is picked up: mostly within its SLA, a tail of late ones."""
        return self.rng.choices([0, 1, 2, 3, 5], weights=[50, 33, 10, 5, 2])[0]
