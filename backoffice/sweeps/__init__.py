"""The scheduled sweeps: SLA breaches, follow-ups, the timely-filing guard, authorization watch, KPI snapshots and
orphaned automation jobs."""
