"""Customer imports: an uploaded CSV file, its column mapping, and the rows it rejected."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.billing import BigId


class ImportStatus(enum.StrEnum):
    MAPPING = "mapping"  # uploaded; staff check the mapping
    CHECKING = "checking"  # the dry run is under way
    CHECKED = "checked"  # the dry run is done; staff start the import (or change the mapping)
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ImportStatus.MAPPING: "Mapping columns",
    ImportStatus.CHECKING: "Dry run under way",
    ImportStatus.CHECKED: "Dry run done",
    ImportStatus.QUEUED: "Queued",
    ImportStatus.RUNNING: "Importing",
    ImportStatus.DONE: "Imported",
    ImportStatus.CANCELLED: "Cancelled",
    ImportStatus.FAILED: "Failed",
}

# The statuses in which a job works on the import (the dry run, or the import itself).
WORKING = (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING)


class CustomerImport(db.Model):
    """One CSV file of customers: where it is, how its columns map, and how far the dry run
    or the import got (``rows_done`` is the cursor: data rows finished and committed)."""

    __tablename__ = "customer_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), nullable=False)
    # The name the file had on the uploader's computer, shown and written in History.
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # The copy under IMPORT_DIR ('' once deleted).
    stored_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    delimiter: Mapped[str] = mapped_column(String(1), nullable=False, default=",")
    # JSON: the header row as read, and the field each column goes to ("" = Don't import).
    headers: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    mapping: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    # Which export the header row was recognised as ("tally", "stripe", "chargebee", "").
    preset: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    # How a row finds an existing customer: "customer_id", "external_id" or "email".
    match_by: Mapped[str] = mapped_column(String(20), nullable=False, default="email")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ImportStatus.MAPPING)
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The dry run's result, kept when the import runs: rows checked and rows refused.
    checked_rows: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    checked_errors: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Moved by the running job after every chunk; a stale heartbeat means the job died.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    staff = relationship("Staff", lazy="joined")

    __table_args__ = (Index("ix_customer_imports_status", "status"),)

    @property
    def label(self) -> str:
        return ImportStatus(self.status).label

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.CHECKED):
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)


class ImportProblem(db.Model):
    """A row the dry run (``phase`` "check") or the import ("import") refused, and why."""

    __tablename__ = "customer_import_problems"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("customer_imports.id", ondelete="CASCADE"), nullable=False
    )
    phase: Mapped[str] = mapped_column(String(8), nullable=False)
    # The data row's number as a spreadsheet shows it (the header is row 1).
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)
    field: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    message: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (Index("ix_customer_import_problems_row", "import_id", "phase", "row_number"),)
