"""Customer exports: a CSV file written in the background."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # done, and its file has been removed after the retention period

    @property
    def label(self) -> str:
        """As the Exports page shows it."""
        return _EXPORT_STATUS_LABELS[self]


_EXPORT_STATUS_LABELS = {
    ExportStatus.QUEUED: "Queued",
    ExportStatus.RUNNING: "Running",
    ExportStatus.DONE: "Ready",
    ExportStatus.FAILED: "Failed",
    ExportStatus.EXPIRED: "Expired",
}


class Export(db.Model):
    """One "Export" of all customers (or of those chosen on the list), its progress and its file."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ExportStatus.QUEUED)
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    file_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Moved by the running job after every batch; a stale heartbeat means the job died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Export selected (a bulk action on the customer list): the chosen customers' ids as JSON
    # and what they were, for the Exports page; both None for an export of all customers.
    customer_ids: Mapped[str | None] = mapped_column(Text, nullable=True)
    selection_label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The "export ready" email to the requester, once the file is written.
    email_id: Mapped[int | None] = mapped_column(ForeignKey("emails.id"), nullable=True)

    staff = relationship("Staff", lazy="joined")
    email = relationship("Email")

    __table_args__ = (
        Index("ix_exports_created", "created_at", "id"),
        Index("ix_exports_status", "status"),
    )

    @property
    def active(self) -> bool:
        return self.status in (ExportStatus.QUEUED, ExportStatus.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)
