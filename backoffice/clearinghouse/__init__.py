"""Clearinghouse adapters and the Sandbox payer's X12 (a deterministic payer simulator for the demo and tests)."""
