"""Deliver recorded emails."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import mailer


def send_email(email_id: int) -> str | None:
    """Send a recorded email unless already sent; a failure is recorded, the sweeper retries it."""
    return mailer.deliver(db.session, email_id)
