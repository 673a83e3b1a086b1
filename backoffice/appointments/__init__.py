"""Appointments: upcoming visits practices send us, checked for eligibility before the visit (issue 20.5)."""
