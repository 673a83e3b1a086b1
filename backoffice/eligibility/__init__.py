"""Eligibility and benefits: what a payer says a patient's coverage pays for mental-health care."""
