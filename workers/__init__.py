"""RQ entry points. Jobs here are thin and Prefect-free: they open an app context and call a service."""
