"""Item-page panels contributed by features: each says which items it applies to and builds its own context.

A feature registers its panel when its views module is imported (the app factory imports every blueprint), and
``templates/work/item.html`` renders the applicable ones between the facts and the timeline:

    register(Panel("benefits", "itemforms/benefits.html", applies=lambda item: ..., context=lambda item: {...}))

The template sees ``item`` and ``p`` (the context dict). Panels are ordered by ``order`` then name. A panel in the
``header`` slot is rendered at the top of the page, in the bar that stays in view while the page scrolls (the claim
context of a claim-related item); the others (slot ``body``) below the facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backoffice.work.models import WorkItem


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    applies: Callable[[WorkItem], bool]
    context: Callable[[WorkItem], dict[str, Any]] = field(default=lambda item: {})
    order: int = 100
    slot: str = "body"  # "header": the sticky bar at the top of the item page


_PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    """Add (or replace, by name) a panel."""
    _PANELS[panel.name] = panel
    return panel


def panels_for(item: WorkItem, slot: str = "body") -> list[tuple[Panel, dict[str, Any]]]:
    """The panels of ``slot`` that apply to ``item``, each with its context, in display order."""
    chosen = sorted(
        (p for p in _PANELS.values() if p.slot == slot and p.applies(item)), key=lambda p: (p.order, p.name)
    )
    return [(panel, panel.context(item)) for panel in chosen]
