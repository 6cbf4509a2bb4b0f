"""What the sweeper shares between emails and exports: leasing the rows that are due."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session


def times(count: int) -> str:
    """'once', '3 times': how often a job was lost, for the message staff see."""
    return "once" if count == 1 else f"{count} times"


def lease_due(
    session: Session, model, queued: str, now: datetime, lease: timedelta, limit: int = 500
) -> list[int]:
    """Ids of queued ``model`` rows due now, oldest first, each leased ``lease`` ahead so the next
    sweep leaves it to its job (and retakes it if lost). The caller commits."""
    ids = list(
        session.scalars(
            select(model.id)
            .where(model.status == queued, model.next_attempt_at <= now)
            .order_by(model.next_attempt_at)
            .limit(limit)
        )
    )
    if ids:
        session.execute(
            update(model)
            .where(model.id.in_(ids), model.status == queued)
            .values(next_attempt_at=now + lease)
        )
    return ids
