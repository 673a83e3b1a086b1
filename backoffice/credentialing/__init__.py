"""Providers, their licences and payer enrolments; enrolment gates claim submission (issue 16)."""
