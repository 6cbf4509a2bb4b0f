"""Recorded emails: what a charge records, delivery to a real SMTP server, retries,
the sweeper, and the Emails tab, email page and Resend over HTTP."""

from __future__ import annotations

import json
import re
import socket
from datetime import date, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from flask import current_app
from sqlalchemy import func, select

from jobs.emails import send_email
from jobs.maintenance import sweep
from tests.conftest import csrf_token_from, free_port, make_app
from webapp.extensions import db as _db
from webapp.models.base import utcnow
from webapp.models.billing import Invoice
from webapp.models.customer import Customer
from webapp.models.email import Email, EmailStatus
from webapp.services import mailer
from webapp.services.billing import capture_one_time_charge
from webapp.services.ledger import LedgerError, RepeatedEntryError

TODAY = date(2026, 1, 31)


# -- helpers and fixtures -------------------------------------------------------------


def seller() -> str:
    return current_app.config["SELLER_NAME"]


def count_emails(db, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(Email).where(*where))


def only_email(db) -> Email:
    db.session.expire_all()
    emails = db.session.scalars(select(Email)).all()
    assert len(emails) == 1, emails
    return emails[0]


def capture(db, customer_id, minor, *, key=None, description="Workshop", allow_repeat=True):
    return capture_one_time_charge(
        db.session,
        customer_id,
        amount_minor=minor,
        currency="EUR",
        description=description,
        actor_id=None,
        key=key,
        today=TODAY,
        allow_repeat=allow_repeat,
    )


def record_email(db, customer_id, **fields) -> Email:
    """An email row written directly (no job), for what the pages show."""
    values = {
        "kind": "invoice",
        "name": "Invoice INV-000042",
        "recipient": "euro@example.com",
        "subject": "Invoice INV-000042 from Tally",
        "html_body": "<p>Hello</p>",
        "text_body": "Hello",
        "status": EmailStatus.SENT,
        "attempts": 1,
        "last_error": "",
        "created_at": datetime(2026, 1, 31, 9, 30),
        "next_attempt_at": datetime(2026, 1, 31, 9, 33),
        **fields,
    }
    email = Email(customer_id=customer_id, **values)
    db.session.add(email)
    db.session.commit()
    return email


@pytest.fixture
def customer(euro_customer):
    return euro_customer


class RefusingHandler:
    """An SMTP server that answers every RCPT TO with ``reply``."""

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.data_received = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return self.reply

    async def handle_DATA(self, server, session, envelope):
        self.data_received += 1
        return "250 OK"


@pytest.fixture
def refusing_smtp(app, database_url, instance_dir, request):
    handler = RefusingHandler(request.param)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    mail_app = make_app(
        database_url, instance_dir, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False
    )
    try:
        with mail_app.app_context():
            yield handler
            _db.session.remove()
            _db.engine.dispose()
    finally:
        controller.stop()


# -- what a charge records --------------------------------------------------------------


def test_an_invoice_records_one_email_to_the_customer(db, customer):
    result = capture(db, customer.id, 10000)
    email = only_email(db)
    assert email.kind == "invoice"
    assert email.name == "Invoice INV-000001" == f"Invoice {result.invoice.number}"
    assert email.recipient == "euro@example.com"
    assert email.customer_id == customer.id
    assert email.subject == f"Invoice INV-000001 from {seller()}"
    for body in (email.html_body, email.text_body):
        assert "INV-000001" in body
        assert "€119.00" in body  # the total with 19 % tax
        assert "2026-02-14" in body  # due after 14 days
        assert "Euro Customer" in body
    assert "<table" in email.html_body and "<" not in email.text_body
    # No MAIL_SERVER in the tests' app: the job ran after the commit and said why.
    assert email.status == EmailStatus.NOT_SENT
    assert email.last_error == mailer.NO_MAIL_SERVER
    assert "MAIL_SERVER" in email.last_error
    assert email.attempts == 1 and email.sent_at is None


def test_a_credit_records_a_credit_note_email(db, customer):
    capture(db, customer.id, -2500, description="Goodwill")
    email = only_email(db)
    assert (email.kind, email.name) == ("credit_note", "Credit note CN-000001")
    assert email.subject == f"Credit note CN-000001 from {seller()}"
    assert email.recipient == "euro@example.com"
    for body in (email.html_body, email.text_body):
        assert "€25.00" in body and "Goodwill" in body and "2026-01-31" in body


def test_customer_text_is_escaped_in_the_html_body(db, make_customer):
    hostile = make_customer(name="<b onmouseover=x>Eve</b>", email="eve@example.com")
    capture(db, hostile.id, 1000)
    email = only_email(db)
    assert "&lt;b onmouseover=x&gt;Eve&lt;/b&gt;" in email.html_body
    assert "<b onmouseover" not in email.html_body
    assert "<b onmouseover=x>Eve</b>" in email.text_body  # plain text stays as typed


def test_a_refused_credit_leaves_no_email(db, customer):
    card = db.session.get(Customer, customer.id)
    card.payment_gateway = "card_refunds_only"
    db.session.commit()
    with pytest.raises(LedgerError, match="does not support credit notes"):
        capture(db, customer.id, -2500)
    assert count_emails(db) == 0
    # Nothing was left waiting for the next commit either: a later invoice makes one email.
    capture(db, customer.id, 1000)
    assert count_emails(db) == 1


def test_a_repeat_refused_after_the_invoice_was_numbered_leaves_no_email(db, customer):
    capture(db, customer.id, 1000, key="first")
    with pytest.raises(RepeatedEntryError):
        capture(db, customer.id, 1000, key="second", allow_repeat=False)
    assert count_emails(db) == 1
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_a_replayed_charge_records_no_second_email(db, customer):
    capture(db, customer.id, 1000, key="same")
    again = capture(db, customer.id, 1000, key="same")
    assert again.replayed
    assert count_emails(db) == 1


def test_a_customer_without_an_email_address_gets_no_email(db, make_customer):
    silent = make_customer(name="No Mail", email="")
    capture(db, silent.id, 1000)
    assert count_emails(db) == 0


# -- delivery to a real SMTP server -------------------------------------------------------


def test_delivery_sends_one_multipart_message_once(smtp_app, db, customer, smtp):
    capture(db, customer.id, 10000)
    email = only_email(db)
    assert email.status == EmailStatus.SENT
    assert email.sent_at is not None and email.last_error == "" and email.attempts == 1
    assert len(smtp.messages) == 1
    message = smtp.to("euro@example.com")[0]
    assert message["X-Envelope-To"] == "euro@example.com"
    assert message["To"] == "euro@example.com"
    assert message["Subject"] == f"Invoice INV-000001 from {seller()}"
    assert message["From"] == smtp_app.config["MAIL_DEFAULT_SENDER"]
    assert re.fullmatch(rf"<tally-email-{email.id}@[^>]+>", message["Message-ID"])
    # Flask-Mail wraps the alternatives in multipart/mixed (for attachments).
    assert message.is_multipart()
    alternatives = [p for p in message.walk() if p.get_content_type() == "multipart/alternative"]
    assert len(alternatives) == 1
    kinds = [part.get_content_type() for part in alternatives[0].iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "€119.00" in text and "2026-02-14" in text
    assert "€119.00" in html and "<table" in html

    # The job run again (a retried or duplicated job) finds it sent and does nothing.
    assert mailer.deliver(db.session, email.id) is None
    assert send_email(email.id) is None
    assert len(smtp.messages) == 1
    db.session.expire_all()
    assert db.session.get(Email, email.id).attempts == 1


def test_the_message_id_is_the_same_on_every_attempt(smtp_app, db, customer, smtp):
    capture(db, customer.id, 10000)
    email = only_email(db)
    # A crash between delivery and bookkeeping: the row is queued again and re-sent.
    email.status = EmailStatus.QUEUED
    db.session.commit()
    assert mailer.deliver(db.session, email.id) == EmailStatus.SENT
    assert len(smtp.messages) == 2
    first, second = (message["Message-ID"] for message in smtp.messages)
    assert first == second
    assert first.startswith(f"<tally-email-{email.id}@")


def test_an_unreachable_server_is_retried_after_the_back_off_then_fails(
    smtp_app, db, customer, smtp
):
    smtp_app.config["MAIL_RETRY_BACKOFF"] = (60, 300)
    smtp.stop()
    before = utcnow()
    capture(db, customer.id, 10000)
    email = only_email(db)
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 1)
    assert f"Could not reach the mail server 127.0.0.1:{smtp.port}" in email.last_error
    wait = email.next_attempt_at - before
    assert timedelta(seconds=59) < wait < timedelta(seconds=120)
    assert email.retry_at == email.next_attempt_at

    # A copy of the job arriving during the back-off (the sweeper of another process
    # enqueued it) does not try early.
    assert mailer.deliver(db.session, email.id) is None
    assert only_email(db).attempts == 1

    def back_off_ends():
        email = only_email(db)
        email.retry_at = utcnow() - timedelta(seconds=1)
        db.session.commit()

    back_off_ends()
    before = utcnow()
    assert mailer.deliver(db.session, email.id) == EmailStatus.QUEUED
    email = only_email(db)
    assert email.attempts == 2
    assert timedelta(seconds=299) < email.next_attempt_at - before < timedelta(seconds=360)

    # The back-off list is used up: the third failure is final.
    back_off_ends()
    assert mailer.deliver(db.session, email.id) == EmailStatus.FAILED
    email = only_email(db)
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 3)
    assert "Could not reach the mail server" in email.last_error
    assert mailer.deliver(db.session, email.id) is None  # a failed email is not retried
    assert smtp.messages == []

    # Back up: Resend delivers it, as it was first rendered.
    smtp.start()
    resent = mailer.resend(db.session, customer.id, email.id)
    assert resent.status == EmailStatus.SENT
    assert resent.attempts == 1 and resent.last_error == ""
    assert len(smtp.to("euro@example.com")) == 1
    assert smtp.messages[0].get_body(("html",)).get_content().count("€119.00") >= 1


def test_a_mail_server_that_never_answers_is_given_up_on(
    app, db, customer, database_url, instance_dir
):
    """A server that accepts the connection and then says nothing (no greeting) must
    not hold the job: the attempt times out after MAIL_TIMEOUT_SECONDS and is retried."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        stalled = make_app(
            database_url,
            instance_dir,
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=port,
            MAIL_TIMEOUT_SECONDS=1,
        )
        with stalled.app_context():
            capture(db, customer.id, 10000)
            email = only_email(db)
            _db.session.remove()
            _db.engine.dispose()
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 1)
    assert "timed out" in email.last_error


@pytest.mark.parametrize("refusing_smtp", ["550 5.1.1 No such mailbox here"], indirect=True)
def test_a_permanent_refusal_fails_at_once(refusing_smtp, db, customer):
    capture(db, customer.id, 10000)
    email = only_email(db)
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 1)
    assert email.last_error == (
        "The mail server refused the recipient (550 5.1.1 No such mailbox here)."
    )
    assert refusing_smtp.data_received == 0


@pytest.mark.parametrize("refusing_smtp", ["450 4.2.1 Mailbox busy, try later"], indirect=True)
def test_a_temporary_refusal_is_retried(refusing_smtp, db, customer):
    capture(db, customer.id, 10000)
    email = only_email(db)
    assert (email.status, email.attempts) == (EmailStatus.QUEUED, 1)
    assert "450" in email.last_error and "Mailbox busy" in email.last_error
    assert email.next_attempt_at > utcnow()


# -- the sweeper ------------------------------------------------------------------------


def test_the_sweeper_hands_back_due_and_stale_emails_once(app, db, customer):
    now = utcnow()
    stale_after = app.config["MAIL_REQUEUE_AFTER_SECONDS"]
    due = record_email(db, customer.id, status=EmailStatus.QUEUED, next_attempt_at=now)
    overdue = record_email(
        db, customer.id, status=EmailStatus.QUEUED, next_attempt_at=now - timedelta(hours=1)
    )
    later = record_email(
        db, customer.id, status=EmailStatus.QUEUED, next_attempt_at=now + timedelta(seconds=30)
    )
    stale = record_email(
        db,
        customer.id,
        status=EmailStatus.SENDING,
        claimed_at=now - timedelta(seconds=stale_after + 5),
        next_attempt_at=now - timedelta(hours=1),
    )
    busy = record_email(
        db,
        customer.id,
        status=EmailStatus.SENDING,
        claimed_at=now - timedelta(seconds=5),
        next_attempt_at=now - timedelta(hours=1),
    )
    done = [
        record_email(db, customer.id, status=status, next_attempt_at=now - timedelta(hours=1))
        for status in (EmailStatus.SENT, EmailStatus.FAILED, EmailStatus.NOT_SENT)
    ]

    ids = mailer.due_for_delivery(db.session, now=now)

    assert sorted(ids) == sorted([stale.id, overdue.id, due.id])
    assert ids[0] == overdue.id  # the longest waiting first
    db.session.expire_all()
    statuses = {e.id: e.status for e in db.session.scalars(select(Email))}
    assert statuses[stale.id] == EmailStatus.QUEUED  # its job died: queued again
    assert statuses[busy.id] == EmailStatus.SENDING  # still being sent: left alone
    assert statuses[later.id] == EmailStatus.QUEUED
    assert [statuses[e.id] for e in done] == ["sent", "failed", "not_sent"]
    for email_id in ids:
        pushed = db.session.get(Email, email_id).next_attempt_at
        assert pushed == now + timedelta(seconds=stale_after)
    # Right after, nothing is due: each was left to the job it got.
    assert mailer.due_for_delivery(db.session, now=now) == []
    # Once the back-off of the later one ends it comes back alone.
    assert mailer.due_for_delivery(db.session, now=now + timedelta(seconds=31)) == [later.id]


def test_an_email_whose_sending_job_keeps_dying_ends_failed(app, db, customer):
    now = utcnow()
    long_ago = now - timedelta(seconds=app.config["MAIL_REQUEUE_AFTER_SECONDS"] + 5)
    max_attempts = len(app.config["MAIL_RETRY_BACKOFF"]) + 1
    worn_out = record_email(
        db, customer.id, status=EmailStatus.SENDING, attempts=max_attempts, claimed_at=long_ago
    )
    once = record_email(
        db, customer.id, status=EmailStatus.SENDING, attempts=1, claimed_at=long_ago
    )
    assert mailer.due_for_delivery(db.session, now) == [once.id]
    db.session.expire_all()
    worn_out = db.session.get(Email, worn_out.id)
    assert worn_out.status == EmailStatus.FAILED
    assert f"stopped {max_attempts} times" in worn_out.last_error
    assert db.session.get(Email, once.id).status == EmailStatus.QUEUED


def test_sweep_delivers_what_is_due(app, db, customer):
    waiting = record_email(
        db,
        customer.id,
        status=EmailStatus.QUEUED,
        attempts=0,
        next_attempt_at=utcnow() - timedelta(minutes=5),
    )
    result = sweep()
    assert result.emails == 1
    db.session.expire_all()
    email = db.session.get(Email, waiting.id)
    assert (email.status, email.attempts) == (EmailStatus.NOT_SENT, 1)
    assert sweep().emails == 0


# -- the Emails tab and the email page ------------------------------------------------------


def test_emails_tab_is_a_page_and_a_fragment_with_each_status_in_words(staff_client, db, customer):
    capture(db, customer.id, 10000)  # ends "not delivered": no MAIL_SERVER
    record_email(db, customer.id, name="Invoice INV-000007", sent_at=datetime(2026, 1, 31, 9, 31))
    record_email(
        db,
        customer.id,
        name="Credit note CN-000003",
        recipient="billing@example.com",
        status=EmailStatus.FAILED,
        attempts=4,
        last_error="The mail server refused the recipient (550 No such user).",
        created_at=datetime(2026, 1, 30, 8, 0),
    )
    url = f"/customers/{customer.id}/emails"
    full = staff_client.get(url)
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    fragment = staff_client.get(url, htmx_target="customer_tab")
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<section id="customer_tab">')
    assert "HX-Request" in fragment.headers["Vary"]
    assert "HX-Request" in full.headers["Vary"]
    for text in (
        "Invoice INV-000001",
        "Invoice INV-000007",
        "Credit note CN-000003",
        "euro@example.com",
        "billing@example.com",
        "2026-01-31 09:31 UTC",  # delivered: when it was sent
        "2026-01-30 08:00 UTC",  # not delivered: when it was recorded
        "Delivered",
        "Failed",
        "The mail server refused the recipient (550 No such user).",
        "Not delivered",
        "No mail server is configured",
    ):
        assert text in html, text
    # Resend is offered for the failed and the undelivered one, not the delivered one.
    assert html.count(">Resend</button>") == 2
    # Newest first (the capture's email was recorded before the two rows above).
    assert (
        html.index("Credit note CN-000003")
        < html.index("Invoice INV-000007")
        < html.index("Invoice INV-000001")
    )


def test_a_customer_without_emails_says_so(staff_client, customer):
    html = staff_client.get(f"/customers/{customer.id}/emails", htmx_target="customer_tab")
    assert "No emails yet" in html.get_data(as_text=True)


def test_email_page_shows_meta_and_a_sandboxed_frame(staff_client, db, customer):
    capture(db, customer.id, 10000)
    email = only_email(db)
    response = staff_client.get(f"/customers/{customer.id}/emails/{email.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "<h1>Invoice INV-000001</h1>",
        "euro@example.com",
        f"Invoice INV-000001 from {seller()}",
        "Not delivered",
        "Plain-text body",
        "€119.00",  # the text body, shown escaped in <pre>
    ):
        assert text in html, text
    frame = re.search(r"<iframe[^>]*>", html)
    assert frame, "no iframe"
    assert re.search(r"\ssandbox[\s>]", frame.group(0))
    assert f'src="/customers/{customer.id}/emails/{email.id}/body"' in frame.group(0)


def frame_heights(staff_client, customer, email) -> dict[str, int]:
    """The frame's height attribute and its data-height-<window> ones, by name."""
    html = staff_client.get(f"/customers/{customer.id}/emails/{email.id}").get_data(as_text=True)
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    return {
        name: int(value) for name, value in re.findall(r'\s((?:data-)?height[-\d]*)="(\d+)"', frame)
    }


def test_the_frame_is_sized_to_the_email_for_a_phone_and_wider_windows(staff_client, db, customer):
    short = record_email(db, customer.id, html_body="<p>Hello</p>")
    paragraph = "<p>" + "Every word of this sentence takes room on a line. " * 12 + "</p>"
    long = record_email(db, customer.id, html_body=paragraph * 6)
    short_frame = frame_heights(staff_client, customer, short)
    long_frame = frame_heights(staff_client, customer, long)
    assert set(short_frame) == set(long_frame) == {"height", "data-height-390", "data-height-700"}
    # A narrower window wraps the text into more lines: the frame is taller there.
    assert long_frame["height"] > long_frame["data-height-390"] > long_frame["data-height-700"]
    # Six paragraphs of 600 characters: 50 lines of 18 px or more in any font in a
    # 636 px frame, and not a screenful of empty space more than that.
    assert 50 * 18 < long_frame["data-height-700"] < 50 * 18 + 800
    assert short_frame["height"] < 150
    assert all(long_frame[name] > short_frame[name] for name in short_frame)


def test_the_frame_shows_the_body_as_written(staff_client, db, customer):
    email = record_email(
        db,
        customer.id,
        html_body='<!doctype html><html><body style="margin:0;background:#f4f5f7;"'
        ' onload="steal()"><p>Dear customer</p></body></html>',
    )
    body = staff_client.get(f"/customers/{customer.id}/emails/{email.id}/body")
    html = body.get_data(as_text=True)
    # Standards mode and the body's own style, as the email was written …
    assert html.startswith("<!doctype html>")
    assert '<body style="margin:0;background:#f4f5f7;"><p>Dear customer</p></body>' in html
    # … and nothing else of the <body> tag.
    assert "onload" not in html and "steal" not in html


def test_email_body_is_sanitised_and_served_sandboxed(staff_client, db, customer):
    email = record_email(
        db,
        customer.id,
        html_body=(
            '<p onclick="steal()">Dear customer</p>'
            "<script>alert(1)</script>"
            '<img src="x" onerror="alert(2)">'
            '<a href="javascript:alert(3)">pay here</a>'
            '<td style="color:red">kept</td>'
        ),
    )
    response = staff_client.get(f"/customers/{customer.id}/emails/{email.id}/body")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "sandbox" in [part.strip().split(" ")[0] for part in policy.split(";")]
    assert "default-src 'none'" in policy
    body = response.get_data(as_text=True).lower()
    assert "dear customer" in body and "pay here" in body
    for dangerous in ("<script", "alert(1)", "onclick", "onerror", "javascript:"):
        assert dangerous not in body, dangerous


def test_email_body_is_a_document_with_a_language_and_the_subject_as_its_title(
    staff_client, db, customer
):
    """The frame's document names itself for screen readers (axe: html-has-lang,
    document-title); the subject is the customer's text, so it is escaped."""
    email = record_email(
        db,
        customer.id,
        subject="Invoice <b>INV-000042</b> & more",
        html_body="<html><head><title>dropped</title></head><body><p>Hello</p></body></html>",
    )
    body = staff_client.get(f"/customers/{customer.id}/emails/{email.id}/body")
    html = body.get_data(as_text=True)
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert '<html lang="en">' in html
    assert "<title>Invoice &lt;b&gt;INV-000042&lt;/b&gt; &amp; more</title>" in html
    assert "dropped" not in html
    assert "<p>Hello</p>" in html


def test_customer_text_is_escaped_on_the_tab_and_the_email_page(staff_client, db, make_customer):
    hostile = make_customer(name="<script>alert(1)</script>", email="eve@example.com")
    capture(db, hostile.id, 1000)
    email = only_email(db)
    for url in (f"/customers/{hostile.id}/emails", f"/customers/{hostile.id}/emails/{email.id}"):
        html = staff_client.get(url).get_data(as_text=True)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url
        assert "<script>alert(1)</script>" not in html, url


def test_another_customers_email_is_not_found(staff_client, db, customer, make_customer):
    other = make_customer(name="Other", email="other@example.com")
    email = record_email(db, customer.id, status=EmailStatus.FAILED, last_error="x")
    for url in (
        f"/customers/{other.id}/emails/{email.id}",
        f"/customers/{other.id}/emails/{email.id}/body",
        f"/customers/{customer.id}/emails/999999",
    ):
        assert staff_client.get(url).status_code == 404, url
    response = staff_client.post(f"/customers/{other.id}/emails/{email.id}/resend")
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.FAILED


# -- Resend ---------------------------------------------------------------------------------


def failed_email(db, customer_id) -> Email:
    return record_email(
        db,
        customer_id,
        status=EmailStatus.FAILED,
        attempts=4,
        last_error="Could not reach the mail server.",
    )


def test_resend_needs_a_csrf_token(staff_client, db, customer):
    email = failed_email(db, customer.id)
    response = staff_client.post(f"/customers/{customer.id}/emails/{email.id}/resend", csrf=False)
    assert response.status_code == 400
    db.session.expire_all()
    email = db.session.get(Email, email.id)
    assert (email.status, email.attempts) == (EmailStatus.FAILED, 4)


def test_resend_needs_a_signed_in_staff_member(client, db, customer):
    email = failed_email(db, customer.id)
    # A valid CSRF token (the sign-in page gives one), so only the sign-in wall can refuse.
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    response = client.post(
        f"/customers/{customer.id}/emails/{email.id}/resend", data={"csrf_token": token}
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/sign-in")
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.FAILED


def test_resend_of_a_failed_email_queues_it_again(staff_client, db, customer):
    email = failed_email(db, customer.id)
    url = f"/customers/{customer.id}/emails/{email.id}/resend"
    response = staff_client.post(url)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/customers/{customer.id}/emails/{email.id}"
    db.session.expire_all()
    resent = db.session.get(Email, email.id)
    # Queued with its attempts reset; the sync job then tried it at once, and with no
    # mail server configured it is recorded as not delivered.
    assert (resent.status, resent.attempts) == (EmailStatus.NOT_SENT, 1)
    assert resent.last_error == mailer.NO_MAIL_SERVER
    assert resent.html_body == "<p>Hello</p>"  # as first rendered
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invoice INV-000042 is queued to be sent again to euro@example.com." in page


def test_resend_with_htmx_answers_204_and_a_message(staff_client, db, customer):
    email = failed_email(db, customer.id)
    response = staff_client.post(
        f"/customers/{customer.id}/emails/{email.id}/resend", htmx_target="customer_tab"
    )
    assert response.status_code == 204
    events = json.loads(response.headers["HX-Trigger"])
    assert "queued to be sent again" in events["showMessage"]
    assert events["customerUpdated"] == customer.id
    db.session.expire_all()
    assert db.session.get(Email, email.id).status == EmailStatus.NOT_SENT


def test_resend_of_a_delivered_email_is_refused(staff_client, db, customer):
    email = record_email(db, customer.id, sent_at=datetime(2026, 1, 31, 9, 31))
    url = f"/customers/{customer.id}/emails/{email.id}/resend"
    response = staff_client.post(url, htmx_target="customer_tab")
    message = json.loads(response.headers["HX-Trigger"])["showMessage"]
    assert message["level"] == "error"
    assert "Invoice INV-000042 is delivered" in message["text"]
    assert "only a failed or undelivered email can be sent again" in message["text"]
    page = staff_client.get(staff_client.post(url).headers["Location"]).get_data(as_text=True)
    assert "only a failed or undelivered email can be sent again" in page
    db.session.expire_all()
    email = db.session.get(Email, email.id)
    assert (email.status, email.attempts) == (EmailStatus.SENT, 1)
