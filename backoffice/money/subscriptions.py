"""Money reacts to posted remittances: a deposit recorded before its ERA is matched (and its item closed) as soon
as the ERA posts. Connected by ``app.create_app``."""

from __future__ import annotations

from backoffice import signals
from backoffice.money.deposits import match_waiting_deposits


def subscribe() -> None:
    signals.remittance_posted.connect(match_waiting_deposits, weak=False)
