"""Deliver recorded emails."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import mailer


def send_email(email_id: int) -> str | None:
    """Send one recorded email unless it was sent already; a failure is recorded on
    the row and retried by the sweeper after the back-off."""
    return mailer.deliver(db.session, email_id)
