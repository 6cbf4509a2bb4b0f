"""Starting an export and the background job that writes its file: claimed, written
in batches with a heartbeat, run again when its worker was lost."""

from __future__ import annotations

import csv
import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.models.export import Export, ExportStatus
from webapp.models.staff import Staff
from webapp.services.exports.csv_writing import HEADINGS, _write_customers
from webapp.services.exports.files import _queue_ready_email, _release_files, export_path
from webapp.services.sweeping import lease_due, times

RUN_EXPORT_JOB = "jobs.exports.run_export"

log = logging.getLogger(__name__)


class _Superseded(Exception):
    """This job was taken for dead and its export handed to a new attempt."""


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"])


def start_export(
    session: Session,
    staff: Staff,
    customer_ids: list[int] | None = None,
    selection_label: str | None = None,
) -> tuple[Export, bool]:
    """Start an export for ``staff``, or return theirs under way; the flag: whether it is new.
    ``customer_ids``: only those customers (Export selected, named ``selection_label``); such an
    export is always a new one."""
    now = utcnow()
    # Serialise this staff member's requests (a row lock on PostgreSQL, the write lock
    # on SQLite), so two clicks arriving together still start one export.
    session.execute(update(Staff).where(Staff.id == staff.id).values(id=Staff.id))
    running = session.scalars(
        select(Export)
        .where(
            Export.staff_id == staff.id,
            or_(
                Export.status == ExportStatus.QUEUED,
                and_(
                    Export.status == ExportStatus.RUNNING, Export.heartbeat_at >= _stale_before(now)
                ),
            ),
        )
        .order_by(Export.id.desc())
        .limit(1)
    ).first()
    if running is not None and customer_ids is None and running.customer_ids is None:
        return running, False
    export = Export(
        staff_id=staff.id,
        status=ExportStatus.QUEUED,
        customer_ids=json.dumps(customer_ids) if customer_ids is not None else None,
        selection_label=selection_label if customer_ids is not None else None,
        next_attempt_at=now + timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"]),
    )
    session.add(export)
    session.flush()
    export.file_name = f"customers-{export.id}.csv"
    jobs.enqueue_after_commit(session, RUN_EXPORT_JOB, export.id)
    session.commit()
    return export, True


def run_export(session: Session, export_id: int) -> str | None:
    """Write the export's CSV if waiting, then email the requester; returns its status, or None if
    nothing to do. Safe to run twice."""
    now = utcnow()
    # The total is counted in the claim, so progress never reads "0 of 0".
    chosen = session.scalar(select(Export.customer_ids).where(Export.id == export_id))
    customer_ids = json.loads(chosen) if chosen is not None else None
    total = select(func.count()).select_from(Customer)
    if customer_ids is not None:
        total = total.where(Customer.id.in_(customer_ids))
    total = total.scalar_subquery()
    claimed = session.execute(
        update(Export)
        .where(Export.id == export_id, Export.status == ExportStatus.QUEUED)
        .values(
            status=ExportStatus.RUNNING,
            attempts=Export.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            rows_done=0,
            rows_total=total,
        )
    ).rowcount
    session.commit()
    if not claimed:
        return None
    export = session.get(Export, export_id)
    attempt = export.attempts
    path = export_path(export)
    # One part file per attempt: should a job thought dead still be writing, it
    # cannot clobber the file of the attempt that replaced it.
    partial = path.with_name(f"{path.name}.part{attempt}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle)  # excel dialect: RFC 4180 quoting and CRLF
            writer.writerow(HEADINGS)
            for rows_done in _write_customers(session, writer, customer_ids):
                still_ours = session.execute(
                    update(Export)
                    .where(*_owned_by(export_id, attempt))
                    .values(rows_done=rows_done, heartbeat_at=utcnow())
                ).rowcount
                session.commit()
                if not still_ours:
                    raise _Superseded
        os.replace(partial, path)
        for leftover in path.parent.glob(f"{path.name}.part*"):  # from attempts taken for dead
            leftover.unlink(missing_ok=True)
    except _Superseded:
        partial.unlink(missing_ok=True)
        return None
    except Exception:
        session.rollback()
        partial.unlink(missing_ok=True)
        log.exception("Export %s failed on attempt %s", export_id, attempt)
        return _record_failure(session, export_id, attempt)

    finished = utcnow()
    done = session.execute(
        update(Export)
        .where(*_owned_by(export_id, attempt))
        .values(
            status=ExportStatus.DONE,
            size_bytes=path.stat().st_size,
            finished_at=finished,
            expires_at=finished + timedelta(days=current_app.config["EXPORT_KEEP_DAYS"]),
            last_error="",
        )
    ).rowcount
    if not done:  # taken for dead meanwhile; the attempt that replaced this one finishes
        session.rollback()
        return None
    export = session.get(Export, export_id)
    session.refresh(export)
    email = _queue_ready_email(session, export)
    export.email_id = email.id if email is not None else None
    session.commit()
    return export.status


def _owned_by(export_id: int, attempt: int) -> tuple:
    """The export is still running under this attempt (not taken for dead and re-run)."""
    return (
        Export.id == export_id,
        Export.attempts == attempt,
        Export.status == ExportStatus.RUNNING,
    )


def _record_failure(session: Session, export_id: int, attempt: int) -> str | None:
    """A failure mid-way: retry after a pause up to EXPORT_MAX_ATTEMPTS, then give up; logged."""
    now = utcnow()
    if attempt < current_app.config["EXPORT_MAX_ATTEMPTS"]:
        values = {
            "status": ExportStatus.QUEUED,
            "next_attempt_at": now + timedelta(seconds=min(300, 30 * attempt)),
            "last_error": f"Attempt {attempt} stopped on an error; the export starts again "
            "shortly.",
        }
    else:
        values = {
            "status": ExportStatus.FAILED,
            "finished_at": now,
            "last_error": f"The export stopped on an error {times(attempt)}; the details "
            "are in the server log. Start a new export.",
        }
    changed = session.execute(
        update(Export).where(*_owned_by(export_id, attempt)).values(**values)
    ).rowcount
    session.commit()
    return values["status"] if changed else None


def due_to_run(session: Session, now: datetime | None = None) -> list[int]:
    """Exports to enqueue again: stale running ones (failed when out of attempts), lost queued."""
    now = now or utcnow()
    max_attempts = current_app.config["EXPORT_MAX_ATTEMPTS"]
    stale = and_(Export.status == ExportStatus.RUNNING, Export.heartbeat_at < _stale_before(now))
    session.execute(
        update(Export)
        .where(stale, Export.attempts >= max_attempts)
        .values(
            status=ExportStatus.FAILED,
            finished_at=now,
            last_error=f"The export stopped {times(max_attempts)} before it finished "
            "(the worker running it was lost). Start a new export.",
        )
    )
    session.execute(
        update(Export)
        .where(stale)
        .values(
            status=ExportStatus.QUEUED,
            next_attempt_at=now,
            last_error="The worker running this export was lost; it starts again.",
        )
    )
    lease = timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"])
    ids = lease_due(session, Export, ExportStatus.QUEUED, now, lease)
    session.commit()
    return ids


def withdraw_exports(session: Session, because: str) -> list[Path]:
    """Take back every export file that may hold a deleted or cleared customer, in the caller's
    transaction (``because`` is the reason shown). Finished exports expire, failed ones drop their
    leftovers. Returns the paths for ``delete_files`` to delete after the commit (a rollback must
    not leave exports whose file is gone). Queued and running rows are locked first, and a running
    one is queued again, so no file is finished with the customer in it."""
    now = utcnow()
    active = session.execute(
        select(Export.id, Export.status)
        .where(Export.status.in_((ExportStatus.QUEUED, ExportStatus.RUNNING)))
        .order_by(Export.id)  # two deletions at once lock them in the same order
        .with_for_update()
    ).all()
    running = [export_id for export_id, status in active if status == ExportStatus.RUNNING]
    if running:
        lease = timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"])
        session.execute(
            update(Export)
            .where(Export.id.in_(running), Export.status == ExportStatus.RUNNING)
            .values(
                status=ExportStatus.QUEUED,
                next_attempt_at=now + lease,
                last_error=f"The export starts again because {because} while it ran.",
            )
        )
        for export_id in running:
            jobs.enqueue_after_commit(session, RUN_EXPORT_JOB, export_id)
    return _release_files(
        session,
        Export.file_name != "",
        expires_at=now,
        last_error=f"The file of this export was deleted on {now:%Y-%m-%d %H:%M} UTC "
        f"because {because}. Start a new export.",
    )
