"""Recorded email: every message is a row first, then a job delivers it.

``queue_email`` renders the message and writes the row in the caller's
transaction; the job (``jobs.emails.send_email``) is enqueued after that commit.
``deliver`` claims the row (queued → sending) before it talks to the mail server
(an invoice or credit-note email gets its document's PDF attached then, made by the job,
and a statement email the statement's),
so a retried or duplicated job never sends a message twice, and records the
outcome: sent, or queued again after a back-off, or failed with the reason once
the attempts are used up. ``due_for_delivery`` is the sweeper's half: it finds
what is still waiting (Redis was down, a worker died) and hands it back.
"""

from __future__ import annotations

import smtplib
import socket
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_mail import Connection, Message
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from webapp.extensions import jobs
from webapp.models.base import utcnow
from webapp.models.email import Email, EmailStatus
from webapp.paging import FIRST, Keyset, Page, PageAt, keyset_page
from webapp.services import (
    document_pdf,
    email_address_state,
    history,
    reminder_stops,
    statement_pdf,
)
from webapp.services.account_link_tokens import AccountLinkError, fill_in_account_link
from webapp.services.document_pdf import Attachment, DocumentPdfError
from webapp.services.payment_link_tokens import PaymentLinkError, fill_in_link
from webapp.services.sweeping import lease_due, times

SEND_EMAIL_JOB = "jobs.emails.send_email"
RESENDABLE = frozenset({EmailStatus.FAILED, EmailStatus.NOT_SENT})
NO_MAIL_SERVER = "Not delivered: no mail server is configured (MAIL_SERVER)."

# Password-reset emails (and invites, by their account_token_id): the link is filled in when sent.
ACCOUNT_LINK_KINDS = frozenset({"account_reset"})

STATUS_LABELS = {status: status.label for status in EmailStatus}


def can_resend(email: Email) -> bool:
    """Resend is offered for an email that failed or was never delivered."""
    return email.status in RESENDABLE


class EmailError(Exception):
    """A request about an email that cannot be done; the message says why."""


def queue_email(
    session: Session,
    *,
    kind: str,
    name: str,
    recipient: str,
    subject: str,
    template: str,
    customer_id: int | None = None,
    staff_id: int | None = None,
    **context: Any,
) -> Email:
    """Render ``emails/<template>`` now, record it in the caller's transaction; sent after commit.
    The seller is SELLER_NAME unless given (an invoice's legal entity)."""
    context["subject"] = subject
    context.setdefault("seller_name", current_app.config["SELLER_NAME"])
    email = Email(
        kind=kind,
        name=name,
        recipient=recipient,
        subject=subject,
        html_body=render_template(f"mail/{template}.html", **context),
        text_body=render_template(f"mail/{template}.txt", **context),
        customer_id=customer_id,
        staff_id=staff_id,
        status=EmailStatus.QUEUED,
        next_attempt_at=_requeue_time(utcnow()),
    )
    session.add(email)
    session.flush()
    jobs.enqueue_after_commit(session, SEND_EMAIL_JOB, email.id)
    return email


def deliver(session: Session, email_id: int) -> str | None:
    """Send one recorded email if still waiting; returns its status, or None if nothing to do."""
    now = utcnow()
    claimed = session.execute(
        update(Email)
        .where(
            Email.id == email_id,
            Email.status == EmailStatus.QUEUED,
            or_(Email.retry_at.is_(None), Email.retry_at <= now),
        )
        .values(status=EmailStatus.SENDING, attempts=Email.attempts + 1, claimed_at=now)
    ).rowcount
    session.commit()
    if not claimed:
        return None
    email = session.get(Email, email_id)
    if email is None:  # its customer was deleted between the claim and now
        session.rollback()
        return None
    outcome = _attempt(session, email)
    permanent = outcome.pop(_PERMANENT, False)
    # Only this claim's outcome is written: should the sweeper have taken a very slow
    # send for lost and handed the email to another job, that job's result stands.
    written = session.execute(
        update(Email)
        .where(Email.id == email_id, Email.status == EmailStatus.SENDING, Email.claimed_at == now)
        .values(**outcome)
    ).rowcount
    if written and outcome["status"] == EmailStatus.SENT and email.customer_id is not None:
        history.record(
            session,
            email.customer_id,
            "email.sent",
            f"Email sent: {email.name}",
            staff_id=email.staff_id,
            field="recipient",
            new=email.recipient,
            personal=True,
        )
    if written and permanent:
        # A 5xx for the customer's own address: it will not get better, say so on the Profile.
        email_address_state.mark_undeliverable(session, email, outcome["last_error"])
    session.commit()
    return outcome["status"]


# Set in an outcome (and taken out before it is written) when the server refused for good.
_PERMANENT = "_permanent_refusal"


def _attempt(session: Session, email: Email) -> dict[str, Any]:
    """Talk to the mail server once; the column values that record the outcome."""
    stop = reminder_stops.stop_reason(session, email)
    if stop is not None:
        return {"status": EmailStatus.CANCELLED, "last_error": stop}
    if not mail_configured():
        return {"status": EmailStatus.NOT_SENT, "last_error": NO_MAIL_SERVER}
    html, text = email.html_body, email.text_body
    if email.payment_link_id is not None:
        try:
            html, text = fill_in_link(session, email)
        except PaymentLinkError as refusal:
            return {"status": EmailStatus.FAILED, "last_error": str(refusal)}
    if email.account_token_id is not None or email.kind in ACCOUNT_LINK_KINDS:
        try:
            html, text = fill_in_account_link(session, email)
        except AccountLinkError as refusal:
            return {"status": EmailStatus.FAILED, "last_error": str(refusal)}
    try:
        filled = email_address_state.fill_in_verification_link(session, email)
    except email_address_state.VerificationLinkError as refusal:
        return {"status": EmailStatus.FAILED, "last_error": str(refusal)}
    if filled is not None:
        html, text = filled
    try:
        attachments = [
            *document_pdf.attachments_for(session, email),
            *statement_pdf.attachments_for(session, email),
        ]
    except DocumentPdfError as refusal:
        return {"status": EmailStatus.FAILED, "last_error": str(refusal)}
    except Exception as error:
        # A PDF that cannot be made will not be made on a retry either.
        return {"status": EmailStatus.FAILED, "last_error": f"The PDF could not be made: {error}"}
    try:
        _send(email, html, text, attachments)
    except (smtplib.SMTPException, OSError) as error:
        outcome = _failure(email.attempts, error, utcnow())
        if _is_permanent(error):
            outcome[_PERMANENT] = True
        return outcome
    except Exception as error:
        # Anything else (a header Flask-Mail refuses …) will not get better by retrying;
        # record it rather than leave the row "sending".
        return {"status": EmailStatus.FAILED, "last_error": f"Sending failed: {error}"}
    return {"status": EmailStatus.SENT, "sent_at": utcnow(), "last_error": "", "retry_at": None}


def mail_configured() -> bool:
    """Whether a mail server is set. Flask-Mail copies its settings when the app is
    created, so this asks the extension, not the (changeable) config."""
    return bool(current_app.config.get("MAIL_SERVER")) and bool(
        current_app.extensions["mail"].server
    )


def _send(email: Email, html: str, text: str, attachments: list[Attachment]) -> None:
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    message = Message(
        subject=email.subject,
        recipients=[email.recipient],
        body=text,
        html=html,
        sender=sender,
    )
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content_type, attachment.data)
    message.msgId = message_id(email, sender)
    state = current_app.extensions["mail"]
    with _TimedConnection(state, current_app.config["MAIL_TIMEOUT_SECONDS"]) as connection:
        connection.send(message)


def message_id(email: Email, sender: str) -> str:
    """The same Message-ID on every attempt, so a receiving server can drop a copy
    should a crash between delivery and bookkeeping send it again."""
    domain = sender.rpartition("@")[2].strip("> ") or "tally.invalid"
    return f"<tally-email-{email.id}@{domain}>"


class _TimedConnection(Connection):
    """Flask-Mail's connection with a timeout, so a stalled server cannot hold the job for ever."""

    def __init__(self, state, timeout: int) -> None:
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self) -> smtplib.SMTP:
        smtp_class = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=self.timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def _is_permanent(error: Exception) -> bool:
    """5xx answers (unknown mailbox, rejected sender …) will not change on a retry."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reason = next(iter(error.recipients.values()))
        return f"The mail server refused the recipient ({code} {reason.decode(errors='replace')})."
    if isinstance(error, smtplib.SMTPResponseException):
        reason = error.smtp_error
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        return f"The mail server answered {error.smtp_code}: {text}"
    if isinstance(error, ConnectionRefusedError | socket.gaierror | TimeoutError):
        state = current_app.extensions["mail"]
        server = f"{state.server}:{state.port}"
        return f"Could not reach the mail server {server} ({error})."
    return f"Sending failed: {error}"


def _failure(attempts: int, error: Exception, now: datetime) -> dict[str, Any]:
    """Failed, or queued again after the back-off for this attempt."""
    backoff = current_app.config["MAIL_RETRY_BACKOFF"]
    if _is_permanent(error) or attempts > len(backoff):
        return {"status": EmailStatus.FAILED, "last_error": _describe(error)}
    retry_at = now + timedelta(seconds=backoff[attempts - 1])
    return {
        "status": EmailStatus.QUEUED,
        "last_error": _describe(error),
        "retry_at": retry_at,
        "next_attempt_at": retry_at,
    }


def _requeue_time(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config["MAIL_REQUEUE_AFTER_SECONDS"])


def due_for_delivery(session: Session, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Emails to enqueue again (queued past their next attempt, or a dead job's send); each gets a
    new next attempt, so the next sweep leaves it to the job it gets now."""
    now = now or utcnow()
    stale = now - timedelta(seconds=current_app.config["MAIL_REQUEUE_AFTER_SECONDS"])
    lost = and_(Email.status == EmailStatus.SENDING, Email.claimed_at < stale)
    max_attempts = len(current_app.config["MAIL_RETRY_BACKOFF"]) + 1
    session.execute(
        update(Email)
        .where(lost, Email.attempts >= max_attempts)
        .values(
            status=EmailStatus.FAILED,
            last_error=f"The job sending this email stopped {times(max_attempts)}.",
        )
    )
    session.execute(
        update(Email)
        .where(lost)
        .values(
            status=EmailStatus.QUEUED,
            next_attempt_at=now,
            last_error="The job sending this email stopped; it is sent again.",
        )
    )
    ids = lease_due(
        session,
        Email,
        EmailStatus.QUEUED,
        now,
        timedelta(seconds=current_app.config["MAIL_REQUEUE_AFTER_SECONDS"]),
    )
    session.commit()
    return ids


def resend(session: Session, customer_id: int, email_id: int) -> Email:
    """Queue a failed (or never delivered) email again, as it was first rendered."""
    email = customer_email(session, customer_id, email_id)
    if email is None:
        raise EmailError("There is no such email for this customer.")
    if not email.recipient:
        raise EmailError(
            f"{email.name} was cleared with the customer's personal data: "
            "it has no recipient and cannot be sent again."
        )
    now = utcnow()
    changed = session.execute(
        update(Email)
        .where(Email.id == email.id, Email.status.in_(RESENDABLE))
        .values(
            status=EmailStatus.QUEUED,
            attempts=0,
            retry_at=None,
            next_attempt_at=_requeue_time(now),
        )
    ).rowcount
    if not changed:
        session.rollback()
        raise EmailError(
            f"{email.name} is {STATUS_LABELS[email.status].lower()}; "
            "only a failed or undelivered email can be sent again."
        )
    jobs.enqueue_after_commit(session, SEND_EMAIL_JOB, email.id)
    session.commit()
    session.refresh(email)
    return email


def customer_email(session: Session, customer_id: int, email_id: int) -> Email | None:
    """One of a customer's emails (None when it belongs to someone else)."""
    email = session.get(Email, email_id)
    return email if email is not None and email.customer_id == customer_id else None


def emails_page(session: Session, customer_id: int, at: PageAt = FIRST) -> Page:
    """A customer's emails, newest first."""
    statement = select(Email).where(Email.customer_id == customer_id)
    return keyset_page(session, statement, Keyset((Email.id,), ("id",)), at)
