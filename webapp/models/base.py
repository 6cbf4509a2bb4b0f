"""Shared column helpers."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware 'now' in UTC; stored naive-UTC so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)
