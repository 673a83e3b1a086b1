"""Documents attached to work items, claims, appeals and patients: stored under the instance folder, every read
authorised and audited as a PHI read, and an appeal packet merged into one PDF."""
