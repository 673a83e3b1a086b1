"""Documents attached to work items, claims, appeals and patients: stored under the instance folder or in an
S3-compatible bucket, every read authorised and audited as a PHI read, and an appeal packet merged into one PDF."""
