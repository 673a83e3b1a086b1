"""Prefect flows that plan session chains and run the scheduled sweeps (see the workflow issue).

Flows orchestrate and services decide: each task calls a ``backoffice`` service inside an app context,
and flow parameters are IDs and dates only, never patient data.
"""
