"""The REST API (/api/v1): per-user bearer tokens, hashed at rest and scoped."""
