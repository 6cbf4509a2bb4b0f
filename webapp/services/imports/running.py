"""An import from upload to done: the upload, the mapping, the dry run and the import itself,
both run by one background job a chunk at a time; cancelling; what the sweeper runs again;
the rejected rows as a CSV file."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session, scoped_session

from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.billing import LedgerEntry
from webapp.models.customer import Customer, format_customer_id
from webapp.models.imports import CustomerImport, ImportProblem, ImportStatus
from webapp.models.staff import Staff
from webapp.services import customers as customer_service
from webapp.services import reference, settings
from webapp.services.exports.csv_writing import neutralise
from webapp.services.history import acting_as, record
from webapp.services.imports.checking import (
    Checked,
    RowChecker,
    cells_to_values,
    parse_customer_id,
)
from webapp.services.imports.mapping import (
    FIELDS,
    MATCH_CHOICES,
    default_match,
    guess_mapping,
    mapping_refusal,
)
from webapp.services.imports.reading import ImportFileError, count_rows, data_rows, sniff
from webapp.services.sweeping import times

RUN_IMPORT_JOB = "jobs.imports.run_import"
CHECK = "check"
IMPORT = "import"
# At most this many problems of the dry run are listed on its page (all are counted).
LISTED_PROBLEMS = 200

log = logging.getLogger(__name__)


class ImportRefused(Exception):
    """A step that cannot be taken now (the import is not in the state for it)."""


class _Superseded(Exception):
    """This job was taken for dead and the import handed to a new attempt."""


def import_path(customer_import: CustomerImport) -> Path:
    return Path(current_app.config["IMPORT_DIR"]) / customer_import.stored_name


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=current_app.config["IMPORT_STALE_AFTER_SECONDS"])


# -- upload and mapping ------------------------------------------------------------------


def upload(session: Session, staff: Staff, file_name: str, data: bytes) -> CustomerImport:
    """Keep an uploaded file and guess its mapping; ``ImportFileError`` says why it cannot be
    imported (too large, empty, not UTF-8, not a CSV, no header row). Commits."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    if len(data) > limit:
        raise ImportFileError(
            f"The file is larger than {limit / 1_000_000:g} MB: split it into smaller files."
        )
    if not file_name.casefold().endswith((".csv", ".txt")):
        raise ImportFileError("Choose a CSV file (.csv): export the sheet as CSV and upload that.")
    sniffed = sniff(data)
    preset, mapping = guess_mapping(sniffed.headers)
    customer_import = CustomerImport(
        staff_id=staff.id,
        file_name=Path(file_name.replace("\\", "/")).name[:255] or "customers.csv",
        size_bytes=len(data),
        delimiter=sniffed.delimiter,
        headers=json.dumps(sniffed.headers),
        mapping=json.dumps(mapping),
        preset=preset,
        match_by=default_match(preset, mapping),
        status=ImportStatus.MAPPING,
    )
    session.add(customer_import)
    session.flush()
    customer_import.stored_name = f"import-{customer_import.id}-{secrets.token_hex(8)}.csv"
    path = import_path(customer_import)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        customer_import.rows_total = count_rows(path, sniffed.delimiter)
    except (csv.Error, UnicodeDecodeError) as error:
        path.unlink(missing_ok=True)
        session.rollback()
        raise ImportFileError(f"This file cannot be read as CSV: {error}.") from None
    session.commit()
    return customer_import


def headers_of(customer_import: CustomerImport) -> list[str]:
    return json.loads(customer_import.headers)


def mapping_of(customer_import: CustomerImport) -> list[str]:
    return json.loads(customer_import.mapping)


def columns(customer_import: CustomerImport, samples: int = 3) -> list[tuple[str, str, list[str]]]:
    """(header, field, first sample values) for each column, for the mapping page."""
    headers, mapping = headers_of(customer_import), mapping_of(customer_import)
    rows = [
        cells
        for _number, cells in islice(
            data_rows(import_path(customer_import), customer_import.delimiter), samples
        )
    ]
    return [
        (
            header,
            mapping[index] if index < len(mapping) else "",
            [row[index] for row in rows if index < len(row) and row[index].strip()],
        )
        for index, header in enumerate(headers)
    ]


def start_dry_run(
    session: Session, customer_import: CustomerImport, mapping: list[str], match_by: str
) -> dict[str, str]:
    """Keep the mapping and queue the dry run; returns field -> message when the mapping cannot
    be used (nothing changes then). Commits."""
    if customer_import.status not in (ImportStatus.MAPPING, ImportStatus.CHECKED):
        raise ImportRefused("This import has started: its mapping can no longer change.")
    errors = mapping_refusal(mapping, match_by)
    if errors:
        return errors
    session.execute(delete(ImportProblem).where(ImportProblem.import_id == customer_import.id))
    customer_import.mapping = json.dumps(mapping)
    customer_import.match_by = match_by
    _queue(session, customer_import, ImportStatus.CHECKING)
    customer_import.checked_rows = customer_import.checked_errors = 0
    session.commit()
    return {}


def start_import(session: Session, customer_import: CustomerImport) -> None:
    """Queue the import after its dry run. Commits."""
    if customer_import.status != ImportStatus.CHECKED:
        raise ImportRefused("Run the dry run first: the import starts from its result.")
    _queue(session, customer_import, ImportStatus.QUEUED)
    session.commit()


def _queue(session: Session, customer_import: CustomerImport, status: ImportStatus) -> None:
    now = utcnow()
    customer_import.status = status
    customer_import.rows_done = 0
    customer_import.created_count = customer_import.updated_count = 0
    customer_import.unchanged_count = customer_import.rejected_count = 0
    customer_import.attempts = 0
    customer_import.heartbeat_at = None
    customer_import.cancel_requested = False
    customer_import.last_error = ""
    customer_import.finished_at = None
    stale = current_app.config["IMPORT_STALE_AFTER_SECONDS"]
    customer_import.next_attempt_at = now + timedelta(seconds=stale)
    jobs.enqueue_after_commit(session, RUN_IMPORT_JOB, customer_import.id)


def cancel(session: Session, customer_import: CustomerImport) -> None:
    """Stop an import: a queued one at once, a running one after the chunk it is writing (what
    it wrote stays). Commits."""
    session.refresh(customer_import)
    if customer_import.status == ImportStatus.QUEUED:
        customer_import.status = ImportStatus.CANCELLED
        customer_import.finished_at = utcnow()
    elif customer_import.status == ImportStatus.RUNNING:
        customer_import.cancel_requested = True
    else:
        raise ImportRefused("This import is not running, so there is nothing to cancel.")
    session.commit()


# -- the job -----------------------------------------------------------------------------


@dataclass
class _Prepared:
    rows: int
    keyed: list[tuple[int, dict[str, str], object]]
    as_new: dict[int, Checked]


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0


def run_import(session: Session, import_id: int) -> str | None:
    """Run the dry run or the import waiting on ``import_id``, from its cursor on; returns the
    status it ended in, or None if another job has it. Safe to run twice, and after a worker
    died mid-way: each chunk's customers and the cursor commit together."""
    now = utcnow()
    claimed = session.execute(
        update(CustomerImport)
        .where(
            CustomerImport.id == import_id,
            CustomerImport.status.in_(
                (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING)
            ),
            or_(
                CustomerImport.heartbeat_at.is_(None),
                CustomerImport.heartbeat_at < _stale_before(now),
            ),
        )
        .values(attempts=CustomerImport.attempts + 1, heartbeat_at=now)
    ).rowcount
    session.commit()
    if not claimed:
        return None
    customer_import = session.get(CustomerImport, import_id)
    attempt = customer_import.attempts
    if customer_import.status == ImportStatus.QUEUED:
        customer_import.status = ImportStatus.RUNNING
        customer_import.started_at = now
        session.commit()
    run = _Run(session, customer_import, attempt)
    try:
        with acting_as(customer_import.staff_id):
            return run.run()
    except _Superseded:
        session.rollback()
        return None
    except Exception:
        session.rollback()
        log.exception("Import %s failed on attempt %s", import_id, attempt)
        return _record_failure(session, import_id, attempt)


def _owned(import_id: int, attempt: int) -> tuple:
    return (
        CustomerImport.id == import_id,
        CustomerImport.attempts == attempt,
        CustomerImport.status.in_((ImportStatus.CHECKING, ImportStatus.RUNNING)),
    )


def _record_failure(session: Session, import_id: int, attempt: int) -> str | None:
    """An error mid-way: tried again shortly up to IMPORT_MAX_ATTEMPTS, then failed."""
    now = utcnow()
    if attempt < current_app.config["IMPORT_MAX_ATTEMPTS"]:
        values = {
            "heartbeat_at": None,
            "next_attempt_at": now + timedelta(seconds=min(300, 30 * attempt)),
            "last_error": f"Attempt {attempt} stopped on an error; it goes on shortly from "
            "where it stopped.",
        }
        status = None
    else:
        values = {
            "status": ImportStatus.FAILED,
            "finished_at": now,
            "last_error": f"The import stopped on an error {times(attempt)}; the details are "
            "in the server log. What it wrote before is kept.",
        }
        status = ImportStatus.FAILED
    changed = session.execute(
        update(CustomerImport).where(*_owned(import_id, attempt)).values(**values)
    ).rowcount
    session.commit()
    return status if changed else None


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Run:
    """One attempt at a dry run (``phase`` CHECK) or an import (IMPORT)."""

    def __init__(self, session: Session, customer_import: CustomerImport, attempt: int) -> None:
        # The session itself, not the app context's proxy: the writer thread uses it too.
        self.session = session() if isinstance(session, scoped_session) else session
        self.app = current_app._get_current_object()  # type: ignore[attr-defined]
        self.import_id = customer_import.id
        self.attempt = attempt
        self.phase = CHECK if customer_import.status == ImportStatus.CHECKING else IMPORT
        self.path = import_path(customer_import)
        self.delimiter = customer_import.delimiter
        self.mapping = mapping_of(customer_import)
        self.match_by = customer_import.match_by
        self.summary = f"Imported from {customer_import.file_name}"
        self.staff_id = customer_import.staff_id
        self.start_at = customer_import.rows_done
        self.checker = RowChecker(settings.customer_choices(session))
        self.match_column = {
            "customer_id": Customer.id,
            "external_id": Customer.external_id,
            "email": Customer.email,
        }[self.match_by]

    def run(self) -> str:
        """Chunk by chunk. While one chunk's new customers are written and committed (in a
        thread: the database works, Python waits), the next chunk is read and checked (in
        this thread: Python works); the session is never used by both at once."""
        size = current_app.config["IMPORT_CHUNK_SIZE"]
        rows = data_rows(self.path, self.delimiter, skip=self.start_at)
        writing: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer") as writer:
            try:
                for chunk in _chunks(rows, size):
                    prepared = self._prepare(chunk)  # no database: overlaps the write
                    if writing is not None:
                        writing.result()
                        writing = None
                    if self._claim_chunk():
                        return self._end(ImportStatus.CANCELLED)
                    finish = self._process(prepared)
                    if self.phase == IMPORT:
                        writing = writer.submit(self._in_app_context, finish)
                    else:
                        finish()
                if writing is not None:
                    writing.result()
                    writing = None
            finally:
                if writing is not None:  # this thread failed: let the write end first
                    with contextlib.suppress(Exception):
                        writing.result()
        return self._end(ImportStatus.CHECKED if self.phase == CHECK else ImportStatus.DONE)

    def _in_app_context(self, work: Callable[[], None]) -> None:
        """Run ``work`` in the writer thread as the job's own thread would: app context, and
        History naming the member of staff who started the import."""
        with self.app.app_context(), acting_as(self.staff_id):
            work()

    def _claim_chunk(self) -> bool:
        """Lock the import row for this chunk's transaction; True if cancel was asked."""
        state = self.session.execute(
            select(CustomerImport.attempts, CustomerImport.cancel_requested, CustomerImport.status)
            .where(CustomerImport.id == self.import_id)
            .with_for_update()
        ).one_or_none()
        if (
            state is None
            or state.attempts != self.attempt
            or state.status
            not in (
                ImportStatus.CHECKING,
                ImportStatus.RUNNING,
            )
        ):
            raise _Superseded
        return self.phase == IMPORT and state.cancel_requested

    def _commit_chunk(self, rows: int, counts: _Counts, problems: list[dict]) -> None:
        if problems:
            self.session.execute(
                insert(ImportProblem),
                [{"import_id": self.import_id, "phase": self.phase, **p} for p in problems],
            )
        rejected_rows = len({problem["row_number"] for problem in problems})
        values: dict = {"rows_done": CustomerImport.rows_done + rows, "heartbeat_at": utcnow()}
        if self.phase == CHECK:
            values["checked_rows"] = CustomerImport.checked_rows + rows
            values["checked_errors"] = CustomerImport.checked_errors + rejected_rows
        else:
            values["created_count"] = CustomerImport.created_count + counts.created
            values["updated_count"] = CustomerImport.updated_count + counts.updated
            values["unchanged_count"] = CustomerImport.unchanged_count + counts.unchanged
            values["rejected_count"] = CustomerImport.rejected_count + rejected_rows
        still_ours = self.session.execute(
            update(CustomerImport).where(*_owned(self.import_id, self.attempt)).values(**values)
        ).rowcount
        if not still_ours:
            raise _Superseded
        self.session.commit()
        # Nothing of a finished chunk is needed again: memory stays flat over the file.
        self.session.expunge_all()

    def _end(self, status: ImportStatus) -> str:
        now = utcnow()
        done = self.session.execute(
            update(CustomerImport)
            .where(*_owned(self.import_id, self.attempt))
            .values(status=status, finished_at=now, heartbeat_at=now, last_error="")
        ).rowcount
        if not done:
            self.session.rollback()
            raise _Superseded
        self.session.commit()
        return status

    # -- one chunk ---------------------------------------------------------------------

    def _key(self, values: dict[str, str]):
        """The row's value of the match field as stored, or None (a new customer)."""
        text = values.get(self.match_by, "")
        if not text:
            return None
        if self.match_by == "customer_id":
            return parse_customer_id(text) or ValueError(
                "A customer ID looks like C-000042; leave it empty to add a new customer."
            )
        if self.match_by == "email":
            try:
                return reference.normalise_email(text)
            except ValueError:
                return None  # the form's rules say what is wrong with it
        return text

    def _existing(self, keys: set) -> dict:
        """Key -> the customers that have it (more than one: an email shared by customers)."""
        found: dict = {}
        if not keys:
            return found
        for customer in self.session.scalars(select(Customer).where(self.match_column.in_(keys))):
            found.setdefault(getattr(customer, self.match_column.key), []).append(customer)
        return found

    def _locked_currencies(self, customers: Iterable[Customer]) -> set[int]:
        ids = [customer.id for customer in customers]
        if not ids:
            return set()
        return set(
            self.session.scalars(
                select(LedgerEntry.customer_id).where(LedgerEntry.customer_id.in_(ids)).distinct()
            )
        )

    def _prepare(self, chunk: list[tuple[int, list[str]]]) -> _Prepared:
        """A chunk read and checked as if every row were a new customer (most rows of a big
        file are); no database, so it can run while the previous chunk is written."""
        rows = [(number, cells_to_values(cells, self.mapping)) for number, cells in chunk]
        keyed = [(number, values, self._key(values)) for number, values in rows]
        as_new = {number: self.checker.check(values, None, None) for number, values, _k in keyed}
        return _Prepared(len(chunk), keyed, as_new)

    def _process(self, prepared: _Prepared) -> Callable[[], None]:
        """Match the chunk's rows, update the customers they match (here, under the chunk's
        transaction), and return what writes the new ones and commits the chunk."""
        counts = _Counts()
        problems: list[dict] = []

        def refuse(row_number: int, errors: dict[str, str]) -> None:
            for name, message in errors.items():
                problems.append({"row_number": row_number, "field": name, "message": message})

        keyed = prepared.keyed
        keys = {key for _n, _v, key in keyed if key is not None and not isinstance(key, Exception)}
        existing = self._existing(keys)
        locked = self._locked_currencies(c for found in existing.values() for c in found)
        # The customer each key has in this chunk so far: a second row with the same key
        # updates the customer the first row matched or added.
        pending: dict = {}
        new_rows: list[tuple[int, dict, object, bool]] = []  # (row, values, key, merged)
        updates: list[tuple[int, dict, Customer]] = []
        for number, values, key in keyed:
            if isinstance(key, Exception):
                refuse(number, {self.match_by: str(key)})
                continue
            if key is not None and key in pending:
                target = pending[key]
                if isinstance(target, int):  # a new customer added by an earlier row
                    merged = {**new_rows[target][1], **values}
                    new_rows[target] = (new_rows[target][0], merged, key, True)
                    checked = self.checker.check(merged, None, None)
                    if checked.errors:
                        refuse(number, checked.errors)
                    else:
                        counts.updated += 1
                    continue
                updates.append((number, values, target))
                continue
            found = existing.get(key, []) if key is not None else []
            if len(found) > 1:
                refuse(
                    number,
                    {
                        self.match_by: f"{len(found)} customers have this "
                        f"{MATCH_CHOICES[self.match_by].lower()}: match by another field."
                    },
                )
                continue
            if found:
                pending[key] = found[0]
                updates.append((number, values, found[0]))
                continue
            if self.match_by == "customer_id" and key is not None:
                refuse(
                    number,
                    {
                        "customer_id": f"No customer {format_customer_id(key)}: leave the "
                        "customer ID empty to add a new customer."
                    },
                )
                continue
            if key is not None:
                pending[key] = len(new_rows)
            new_rows.append((number, values, key, False))
        self._updates(updates, locked, counts, refuse)
        write = self._creates(new_rows, prepared.as_new, counts, refuse)

        def finish() -> None:
            write()
            self._commit_chunk(prepared.rows, counts, problems)

        return finish

    def _updates(self, updates, locked: set[int], counts: _Counts, refuse) -> None:
        session = self.session
        for number, values, customer in updates:
            lock = customer.currency if customer.id in locked else None
            checked = self.checker.check(values, customer, lock)
            if checked.errors:
                refuse(number, checked.errors)
                continue
            fields = checked.fields
            changed = any(getattr(customer, name) != value for name, value in fields.items())
            if checked.status is not None and checked.status != customer.status:
                changed = True
            if not changed:
                counts.unchanged += 1
                continue
            if self.phase == CHECK:
                counts.updated += 1
                continue
            try:
                with session.begin_nested():
                    customer_service.change_customer(session, customer, fields)
                    if checked.status is not None:
                        customer.status = checked.status
                    record(session, customer.id, "imported", self.summary, staff_id=self.staff_id)
            except customer_service.CustomerError as refusal:
                refuse(number, {refusal.field or "name": str(refusal)})
                continue
            counts.updated += 1

    def _creates(self, new_rows, as_new: dict, counts: _Counts, refuse) -> Callable[[], None]:
        """Check the new customers against the database; returns what writes them."""
        checked_rows = []
        external_ids = set()
        for number, values, _key, merged in new_rows:
            checked = self.checker.check(values, None, None) if merged else as_new[number]
            if checked.errors:
                refuse(number, checked.errors)
                continue
            external_id = checked.fields.get("external_id")
            if external_id is not None:
                if external_id in external_ids:
                    refuse(
                        number, {"external_id": "Another row of this file has this external ID."}
                    )
                    continue
                external_ids.add(external_id)
            checked_rows.append((number, checked))
        taken = set()
        if external_ids:
            taken = set(
                self.session.scalars(
                    select(Customer.external_id).where(Customer.external_id.in_(external_ids))
                )
            )
        ready = []
        for number, checked in checked_rows:
            external_id = checked.fields.get("external_id")
            if external_id in taken:
                refuse(number, {"external_id": "Another customer already has this external ID."})
                continue
            ready.append((number, checked))
        if self.phase == CHECK:
            counts.created += len(ready)
            return lambda: None

        def write() -> None:
            results = customer_service.add_customers(
                self.session,
                [(checked.fields, checked.status) for _n, checked in ready],
                {"kind": "imported", "summary": self.summary, "staff_id": self.staff_id},
            )
            for (number, _checked), result in zip(ready, results, strict=True):
                if isinstance(result, customer_service.CustomerError):
                    refuse(number, {result.field or "name": str(result)})
                    continue
                counts.created += 1

        return write


# -- the sweeper ---------------------------------------------------------------------------


def due_to_run(session: Session, now: datetime | None = None) -> list[int]:
    """Imports to enqueue again: a dry run or import whose worker was lost (its heartbeat is
    stale) or whose job never started; failed once out of attempts, cancelled if asked."""
    now = now or utcnow()
    max_attempts = current_app.config["IMPORT_MAX_ATTEMPTS"]
    working = CustomerImport.status.in_(
        (ImportStatus.CHECKING, ImportStatus.QUEUED, ImportStatus.RUNNING)
    )
    stale = and_(working, CustomerImport.heartbeat_at < _stale_before(now))
    session.execute(
        update(CustomerImport)
        .where(stale, CustomerImport.cancel_requested.is_(True))
        .values(status=ImportStatus.CANCELLED, finished_at=now)
    )
    session.execute(
        update(CustomerImport)
        .where(stale, CustomerImport.attempts >= max_attempts)
        .values(
            status=ImportStatus.FAILED,
            finished_at=now,
            last_error=f"The import stopped {times(max_attempts)} before it finished (the "
            "worker running it was lost). What it wrote before is kept.",
        )
    )
    lease = timedelta(seconds=current_app.config["IMPORT_STALE_AFTER_SECONDS"])
    ids = list(
        session.scalars(
            select(CustomerImport.id)
            .where(
                working,
                or_(
                    CustomerImport.heartbeat_at.is_(None),
                    CustomerImport.heartbeat_at < _stale_before(now),
                ),
                CustomerImport.next_attempt_at <= now,
            )
            .limit(100)
        )
    )
    if ids:
        session.execute(
            update(CustomerImport)
            .where(CustomerImport.id.in_(ids))
            .values(
                next_attempt_at=now + lease,
                last_error="The worker running this import was lost; it goes on from where "
                "it stopped.",
            )
        )
    session.commit()
    return ids


def remove_old_files(session: Session, now: datetime | None = None) -> int:
    """Delete uploads of imports finished more than IMPORT_KEEP_DAYS ago (and of ones never
    started); their rejected rows can no longer be downloaded."""
    now = now or utcnow()
    before = now - timedelta(days=current_app.config["IMPORT_KEEP_DAYS"])
    old = session.scalars(
        select(CustomerImport).where(
            CustomerImport.stored_name != "",
            or_(
                CustomerImport.finished_at < before,
                and_(
                    CustomerImport.status.in_((ImportStatus.MAPPING, ImportStatus.CHECKED)),
                    CustomerImport.created_at < before,
                ),
            ),
        )
    ).all()
    paths = [import_path(customer_import) for customer_import in old]
    for customer_import in old:
        customer_import.stored_name = ""
    session.commit()
    for path in paths:
        path.unlink(missing_ok=True)
    return len(paths)


# -- results -------------------------------------------------------------------------------


def problems(session: Session, customer_import: CustomerImport, phase: str, limit: int):
    """The first ``limit`` problems of a phase, by row number."""
    return session.scalars(
        select(ImportProblem)
        .where(ImportProblem.import_id == customer_import.id, ImportProblem.phase == phase)
        .order_by(ImportProblem.row_number, ImportProblem.id)
        .limit(limit)
    ).all()


def field_label(name: str) -> str:
    return FIELDS.get(name, name.replace("_", " ").capitalize())


def rejected_rows_csv(session: Session, customer_import: CustomerImport) -> Iterator[str]:
    """The rows the import refused, as CSV text in pieces: the file's own columns, then "row"
    and "reason" ("Email: …; Country: …"); cells neutralised against spreadsheet formulas."""
    if not customer_import.stored_name or not import_path(customer_import).is_file():
        raise ImportRefused("The uploaded file of this import was deleted after a week.")
    reasons: dict[int, list[str]] = {}
    for number, name, message in session.execute(
        select(ImportProblem.row_number, ImportProblem.field, ImportProblem.message)
        .where(ImportProblem.import_id == customer_import.id, ImportProblem.phase == IMPORT)
        .order_by(ImportProblem.row_number, ImportProblem.id)
    ):
        reasons.setdefault(number, []).append(f"{field_label(name)}: {message}")
    headers = headers_of(customer_import)
    path, delimiter = import_path(customer_import), customer_import.delimiter

    def pieces() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([*[neutralise(h) for h in headers], "row", "reason"])
        for number, cells in data_rows(path, delimiter):
            if number in reasons:
                writer.writerow(
                    [*[neutralise(cell) for cell in cells], number, "; ".join(reasons[number])]
                )
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return pieces()
