"""Reports and dashboards: A/R aging, denials, clean claims, SLA attainment and productivity, with CSV exports."""
