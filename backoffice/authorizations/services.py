"""Authorizations that count: a billed claim takes units or visits from the authorization in force for its payer,
CPT and date of service; a void or a payer reversal gives them back, a repayment after a reversal takes them again.

These run inside the caller's use case (charge entry, a rejection fix, 835 posting, a void): they add rows and log
lines to its transaction and never commit. ``Authorization.used`` moves with one UPDATE ``used = used ± n`` so two
claims entered at once cannot lose a count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update

from backoffice.authorizations import queries
from backoffice.authorizations.models import AuthorizationUse
from backoffice.authorizations.rules import Line, allocate
from backoffice.claims.models import Claim
from backoffice.extensions import db
from backoffice.patients.models import Authorization
from backoffice.services_base import in_ids, is_postgres
from backoffice.work.log import record_interaction
from backoffice.work.rules import InteractionKind

REVERSAL = "payer reversal (835 CLP02 22)"


@dataclass(frozen=True, slots=True)
class _Auth:
    key: int
    number: str
    cpts: frozenset[str]
    remaining: int
    start: date
    end: date
    counts_visits: bool


def _bump(auth_id: int, delta: int) -> None:
    db.session.execute(
        update(Authorization).where(Authorization.id == auth_id).values(used=Authorization.used + delta)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    auth = db.session.get(Authorization, auth_id)
    if auth is not None:  # keep the loaded row in step without a refresh query
        db.session.expire(auth, ["used"])


def take_units_for_claim(*, claim: Claim, now: datetime, actor_label: str = "authorizations") -> dict[str, int]:
    """Record what ``claim``'s lines take from its payer's authorizations (after giving back what an earlier version
    of the claim took). Returns authorization number → units or visits taken; logs one line on the claim."""
    give_back_units(claim_ids=[claim.id], now=now, reason=f"claim {claim.account_number} re-billed", log=False)
    auths = queries.authorizations_of(claim.patient_id, claim.payer_id)
    if not auths or not claim.lines:
        return {}
    facts = [_Auth(a.id, a.number, frozenset(a.cpt_codes or ()), a.remaining, a.start_date, a.end_date,
                   bool(a.counts_visits)) for a in auths]  # fmt: skip
    lines = [Line(line.cpt, line.units, line.date_of_service) for line in claim.lines]
    allocation = allocate(facts, lines)
    cpts: dict[tuple[int, date], set[str]] = defaultdict(set)
    for index, key in allocation.by_line.items():
        cpts[(key, lines[index].date_of_service)].add(lines[index].cpt)
    existing = {
        (u.authorization_id, u.date_of_service): u
        for u in db.session.scalars(select(AuthorizationUse).where(AuthorizationUse.claim_id == claim.id))
    }
    numbers = {a.key: a.number for a in facts}
    taken: dict[str, int] = {}
    for (key, day), units in allocation.uses.items():
        use = existing.get((key, day))
        if use is None:
            use = AuthorizationUse(authorization_id=key, claim_id=claim.id, date_of_service=day)
            db.session.add(use)
        use.cpts, use.units, use.at, use.released_at, use.released_reason = (
            sorted(cpts[(key, day)]),
            units,
            now,
            None,
            None,
        )
        _bump(key, units)
        taken[numbers[key]] = taken.get(numbers[key], 0) + units
    if taken:
        db.session.flush()
        record_interaction(
            practice_id=claim.practice_id, actor=None, actor_label=actor_label, kind=InteractionKind.AUTOMATION,
            now=now, claim_id=claim.id, session_id=claim.session_id,
            body="Authorization use: " + ", ".join(f"{n} −{u}" for n, u in sorted(taken.items())),
            data={"authorizations": taken},
        )  # fmt: skip
    return taken


def give_back_units(*, claim_ids: Iterable[int], now: datetime, reason: str, log: bool = True) -> dict[str, int]:
    """Release what these claims took (a void accepted, a payer reversal): authorization number → units given back."""
    uses = queries.active_uses(claim_ids)
    given: dict[str, int] = {}
    by_claim: dict[int, dict[str, int]] = defaultdict(dict)
    for use in uses:
        use.released_at, use.released_reason = now, reason[:120]
        _bump(use.authorization_id, -use.units)
        number = db.session.get(Authorization, use.authorization_id).number
        given[number] = given.get(number, 0) + use.units
        by_claim[use.claim_id][number] = by_claim[use.claim_id].get(number, 0) + use.units
    if log:
        for claim_id, numbers in by_claim.items():
            claim = db.session.get(Claim, claim_id)
            record_interaction(
                practice_id=claim.practice_id, actor=None, actor_label="authorizations",
                kind=InteractionKind.AUTOMATION, now=now, claim_id=claim.id, session_id=claim.session_id,
                body=f"Authorization units given back ({reason}): "
                + ", ".join(f"{n} +{u}" for n, u in sorted(numbers.items())),
                data={"authorizations": numbers, "reason": reason},
            )  # fmt: skip
    return given


def retake_after_repayment(*, claim_ids: Iterable[int], now: datetime) -> None:
    """A payer that reversed a claim and now pays it again: the units its reversal gave back are taken again."""
    ids = list(claim_ids)
    if not ids:
        return
    reversed_ids: set[int] = set()
    step = len(ids) if is_postgres() else 900  # one array parameter on PostgreSQL
    for start in range(0, len(ids), step):
        reversed_ids.update(db.session.scalars(
            select(AuthorizationUse.claim_id).where(in_ids(AuthorizationUse.claim_id, ids[start : start + step]),
                                                    AuthorizationUse.released_reason == REVERSAL)))  # fmt: skip
    for claim_id in sorted(reversed_ids):
        if not queries.active_uses([claim_id]):
            take_units_for_claim(claim=db.session.get(Claim, claim_id), now=now, actor_label="835 posting")
