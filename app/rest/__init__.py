"""The REST API under /api/latest: thin over the records service."""
