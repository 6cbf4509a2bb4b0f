"""The JSON API under /api/v1: programs authenticate with API keys (no cookie, no CSRF)."""
