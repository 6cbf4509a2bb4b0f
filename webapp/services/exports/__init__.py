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

The package, by what each part does: ``csv_writing`` (the file's columns and rows,
neutralised against spreadsheet formulas), ``job`` (starting an export, the job that
writes it, what to run again, withdrawing exports when a customer in them goes) and
``files`` (where a file lives, the email saying it is ready, who may download it, and
deleting it).
"""

from __future__ import annotations

from webapp.services.exports.csv_writing import COLUMNS, FORMULA_STARTS, HEADINGS, neutralise
from webapp.services.exports.files import (
    STATUS_LABELS,
    ExportError,
    can_download,
    delete_files,
    download_url,
    downloadable_file,
    export_path,
    exports_page,
    finished_files,
    remove_expired_files,
)
from webapp.services.exports.job import (
    RUN_EXPORT_JOB,
    due_to_run,
    run_export,
    start_export,
    withdraw_exports,
)

__all__ = [
    "COLUMNS",
    "FORMULA_STARTS",
    "HEADINGS",
    "RUN_EXPORT_JOB",
    "STATUS_LABELS",
    "ExportError",
    "can_download",
    "delete_files",
    "download_url",
    "downloadable_file",
    "due_to_run",
    "export_path",
    "exports_page",
    "finished_files",
    "neutralise",
    "remove_expired_files",
    "run_export",
    "start_export",
    "withdraw_exports",
]
