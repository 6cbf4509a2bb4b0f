"""Export all customers to CSV in the background.

``start_export`` records the request (or returns the one already under way) and
enqueues ``jobs.exports.run_export`` after the commit. ``run_export`` claims the
row, streams the customers in batches of ``EXPORT_BATCH_SIZE`` by primary key
(bounded memory at any table size), writes RFC 4180 CSV to a ``.part`` file,
renames it when complete, and emails the requester a download link. Progress and
a heartbeat are committed after every batch; a heartbeat that goes stale means
the job died (worker killed, machine lost), and the sweeper runs it again or,
after ``EXPORT_MAX_ATTEMPTS``, marks it failed. The files are deleted after
``EXPORT_KEEP_DAYS`` (``remove_expired_files``), or at once when a customer is deleted
or their personal data cleared (``withdraw_exports``).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.billing import CustomerBalance
from webapp.models.customer import Customer, CustomerStatus, format_customer_id
from webapp.models.email import Email
from webapp.models.export import Export, ExportStatus
from webapp.models.staff import Staff, StaffRole
from webapp.services.mailer import queue_email
from webapp.services.money import format_plain
from webapp.services.paging import Page, page_of
from webapp.services.reference import format_tax_rate
from webapp.services.sweeping import lease_due, times
from webapp.urls import external_url

RUN_EXPORT_JOB = "jobs.exports.run_export"
STATUS_LABELS = {status: status.label for status in ExportStatus}
# Cells starting with one of these are read as formulas by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)

log = logging.getLogger(__name__)


class ExportError(Exception):
    """An export request that cannot be done; the message says why and ``status`` is
    the HTTP status that fits (403 not yours, 409 not finished, 410 gone)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Superseded(Exception):
    """This job was taken for dead and its export handed to a new attempt."""


def neutralise(value: str | None) -> str:
    """Make a text cell inert in spreadsheets (OWASP "CSV injection"): a leading
    apostrophe keeps ``=HYPERLINK(…)`` or ``+49 …`` as the text it is."""
    if not value:
        return ""
    return "'" + value if value[0] in _FORMULA_FIRST else value


def _when(value: datetime | None) -> str:
    # isoformat is about twice as fast as strftime and writes the same for naive UTC.
    return value.isoformat(" ", "seconds") if value else ""


# (heading, customers column) in the order of the file: every profile field and the
# current balance. ``_cells`` writes a row's cells in this order.
COLUMNS: list[tuple[str, str]] = [
    ("Customer ID", "id"),
    ("Name", "name"),
    ("Company", "company"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Mobile", "mobile"),
    ("Fax", "fax"),
    ("Position", "position"),
    ("Website", "website"),
    ("Address line 1", "address_line1"),
    ("Address line 2", "address_line2"),
    ("City", "city"),
    ("Region", "region"),
    ("Postal code", "postal_code"),
    ("Country", "country"),
    ("Currency", "currency"),
    ("Tax ID", "tax_id"),
    ("Tax rate %", "tax_rate_bp"),
    ("Payment terms (days)", "payment_terms_days"),
    ("Invoicing flow", "invoicing_flow"),
    ("Auto pay", "auto_pay"),
    ("Payment gateway", "payment_gateway"),
    ("Status", "status"),
    ("Footnotes", "footnotes"),
    ("Balance", "balance_minor"),
    ("Created", "created_at"),
    ("Last changed", "updated_at"),
]
HEADINGS = [heading for heading, _ in COLUMNS] + ["Other balances"]
_SELECTED = [name for _, name in COLUMNS]


def _cells(row: tuple, others: dict[int, str]) -> tuple[str, ...]:
    """One customer's cells, in the order of ``COLUMNS``. Text typed by people is
    neutralised, numbers Tally writes are not (a balance of -150.00 must stay a number
    a spreadsheet can add up). One call per row, tuple unpacking instead of a lambda
    and getattr per cell: at a million rows that is most of the export's time."""
    (
        customer_id,
        name,
        company,
        first_name,
        last_name,
        email,
        phone,
        mobile,
        fax,
        position,
        website,
        address_line1,
        address_line2,
        city,
        region,
        postal_code,
        country,
        currency,
        tax_id,
        tax_rate_bp,
        payment_terms_days,
        invoicing_flow,
        auto_pay,
        payment_gateway,
        status,
        footnotes,
        balance_minor,
        created_at,
        updated_at,
    ) = row
    return (
        format_customer_id(customer_id),
        neutralise(name),
        neutralise(company),
        neutralise(first_name),
        neutralise(last_name),
        neutralise(email),
        neutralise(phone),
        neutralise(mobile),
        neutralise(fax),
        neutralise(position),
        neutralise(website),
        neutralise(address_line1),
        neutralise(address_line2),
        neutralise(city),
        neutralise(region),
        neutralise(postal_code),
        country,
        currency,
        neutralise(tax_id),
        format_tax_rate(tax_rate_bp),
        str(payment_terms_days),
        neutralise(invoicing_flow),
        "yes" if auto_pay else "no",
        payment_gateway,
        CustomerStatus(status).label,
        neutralise(footnotes),
        format_plain(balance_minor, currency),
        _when(created_at),
        _when(updated_at),
        others.get(customer_id, ""),
    )


def export_path(export: Export) -> Path:
    return Path(current_app.config["EXPORT_DIR"]) / export.file_name


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"])


def start_export(session: Session, staff: Staff) -> tuple[Export, bool]:
    """Start an export of all customers for ``staff``; when theirs is still under
    way, return that one instead (a double click starts one export, not two).
    The flag says whether a new export was started."""
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
    if running is not None:
        return running, False
    export = Export(
        staff_id=staff.id,
        status=ExportStatus.QUEUED,
        next_attempt_at=now + timedelta(seconds=current_app.config["EXPORT_STALE_AFTER_SECONDS"]),
    )
    session.add(export)
    session.flush()
    export.file_name = f"customers-{export.id}.csv"
    jobs.enqueue_after_commit(session, RUN_EXPORT_JOB, export.id)
    session.commit()
    return export, True


def run_export(session: Session, export_id: int) -> str | None:
    """Write the export's CSV file if it is waiting, then email the requester.

    Returns the status it ended in, or None when there was nothing to do (done
    already, or another job holds it). Safe to run twice.
    """
    now = utcnow()
    # The total is counted in the claim, so progress never reads "0 of 0".
    total = select(func.count()).select_from(Customer).scalar_subquery()
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
            for rows_done in _write_customers(session, writer):
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
    """An error in the middle (the database went away, the disk filled up): run it again
    after a pause, up to EXPORT_MAX_ATTEMPTS, then give up. The details go to the log;
    staff see what happened and what to do."""
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


def _write_customers(session: Session, writer) -> Iterable[int]:
    """Write every customer, a batch at a time by id; yield the rows written so far."""
    batch_size = current_app.config["EXPORT_BATCH_SIZE"]
    table = Customer.__table__
    columns = [table.c[name] for name in _SELECTED]
    last_id, done = 0, 0
    while True:
        rows = (
            session.connection()
            .execute(
                select(*columns).where(table.c.id > last_id).order_by(table.c.id).limit(batch_size)
            )
            .all()
        )
        if not rows:
            return
        others = _other_balances(session, rows[0][0], rows[-1][0])
        writer.writerows([_cells(row, others) for row in rows])
        last_id = rows[-1][0]
        done += len(rows)
        yield done


def _other_balances(session: Session, first_id: int, last_id: int) -> dict[int, str]:
    """Non-zero balances in currencies other than the billing one, per customer id:
    "USD -10.00; GBP 5.00"."""
    found = session.execute(
        select(CustomerBalance.customer_id, CustomerBalance.currency, CustomerBalance.balance_minor)
        .join(Customer, Customer.id == CustomerBalance.customer_id)
        .where(
            CustomerBalance.customer_id.between(first_id, last_id),
            CustomerBalance.currency != Customer.currency,
            CustomerBalance.balance_minor != 0,
        )
        .order_by(CustomerBalance.customer_id, CustomerBalance.currency)
    ).all()
    others: dict[int, list[str]] = {}
    for customer_id, currency, amount in found:
        others.setdefault(customer_id, []).append(f"{currency} {format_plain(amount, currency)}")
    return {customer_id: "; ".join(parts) for customer_id, parts in others.items()}


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


def due_to_run(session: Session, now: datetime | None = None) -> list[int]:
    """Exports to enqueue again: running ones whose heartbeat went stale (their job
    died) are queued again, or failed once their attempts are used up; queued ones
    whose job was lost are handed back."""
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


def remove_expired_files(session: Session, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry (and leftovers of failed ones)."""
    now = now or utcnow()
    paths = _release_files(session, Export.expires_at <= now)
    session.commit()
    delete_files(paths)
    return len(paths)


def finished_files(session: Session) -> int:
    """How many finished exports still keep their file: what ``withdraw_exports`` would
    delete (the confirmations of Delete customer and Clear personal data say it)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Export)
            .where(Export.status == ExportStatus.DONE, Export.file_name != "")
        )
        or 0
    )


def withdraw_exports(session: Session, because: str) -> list[Path]:
    """Take back every export file that may hold a customer's personal data, in the
    caller's transaction, when a customer is deleted or their personal data cleared
    (``because`` says which: "a customer in it was deleted"). Finished exports become
    expired now, with the reason their page and download show; failed ones give up
    their leftovers. Returns the paths for ``delete_files`` to delete after the commit
    (before it, a rollback would leave exports whose file is gone).

    An export under way may have written the customer already: a running one is queued
    again (its job finds it taken at its next batch and deletes its part file) and
    enqueued after the commit, so its file is written afresh without them. Queued and
    running rows are locked first, so a job cannot claim or finish one meanwhile and
    read the customer before this transaction commits."""
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


def _release_files(
    session: Session, done_goes: ColumnElement[bool], **on_expiry: object
) -> list[Path]:
    """Unlink in the database the files of the finished exports ``done_goes`` picks
    (they become expired, with the ``on_expiry`` values) and the leftovers of failed
    ones. The caller commits, then deletes the returned paths with ``delete_files``."""
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


def exports_page(session: Session, number: int = 1) -> Page:
    """Every export, newest first (who, when, rows, status, expiry)."""
    return page_of(session, select(Export).order_by(Export.id.desc()), number)
