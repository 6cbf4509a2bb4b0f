"""Statement of account over HTTP: the page (Billing tab link, default period, a chosen period,
the htmx block), bad dates answered 422 beside their field, another customer's id, and
Email statement delivered to a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import StaffClient, sign_in
from tests.test_document_pdf import pages_text, pdf_parts
from tests.test_history import text_of
from webapp.models.billing import EntryKind, LedgerEntry
from webapp.models.email import Email, EmailStatus
from webapp.models.history import CustomerEvent
from webapp.services import contacts, mailer, statements
from webapp.services.billing import capture_one_time_charge
from webapp.services.ledger import post_entry
from webapp.services.personal_data import clear_personal_data

TODAY = statements.today()


def post(db, customer, amount: int, day: date, currency: str = "EUR", text: str = "") -> None:
    posted = post_entry(
        db.session,
        customer.id,
        kind=EntryKind.CHARGE if amount < 0 else EntryKind.CREDIT,
        amount_minor=amount,
        currency=currency,
        description=text or f"Entry {amount}",
        actor_id=None,
        key=None,
    )
    dated = update(LedgerEntry).where(LedgerEntry.id == posted.entry.id)
    db.session.execute(dated.values(created_at=datetime.combine(day, time(10))))
    db.session.commit()


def url(customer_id: int, start: str | None = None, end: str | None = None) -> str:
    query = "&".join(
        f"{name}={value}" for name, value in (("from", start), ("to", end)) if value is not None
    )
    return f"/customers/{customer_id}/statement" + (f"?{query}" if query else "")


def pdf_url(customer_id: int, start: str, end: str) -> str:
    return f"/customers/{customer_id}/statement.pdf?from={start}&to={end}"


def field_error(html: str, field: str) -> str:
    """The message beside the ``from`` or ``to`` field."""
    found = re.search(rf'<small id="{field}-error" class="field-error">([^<]*)</small>', html)
    return found.group(1) if found else ""


def emails(db) -> list[Email]:
    db.session.expire_all()
    return db.session.scalars(select(Email).order_by(Email.id)).all()


@pytest.fixture
def customer(euro_customer):
    return euro_customer


@pytest.fixture
def billed(db, customer):
    """Euro Customer with a history: entries in EUR before and inside the last 90 days, a
    USD credit, and an invoice issued 40 days ago (Net 14: 26 days overdue today)."""
    post(db, customer, -10_000, TODAY - timedelta(days=120), text="Old work")
    post(db, customer, 2_500, TODAY - timedelta(days=30), "USD", "Dollar credit")
    post(db, customer, 4_000, TODAY - timedelta(days=10), text="Part payment")
    invoice = capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=10_000,
        currency="EUR",
        description="Workshop",
        actor_id=None,
        key=None,
        today=TODAY - timedelta(days=40),
    ).invoice
    db.session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.invoice_id == invoice.id)
        .values(created_at=datetime.combine(TODAY - timedelta(days=40), time(9)))
    )
    db.session.execute(update(Email).values(status=EmailStatus.SENT))  # the invoice's email
    db.session.commit()
    return invoice


# -- the page -------------------------------------------------------------------------


def test_the_billing_tab_links_to_the_statement(staff_client, customer):
    html = staff_client.get(f"/customers/{customer.id}/billing").get_data(as_text=True)
    assert f'href="/customers/{customer.id}/statement"' in html
    assert re.search(rf'<a href="/customers/{customer.id}/statement"[^>]*>Statement</a>', html)


def test_the_statement_opens_on_the_last_90_days(staff_client, customer, billed):
    response = staff_client.get(url(customer.id))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    start = TODAY - timedelta(days=89)
    assert f'name="from" required type="date" value="{start.isoformat()}"' in html
    assert f'name="to" required type="date" value="{TODAY.isoformat()}"' in html
    words = text_of(html)
    assert f"{start.isoformat()} to {TODAY.isoformat()} (90 days)" in words
    # EUR: -100.00 before the period; the invoice (-119.00) and the payment (+40.00) in it.
    assert "EUR −€100.00 −€119.00 €40.00 −€179.00 Amount due €179.00" in words
    assert "USD $0.00 $0.00 $25.00 $25.00 In credit $25.00" in words
    assert words.index("Entries in EUR") < words.index("Entries in USD")
    assert "Workshop INV-000001 −€119.00 −€219.00" in words
    assert "Part payment €40.00 −€179.00" in words
    assert "Old work" not in words  # before the period: in the opening balance only
    due = (TODAY - timedelta(days=26)).isoformat()
    assert f"INV-000001 {(TODAY - timedelta(days=40)).isoformat()} {due} €119.00 26" in words
    assert "Open in EUR €119.00" in words
    assert "Sends it to euro@example.com." in words


def test_a_chosen_period_and_its_htmx_block(staff_client, customer, billed):
    start, end = TODAY - timedelta(days=200), TODAY - timedelta(days=21)
    address = url(customer.id, start.isoformat(), end.isoformat())
    words = text_of(staff_client.get(address).get_data(as_text=True))
    assert "Old work" in words and "Part payment" not in words  # ten days ago: after it
    assert "EUR €0.00 −€219.00 €0.00 −€219.00 Amount due €219.00" in words
    # Five days overdue when the period ended.
    assert f"Open invoices on {end.isoformat()}" in words and "€119.00 5" in words
    fragment = staff_client.get(address, htmx_target="statement")
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert "<html" not in html and html.lstrip().startswith('<div id="statement">')
    assert text_of(html).count("Old work") == 1


def test_a_period_before_the_invoice_and_without_entries(staff_client, customer, billed):
    day = (TODAY - timedelta(days=300)).isoformat()
    words = text_of(staff_client.get(url(customer.id, day, day)).get_data(as_text=True))
    assert "No balance and no entries in this period." in words
    assert f"No invoice was open on {day}." in words


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-02-30", "2026-03-31", "from", "Enter a real date, like 2025-03-14."),
        ("yesterday", "2026-03-31", "from", "Enter a real date, like 2025-03-14."),
        ("2026-03-01", "", "to", "Enter the last day of the statement."),
        ("", "2026-03-01", "from", "Enter the first day of the statement."),
        ("2026-03-02", "2026-03-01", "from", statements.FROM_AFTER_TO),
        ("2020-01-01", "2026-03-01", "from", statements.TOO_LONG),
        ("2026-03-01", "9999-12-31", "to", "A statement cannot end after today"),
    ],
)
def test_bad_dates_are_refused_beside_their_field(
    staff_client, customer, start, end, field, message
):
    for target in (None, "statement"):
        response = staff_client.get(url(customer.id, start, end), htmx_target=target)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert field_error(html, field).startswith(message)
        assert field_error(html, "to" if field == "from" else "from") == ""
        assert 'id="error-summary"' in html and f'href="#{field}"' in html
        assert "Correct the dates above to see the statement." in text_of(html)
        assert "Opening balance" not in html and "Email statement" not in html
        assert (target is None) == ("<html" in html)


def test_only_one_date_given_asks_for_the_other(staff_client, customer):
    response = staff_client.get(f"/customers/{customer.id}/statement?from=2026-03-01")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "to") == (
        "Enter the last day of the statement."
    )


def test_another_customers_id_is_404(staff_client, db, customer, billed, make_customer):
    missing = customer.id + 1000
    assert staff_client.get(url(missing)).status_code == 404
    assert staff_client.get(url(missing, "2026-01-01", "2026-01-31")).status_code == 404
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    assert staff_client.post(f"/customers/{missing}/statement/email", period).status_code == 404
    # Another customer's statement shows none of this one's money.
    other = make_customer(name="Someone Else", email="else@example.com", currency="EUR")
    words = text_of(staff_client.get(url(other.id)).get_data(as_text=True))
    assert "Someone Else" in words and "Euro Customer" not in words
    assert "No balance and no entries in this period." in words and "INV-000001" not in words
    # Its statement email cannot be opened under another customer's id.
    staff_client.post(f"/customers/{customer.id}/statement/email", period)
    (email,) = [e for e in emails(db) if e.kind == "statement"]
    assert staff_client.get(f"/customers/{other.id}/emails/{email.id}").status_code == 404
    assert staff_client.get(f"/customers/{customer.id}/emails/{email.id}").status_code == 200


def test_the_statement_needs_a_signed_in_member(client, db, customer):
    response = client.get(url(customer.id))
    assert response.status_code in (302, 303) and "/sign-in" in response.headers["Location"]
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    response = client.post(f"/customers/{customer.id}/statement/email", data=period)
    assert response.status_code in (302, 303, 400) and emails(db) == []


# -- Email statement -------------------------------------------------------------------


def test_email_statement_needs_the_csrf_token(staff_client, db, customer, billed):
    before = len(emails(db))
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    response = staff_client.post(f"/customers/{customer.id}/statement/email", period, csrf=False)
    assert response.status_code == 400
    assert len(emails(db)) == before


def test_email_statement_without_a_mail_server_is_recorded(staff_client, db, customer, billed):
    start = (TODAY - timedelta(days=89)).isoformat()
    period = {"from": start, "to": TODAY.isoformat()}
    response = staff_client.post(f"/customers/{customer.id}/statement/email", period)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(url(customer.id, start, TODAY.isoformat()))
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "recorded in the Emails tab; no mail server is configured" in text_of(page)
    (email,) = [e for e in emails(db) if e.kind == "statement"]
    assert email.recipient == "euro@example.com" and email.status == EmailStatus.NOT_SENT
    assert email.name == f"Statement {start} to {TODAY.isoformat()}"


def test_email_statement_with_htmx_answers_with_a_message(staff_client, db, customer, billed):
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    response = staff_client.post(
        f"/customers/{customer.id}/statement/email", period, htmx_target="statement"
    )
    assert response.status_code == 204
    assert "recorded in the Emails tab" in response.headers["HX-Trigger"]


def test_email_statement_with_bad_dates_writes_nothing(staff_client, db, customer, billed):
    before = len(emails(db))
    for target in (None, "statement"):
        response = staff_client.post(
            f"/customers/{customer.id}/statement/email",
            {"from": "2026-03-05", "to": "2026-03-01"},
            htmx_target=target,
        )
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert field_error(html, "from") == statements.FROM_AFTER_TO
    assert len(emails(db)) == before


def test_email_statement_with_no_one_to_send_it_to(staff_client, db, make_customer):
    nobody = make_customer(name="No Address", email="", currency="EUR")
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    response = staff_client.post(f"/customers/{nobody.id}/statement/email", period)
    assert response.status_code == 303
    page = text_of(staff_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "No Address has no email address and no contact who wants billing emails" in page
    assert emails(db) == []


def test_email_statement_is_refused_once_personal_data_is_cleared(
    staff_client, db, customer, billed
):
    clear_personal_data(db.session, customer.id)
    html = staff_client.get(url(customer.id)).get_data(as_text=True)
    assert "Email statement is off" in text_of(html) and "Email statement</button>" not in html
    before = len(emails(db))
    period = {"from": TODAY.isoformat(), "to": TODAY.isoformat()}
    response = staff_client.post(f"/customers/{customer.id}/statement/email", period)
    assert response.status_code == 409
    assert len(emails(db)) == before


@pytest.fixture
def mail_client(smtp_app, staff_client):
    """The staff member signed in to the app that delivers to the ``smtp`` fixture."""
    client = smtp_app.test_client()
    assert sign_in(client, staff_client.staff.email).status_code == 303
    return StaffClient(client, staff_client.staff)


def test_email_statement_reaches_the_customer_and_the_billing_contacts(
    mail_client, db, customer, billed, smtp
):
    staff = mail_client.staff
    contacts.add(
        db.session,
        customer,
        None,
        {"name": "Grace", "email": "grace@acme.example", "wants_billing": True},
    )
    contacts.add(
        db.session,
        customer,
        None,
        {"name": "Alan", "email": "alan@acme.example", "wants_updates": True},
    )
    smtp.messages.clear()
    start = (TODAY - timedelta(days=89)).isoformat()
    period = {"from": start, "to": TODAY.isoformat()}
    response = mail_client.post(f"/customers/{customer.id}/statement/email", period)
    assert response.status_code == 303
    page = text_of(mail_client.get(response.headers["Location"]).get_data(as_text=True))
    assert "The statement is on its way to euro@example.com, grace@acme.example." in page

    sent = [e for e in emails(db) if e.kind == "statement"]
    assert [(e.recipient, e.status) for e in sent] == [
        ("euro@example.com", EmailStatus.SENT),
        ("grace@acme.example", EmailStatus.SENT),
    ]
    assert {e.staff_id for e in sent} == {staff.id}
    assert sorted(m["X-Envelope-To"] for m in smtp.messages) == [
        "euro@example.com",
        "grace@acme.example",
    ]
    name = f"Statement {start} to {TODAY.isoformat()}"
    for message in smtp.messages:
        assert message["Subject"] == f"{name} from Tally"
        plain = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert "EUR: opening balance −€100.00, closing balance −€179.00" in plain
        assert "(Amount due €179.00)" in plain
        assert "INV-000001, due" in plain and "26 days overdue" in plain
        assert "USD: opening balance $0.00, closing balance $25.00 (In credit $25.00)" in plain
        assert "Statement of account" in html and "Amount due €179.00" in html
        [part] = pdf_parts(message)
        assert part.get_filename() == f"Statement-C-000001-{start}-to-{TODAY.isoformat()}.pdf"
        text = " ".join(pages_text(part.get_content()))
        assert "Statement of account" in text and "Euro Customer" in text
        assert "Workshop (INV-000001) −€119.00 −€219.00" in text
        assert "Closing balance on" in text and "−€179.00" in text
    # Each copy is the file Download PDF gives for the same period.
    download = mail_client.get(pdf_url(customer.id, start, TODAY.isoformat()))
    assert download.status_code == 200, download.get_data(as_text=True)[-3000:]
    assert {pdf_parts(m)[0].get_content() for m in smtp.messages} == {download.data}
    assert smtp.to("alan@acme.example") == []

    # The Emails tab shows both, delivered; History has the request and each delivery.
    tab = text_of(mail_client.get(f"/customers/{customer.id}/emails").get_data(as_text=True))
    assert tab.count(name) == 2 and "Delivered" in tab
    events = db.session.scalars(
        select(CustomerEvent.summary)
        .where(CustomerEvent.customer_id == customer.id, CustomerEvent.kind.like("email.%"))
        .order_by(CustomerEvent.id)
    ).all()
    assert f"Emailed the statement for {start} to {TODAY.isoformat()}." in events
    assert events.count(f"Email sent: {name}") == 2
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 4  # unchanged


# -- the PDF ----------------------------------------------------------------------------


def test_download_pdf_of_a_period(staff_client, customer, billed):
    start = (TODAY - timedelta(days=89)).isoformat()
    page = staff_client.get(url(customer.id)).get_data(as_text=True)
    assert f'href="{pdf_url(customer.id, start, TODAY.isoformat())}"' in page.replace("&amp;", "&")
    response = staff_client.get(pdf_url(customer.id, start, TODAY.isoformat()))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=Statement-C-000001-{start}-to-{TODAY.isoformat()}.pdf"
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    pages = pages_text(response.data)
    text = " ".join(" ".join(pages).split())  # the title wraps in its corner
    for words in (
        "Statement of account",
        f"{start} to {TODAY.isoformat()}",
        "Statement for",
        "Euro Customer",
        "Customer ID: C-000001",
        "EUR −€100.00 −€119.00 €40.00 −€179.00",
        "USD $0.00 $0.00 $25.00 $25.00",
        f"On {TODAY.isoformat()}, EUR Amount due €179.00",
        "Entries in EUR",
        "Opening balance −€100.00",
        "Workshop (INV-000001) −€119.00 −€219.00",
        "Part payment €40.00 −€179.00",
        "Entries in USD",
        "Dollar credit $25.00 $25.00",
        f"Open invoices on {TODAY.isoformat()}",
        "€119.00 26",
        "Open in EUR €119.00",
        f"Page 1 of {len(pages)}",
    ):
        assert words in text, words
    assert text.index("Entries in EUR") < text.index("Entries in USD") < text.index("Open invoices")
    assert "Old work" not in text


def test_the_pdf_of_an_empty_period(staff_client, customer, billed):
    day = (TODAY - timedelta(days=300)).isoformat()
    [text] = pages_text(staff_client.get(pdf_url(customer.id, day, day)).data)
    assert "No balance and no entries in this period." in text
    assert f"No invoice was open on {day}." in text and "Entries in" not in text


def test_a_long_statement_runs_over_pages_with_its_table_heading_repeated(
    staff_client, db, customer
):
    for day in range(80):
        post(db, customer, -(day + 1) * 100, TODAY - timedelta(days=day), text=f"Item {day:02d}")
    start = (TODAY - timedelta(days=89)).isoformat()
    pages = pages_text(staff_client.get(pdf_url(customer.id, start, TODAY.isoformat())).data)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    for text in pages[1:]:
        assert f"Statement of account {start} to {TODAY.isoformat()}" in text  # the page head
    continued = [text for text in pages[1:] if "Item" in text]
    assert continued and all("Date Description Amount Balance" in text for text in continued)
    every = " ".join(pages)
    assert all(f"Item {day:02d}" in every for day in range(80))
    assert "Closing balance on" in pages[-1] and "−€3,240.00" in pages[-1]


def test_the_pdf_refuses_bad_dates_and_other_customers(staff_client, customer):
    response = staff_client.get(pdf_url(customer.id, "2026-03-05", "2026-03-01"))
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert field_error(response.get_data(as_text=True), "from") == statements.FROM_AFTER_TO
    assert staff_client.get(
        pdf_url(customer.id + 1000, "2026-03-01", "2026-03-05")
    ).status_code == (404)


def test_a_statement_email_naming_no_period_fails_with_the_reason(smtp_app, db, customer, smtp):
    email = Email(
        customer_id=customer.id,
        kind="statement",
        name="Statement of sorts",
        recipient="euro@example.com",
        subject="Statement",
        html_body="<p>Hello</p>",
        text_body="Hello",
        status=EmailStatus.QUEUED,
    )
    db.session.add(email)
    db.session.commit()
    assert mailer.deliver(db.session, email.id) == EmailStatus.FAILED
    db.session.expire_all()
    assert db.session.get(Email, email.id).last_error == (
        "Statement of sorts names no statement, so no PDF can be attached."
    )
    assert smtp.messages == []
