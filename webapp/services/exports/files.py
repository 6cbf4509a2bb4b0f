"""An export's file once written: where it lives, the email saying it is ready, who
may download it and until when, and its removal (expired, or withdrawn when a
customer in it is deleted or cleared)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.email import Email
from webapp.models.export import Export, ExportStatus
from webapp.models.staff import Staff, StaffRole
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services.mailer import queue_email
from webapp.urls import external_url

STATUS_LABELS = {status: status.label for status in ExportStatus}


class ExportError(Exception):
    """An export request that cannot be done: the message says why, ``status`` is 403/409/410."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def export_path(export: Export) -> Path:
    return Path(current_app.config["EXPORT_DIR"]) / export.file_name


def download_url(export: Export) -> str:
    """The absolute download link for emails, built on PUBLIC_BASE_URL."""
    return external_url("exports.download", export_id=export.id)


def _queue_ready_email(session: Session, export: Export) -> Email | None:
    staff = session.get(Staff, export.staff_id)
    if staff is None or not staff.email:
        return None
    return queue_email(
        session,
        kind="export_ready",
        name="Customer export ready",
        recipient=staff.email,
        subject="Your customer export is ready",
        template="export_ready",
        staff_id=staff.id,
        staff=staff,
        export=export,
        download_url=download_url(export),
    )


def remove_expired_files(session: Session, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry (and leftovers of failed ones)."""
    now = now or utcnow()
    paths = _release_files(session, Export.expires_at <= now)
    session.commit()
    delete_files(paths)
    return len(paths)


def finished_files(session: Session) -> int:
    """How many finished exports keep their file (what ``withdraw_exports`` would delete)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Export)
            .where(Export.status == ExportStatus.DONE, Export.file_name != "")
        )
        or 0
    )


def _release_files(
    session: Session, done_goes: ColumnElement[bool], **on_expiry: object
) -> list[Path]:
    """Expire the finished exports ``done_goes`` picks (with ``on_expiry``), drop failed ones'
    leftovers; the caller commits, then deletes the returned paths (``delete_files``)."""
    exports = session.scalars(
        select(Export).where(
            or_(
                and_(Export.status == ExportStatus.DONE, done_goes),
                and_(Export.status == ExportStatus.FAILED, Export.file_name != ""),
            )
        )
    ).all()
    paths = []
    for export in exports:
        paths.append(export_path(export))
        if export.status == ExportStatus.DONE:
            export.status = ExportStatus.EXPIRED
            for name, value in on_expiry.items():
                setattr(export, name, value)
        export.file_name = ""
    return paths


def delete_files(paths: Iterable[Path]) -> None:
    """Delete export files and the part files of their attempts (missing ones are fine)."""
    for path in paths:
        path.unlink(missing_ok=True)
        for leftover in path.parent.glob(f"{path.name}.part*"):
            leftover.unlink(missing_ok=True)


def can_download(export: Export, staff: Staff) -> bool:
    """Only the staff member who asked for it, or an admin."""
    return export.staff_id == staff.id or staff.role == StaffRole.ADMIN


def downloadable_file(export: Export, staff: Staff, now: datetime | None = None) -> Path:
    """The file to send, or ExportError saying why it cannot be downloaded."""
    if not can_download(export, staff):
        raise ExportError(
            "Only the staff member who started this export, or an admin, can download it.",
            403,
        )
    now = now or utcnow()
    if export.status == ExportStatus.EXPIRED and export.last_error:  # see withdraw_exports
        raise ExportError(export.last_error, 410)
    if export.status == ExportStatus.EXPIRED or (
        export.expires_at is not None and export.expires_at <= now
    ):
        raise ExportError(
            f"This export expired on {export.expires_at:%Y-%m-%d %H:%M} UTC and its file was "
            "deleted. Start a new export.",
            410,
        )
    if export.status != ExportStatus.DONE:
        raise ExportError(
            "This export has not finished yet."
            if export.active
            else "This export failed, so there is no file. Start a new export.",
            409 if export.active else 410,
        )
    path = export_path(export)
    if not path.is_file():
        raise ExportError("The file of this export is missing. Start a new export.", 410)
    return path


def exports_page(session: Session, at: PageAt = FIRST) -> Page:
    """Every export, newest first (who, when, rows, status, expiry)."""
    return keyset_page(session, select(Export), Keyset((Export.id,), ("id",)), at)
