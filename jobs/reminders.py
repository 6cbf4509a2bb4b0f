"""Payment reminders, run on a schedule (every REMINDERS_EVERY_SECONDS; see jobs.worker and
webapp.jobqueue) and on demand by ``flask --app wsgi jobs reminders``."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import reminders


def send_reminders() -> int:
    """Send the reminders due now; returns how many (one per invoice and step)."""
    return reminders.send_due_reminders(db.session).reminders
