"""A bulk action run as one background job (over ``BULK_JOB_THRESHOLD`` customers)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow


class BulkStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class BulkAction(db.Model):
    """One bulk action over many customers: what, on whom (the ids, fixed when it started),
    who started it, and its progress. ``view`` is the list's query string to go back to."""

    __tablename__ = "bulk_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    # The tag's name or the new status; empty for a deletion.
    value: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    # The chosen customers' ids as JSON, in id order.
    customer_ids: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    view: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=BulkStatus.QUEUED)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # How far the job got: customers looked at, changed, and skipped (with why, as JSON).
    processed: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    done_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    skipped: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    tag_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_bulk_actions_status_next", "status", "next_attempt_at"),)
