"""The sweeper: hand back waiting work, remove expired files and expired staff sessions.

Run periodically by the RQ worker (every ``JOBS_SWEEP_SECONDS``), by the
in-process job thread, and on demand by ``flask --app wsgi jobs sweep``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from webapp.extensions import db, jobs
from webapp.services import bulk, customer_sessions, exports, imports, mailer, staff_sessions


@dataclass
class SweepResult:
    emails: int
    exports: int
    expired_files: int
    expired_sessions: int = 0
    imports: int = 0


def sweep() -> SweepResult:
    """Re-enqueue emails past their next attempt, and exports and customer imports whose job was
    lost; delete expired export files, old import uploads, expired staff and customer sessions."""
    email_ids = mailer.due_for_delivery(db.session)
    export_ids = exports.due_to_run(db.session)
    for email_id in email_ids:
        jobs.enqueue(mailer.SEND_EMAIL_JOB, email_id)
    for export_id in export_ids:
        jobs.enqueue(exports.RUN_EXPORT_JOB, export_id)
    import_ids = imports.due_to_run(db.session)
    for import_id in import_ids:
        jobs.enqueue(imports.RUN_IMPORT_JOB, import_id)
    for bulk_id in bulk.due_to_run(db.session):
        jobs.enqueue(bulk.RUN_BULK_JOB, bulk_id)
    expired_imports = imports.remove_old_files(db.session)
    expired = exports.remove_expired_files(db.session)
    policy = staff_sessions.policy_from_config(current_app.config)
    sessions = staff_sessions.remove_expired(db.session, policy)
    sessions += customer_sessions.remove_expired(db.session, policy)
    db.session.commit()
    return SweepResult(
        len(email_ids), len(export_ids), expired + expired_imports, sessions, len(import_ids)
    )
