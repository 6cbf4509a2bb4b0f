"""CSV import of customers (Customers → Import, admins only).

An import goes: upload (``upload``: the file is checked, kept under IMPORT_DIR and its
columns mapped by ``mapping.guess_mapping``), mapping (staff change any column and choose
how rows match existing customers), dry run (``start_dry_run``: every row checked by the
customer form's own rules, nothing written), import (``start_import``). The dry run and
the import are one RQ job (``jobs.imports.run_import``) that streams the file a chunk at
a time (IMPORT_CHUNK_SIZE rows): each chunk's customers, its refused rows and the cursor
(``rows_done``) commit in one transaction, so a worker killed mid-way loses at most the
chunk in flight, and the next attempt (the sweeper hands a stale one back, as exports are)
starts at the cursor without doubling rows. Cancel stops a running import between chunks.

The package, by what each part does: ``reading`` (decoding, the delimiter, the header row,
streaming rows), ``mapping`` (presets and common header names), ``checking`` (a row as the
form's fields) and ``running`` (the steps, the job, the sweeper's part, rejected rows).
"""

from __future__ import annotations

from webapp.services.imports.mapping import (
    FIELDS,
    MATCH_CHOICES,
    PRESET_LABELS,
    SKIP_LABEL,
    guess_mapping,
    recognise,
)
from webapp.services.imports.reading import ImportFileError
from webapp.services.imports.running import (
    CHECK,
    IMPORT,
    LISTED_PROBLEMS,
    RUN_IMPORT_JOB,
    ImportRefused,
    cancel,
    columns,
    due_to_run,
    field_label,
    headers_of,
    import_path,
    mapping_of,
    problems,
    rejected_rows_csv,
    remove_old_files,
    run_import,
    start_dry_run,
    start_import,
    upload,
)

__all__ = [
    "CHECK",
    "FIELDS",
    "IMPORT",
    "LISTED_PROBLEMS",
    "MATCH_CHOICES",
    "PRESET_LABELS",
    "RUN_IMPORT_JOB",
    "SKIP_LABEL",
    "ImportFileError",
    "ImportRefused",
    "cancel",
    "columns",
    "due_to_run",
    "field_label",
    "guess_mapping",
    "headers_of",
    "import_path",
    "mapping_of",
    "problems",
    "recognise",
    "rejected_rows_csv",
    "remove_old_files",
    "run_import",
    "start_dry_run",
    "start_import",
    "upload",
]
