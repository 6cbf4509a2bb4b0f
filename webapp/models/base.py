"""Shared column helpers."""

from datetime import UTC, datetime

from sqlalchemy import Integer, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def utcnow() -> datetime:
    """Timezone-aware 'now' in UTC; stored naive-UTC so SQLite and PostgreSQL agree."""
    return datetime.now(UTC).replace(tzinfo=None)


class Versioned:
    """A row staff edit in a form: ``version`` counts its saves (1 when added). The mapper bumps it
    and adds ``WHERE version = …``, so an update from a stale copy matches nothing (StaleDataError)
    instead of silently undoing a save; services.versions compares it with the edit forms'."""

    version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default=text("1")
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict:
        return {"version_id_col": cls.__table__.c.version}
