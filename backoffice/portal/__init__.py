"""The client portal (issue 20): a practice's own users, their dashboard, claims, uploads, and their inbox of requests
from the billing company; and the requests themselves (a work item kind that pauses the SLA of the item it came
from while the practice answers)."""
