"""The named events of the back office (blinker, Flask's own signal library): who sends each, with what.

The work kernel and the packages that own claims and money *send*; features *subscribe* in their own
``subscriptions.py``, connected once by ``app.create_app`` (``subscribe_all``). A handler runs synchronously,
inside the sender's transaction: what it writes commits or rolls back with the use case, and an exception in a
handler fails the use case exactly as if the sender had done the work itself. Side effects outside the database
(RQ jobs) still wait for the commit (``tasks.enqueue_after_commit``).

Every signal's sender is the object the event is about; keyword arguments always include ``now``.
docs/ARCHITECTURE.md lists the signals with their subscribers.
"""

from __future__ import annotations

from blinker import Namespace

events = Namespace()

# sender: WorkItem (state READY: new, released by the item it waited on, or handed over to a person)
# kwargs: now. Subscribers: routing (routes a manual item), automation (enqueues an automated item's step).
item_ready = events.signal("item-ready")

# sender: WorkItem (state DONE); kwargs: now, actor (User | None), outcome (CompletionOutcome value).
# Subscribers: none in the product yet; the place for a feature that reacts to closed work.
item_completed = events.signal("item-completed")

# sender: WorkItem (state CANCELLED); kwargs: now, actor (User), reason. Subscribers: none yet.
item_cancelled = events.signal("item-cancelled")

# sender: the organization id (an 835 file just posted, or an unmatched payment applied by hand); kwargs: now,
# claim_ids (every claim it paid, denied or adjusted), remittance_ids (the ERAs posted). Subscribers: automation
# (wakes those claims' waiting follow-ups, whose step then closes them), claims (closes paid denials), money
# (matches the deposits waiting for these ERAs).
remittance_posted = events.signal("remittance-posted")

# sender: Claim (a void, frequency 8, the payer accepted: ``exchange.ack_posting`` / ``claims.corrections``); kwargs:
# now, and optionally actor (User | None) and reason. Subscribers: authorizations (give back the units or visits its
# lines consumed); claims (``claims/subscriptions.py``: its follow-up, denial, appeal and rejection items are
# cancelled, logged with the reason).
claim_voided = events.signal("claim-voided")
