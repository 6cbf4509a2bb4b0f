"""Email statement: the statement of a period to the customer and every contact who wants
billing emails, each a recorded email (the Emails tab, its delivery state, History) sent
by the email job, which attaches the statement's PDF (``statement_pdf.attachments_for``).

Kept apart from ``statements`` (the read model) because the email job, through the mailer,
reads statements to attach them: the mailer cannot be imported by what it imports.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from webapp.models.email import Email
from webapp.services import guard, history
from webapp.services.contacts import billing_recipients
from webapp.services.mailer import queue_email
from webapp.services.statements import (
    EMAIL_KIND,
    Period,
    StatementError,
    statement_for,
    statement_name,
)

NO_RECIPIENT = (
    "{name} has no email address and no contact who wants billing emails: "
    "add one before emailing the statement."
)


def email_statement(
    session: Session, customer_id: int, period: Period, staff_id: int | None
) -> list[Email]:
    """One recorded email per billing recipient (the customer's address, then each contact
    who wants billing emails, as invoices go), written with a History line in one
    transaction under the customer's lock and sent by the job after the commit. Raises
    ``StatementError`` when there is no one to send it to (nothing is written), and
    ``guard.CustomerCleared`` / ``CustomerGone`` as every change to a customer does."""
    customer = guard.lock_editable(session, customer_id)
    recipients = billing_recipients(session, customer)
    if not recipients:
        session.rollback()  # let go of the customer's lock
        raise StatementError(NO_RECIPIENT.format(name=customer.name))
    statement = statement_for(session, customer, period)
    name = statement_name(period)
    emails = [
        queue_email(
            session,
            kind=EMAIL_KIND,
            name=name,
            recipient=recipient,
            subject=f"{name} from {statement.seller.name}",
            template="statement",
            customer_id=customer.id,
            staff_id=staff_id,
            seller_name=statement.seller.name,
            statement=statement,
        )
        for recipient in recipients
    ]
    history.record(
        session,
        customer.id,
        "email.statement",
        f"Emailed the statement for {period.start.isoformat()} to {period.end.isoformat()}.",
        staff_id=staff_id,
        field="recipient",
        new=", ".join(recipients),
        personal=True,
    )
    session.commit()
    return emails
