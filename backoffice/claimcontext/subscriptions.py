"""The claim context of claim-related items: the item page's sticky header, and the patient and date of service of
queue rows (and sorting by them) for items that reach them only through their claim. Connected by
``app.create_app``."""

from __future__ import annotations

from backoffice.claimcontext import queries
from backoffice.work import queries as work_queries
from backoffice.work.panels import Panel, register


def subscribe() -> None:
    register(Panel("claim-context", "claimcontext/header.html", queries.applies, queries.header_context, 0,
                   slot="header"))  # fmt: skip
    work_queries.register_row_context(queries.rows_through_claims)
    work_queries.register_sort("patient", queries.sort_by_patient)
    work_queries.register_sort("dos", queries.sort_by_date_of_service)
