"""PDF copies of invoices and credit notes: the download (HTTP shape, and the text read
back out of the file with pypdf), long invoices over several pages, characters the
bundled font lacks, and the PDF attached to the email by the job that sends it, to a
real SMTP server on loopback."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from pypdf import PdfReader
from sqlalchemy import select

from tests.document_pages import text_of
from webapp.models.billing import Invoice, InvoiceLine
from webapp.models.email import Email, EmailStatus
from webapp.services import mailer, settings
from webapp.services.billing import capture_one_time_charge
from webapp.services.document_pdf import pdf_of
from webapp.services.documents import snapshot_of
from webapp.services.money import format_money, tax_for

TODAY = date(2026, 1, 31)
PDF_NAME = re.compile(r'attachment; filename="?([^";]+)"?')


# -- helpers ---------------------------------------------------------------------------


def pages_text(data: bytes) -> list[str]:
    """The text of each page, as a PDF reader extracts it."""
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def capture(db, customer, minor: int, currency: str, description: str = "Workshop"):
    return capture_one_time_charge(
        db.session,
        customer.id,
        amount_minor=minor,
        currency=currency,
        description=description,
        actor_id=None,
        key=None,
        today=TODAY,
    )


def issue_invoice(db, customer, lines: list[tuple[str, int, int, int]], number="INV-000900"):
    """An invoice written directly, with (description, quantity, unit price, tax rate)
    lines, the buyer and seller taken from the customer as issuing does."""
    nets = [(quantity * unit, rate) for _, quantity, unit, rate in lines]
    subtotal = sum(net for net, _ in nets)
    by_rate: dict[int, int] = {}
    for net, rate in nets:
        by_rate[rate] = by_rate.get(rate, 0) + net
    tax = sum(tax_for(net, rate) for rate, net in by_rate.items())
    invoice = Invoice(
        number=number,
        legal_entity_id=customer.legal_entity_id,
        customer_id=customer.id,
        currency=customer.currency,
        issue_date=TODAY,
        due_date=TODAY + timedelta(days=14),
        subtotal_minor=subtotal,
        tax_rate_bp=lines[0][3],
        tax_minor=tax,
        total_minor=subtotal + tax,
        **snapshot_of(customer),
    )
    invoice.lines = [
        InvoiceLine(
            description=description,
            quantity=quantity,
            unit_price_minor=unit,
            amount_minor=quantity * unit,
            tax_rate_bp=rate,
        )
        for description, quantity, unit, rate in lines
    ]
    db.session.add(invoice)
    db.session.commit()
    return invoice


@pytest.fixture
def polish_customer(make_customer):
    """A buyer whose name and company need more than Latin-1."""
    return make_customer(
        name="Jürgen Müller",
        company="Łódź Trading sp. z o.o.",
        email="jurgen@example.com",
        country="PL",
        currency="EUR",
        address_line1="ul. Piotrkowska 12",
        city="Łódź",
        postal_code="90-001",
        tax_rate_bp=1900,
        payment_terms_days=14,
    )


@pytest.fixture
def russian_customer(make_customer):
    return make_customer(
        name="Сергей Жуков",
        email="zhukov@example.com",
        country="KZ",
        currency="KWD",
        tax_rate_bp=500,
    )


# -- the download -----------------------------------------------------------------------


def test_the_invoice_page_links_to_its_pdf(staff_client, db, polish_customer):
    invoice = capture(db, polish_customer, 10000, "EUR").invoice
    html = staff_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert f'href="/invoices/{invoice.id}.pdf"' in html and "Download PDF" in html


def test_the_invoice_downloads_as_a_pdf_that_says_what_the_page_says(
    staff_client, db, polish_customer
):
    invoice = capture(db, polish_customer, 123450, "EUR").invoice
    total = format_money(invoice.total_minor, "EUR")
    page = staff_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert total == "€1,469.06" and total in page

    response = staff_client.get(f"/invoices/{invoice.id}.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert PDF_NAME.fullmatch(response.headers["Content-Disposition"]).group(1) == (
        "Invoice-INV-000001.pdf"
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    [text] = pages_text(response.data)
    for expected in (
        "Invoice",
        "INV-000001",
        "Jürgen Müller",
        "Łódź Trading sp. z o.o.",
        "90-001 Łódź",
        "Poland",
        "Issue date 2026-01-31",
        "Date of supply 2026-01-31",
        "Due date 2026-02-14",
        "Workshop",
        "€1,234.50",
        "19.00 %",
        "€234.56",
        f"Total (EUR) {total}",
        "Page 1 of 1",
    ):
        assert expected in text, expected
    # Every word of the page's document is in the PDF (the status aside: it is the
    # invoice's state today, not part of the document as issued).
    page_words = text_of(page).split()
    page_words.remove("Open")
    assert [word for word in page_words if word not in text.split()] == []
    # Real text, not a picture of it.
    assert all(not page.images for page in PdfReader(io.BytesIO(response.data)).pages)


@pytest.mark.parametrize(
    ("currency", "minor", "shown"),
    [("JPY", 150000, "¥150,000"), ("KWD", 1234, "KWD\u00a01.234"), ("USD", 5, "$0.05")],
)
def test_amounts_are_formatted_per_currency_as_on_the_page(
    staff_client, db, make_customer, currency, minor, shown
):
    customer = make_customer(name="Сергей Жуков", currency=currency, email="z@example.com")
    invoice = capture(db, customer, minor, currency).invoice
    assert shown in staff_client.get(f"/invoices/{invoice.id}").get_data(as_text=True)

    [text] = pages_text(staff_client.get(f"/invoices/{invoice.id}.pdf").data)

    assert "Сергей Жуков" in text
    assert shown in text
    assert f"Total ({currency}) {format_money(invoice.total_minor, currency)}" in text


def test_the_credit_note_downloads_as_a_pdf(staff_client, db, russian_customer):
    note = capture(db, russian_customer, -2500, "KWD", "Goodwill credit").credit_note
    page = staff_client.get(f"/credit-notes/{note.id}").get_data(as_text=True)
    assert f'href="/credit-notes/{note.id}.pdf"' in page and "KWD\u00a02.500" in page

    response = staff_client.get(f"/credit-notes/{note.id}.pdf")

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert PDF_NAME.fullmatch(response.headers["Content-Disposition"]).group(1) == (
        "Credit-note-CN-000001.pdf"
    )
    [text] = pages_text(response.data)
    for expected in (
        "Credit note",
        "CN-000001",
        "Credited to",
        "Сергей Жуков",
        "Goodwill credit",
        "Total credited (KWD) KWD\u00a02.500",
    ):
        assert expected in text, expected
    assert "Due date" not in text and "Tax rate" not in text and "Please pay" not in text
    assert [word for word in text_of(page).split() if word not in text.split()] == []


def test_an_unknown_document_is_not_found(staff_client):
    assert staff_client.get("/invoices/999.pdf").status_code == 404
    assert staff_client.get("/credit-notes/999.pdf").status_code == 404


def test_the_pdf_needs_a_signed_in_staff_member(client, db, polish_customer):
    invoice = capture(db, polish_customer, 10000, "EUR").invoice
    response = client.get(f"/invoices/{invoice.id}.pdf")
    assert response.status_code in (302, 303)
    assert "/sign-in" in response.headers["Location"]
    assert not response.data.startswith(b"%PDF")


def test_the_pdf_keeps_the_buyer_as_issued(staff_client, db, polish_customer):
    invoice = capture(db, polish_customer, 10000, "EUR").invoice
    polish_customer.name = "Someone Else"
    db.session.commit()
    [text] = pages_text(staff_client.get(f"/invoices/{invoice.id}.pdf").data)
    assert "Jürgen Müller" in text and "Someone Else" not in text


# -- long invoices, several rates ---------------------------------------------------------


def test_a_forty_line_invoice_runs_over_pages_with_the_heading_and_page_numbers(
    staff_client, db, polish_customer
):
    lines = [(f"Consulting day {n:02d}, on site", 1 + n % 3, 45000, 1900) for n in range(40)]
    invoice = issue_invoice(db, polish_customer, lines)

    response = staff_client.get(f"/invoices/{invoice.id}.pdf")

    texts = pages_text(response.data)
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
        assert "Description Quantity Unit price Tax rate Net amount" in text
    assert "Jürgen Müller" in texts[0] and "Jürgen Müller" not in texts[-1]
    assert "INV-000900" in texts[-1]  # continuation pages say whose document it is
    everything = "\n".join(texts)
    assert all(f"Consulting day {n:02d}, on site" in everything for n in range(40))
    assert f"Total (EUR) {format_money(invoice.total_minor, 'EUR')}" in texts[-1]


def test_tax_is_shown_per_rate(staff_client, db, polish_customer):
    invoice = issue_invoice(
        db,
        polish_customer,
        [("Books", 2, 1000, 700), ("Software", 1, 10000, 1900), ("Training", 1, 5000, 1900)],
    )
    [text] = pages_text(staff_client.get(f"/invoices/{invoice.id}.pdf").data)
    assert "Tax (7.00 %) on €20.00 €1.40" in text
    assert "Tax (19.00 %) on €150.00 €28.50" in text
    assert "Total (EUR) €199.90" in text


def test_the_footer_text_of_the_legal_entity_is_printed_on_every_page(
    staff_client, db, polish_customer
):
    entity = settings.default_legal_entity(db.session)
    entity.invoice_footer = "Bank: Łódzki Bank · IBAN PL00 1234 5678 9012 3456 7890 1234"
    db.session.commit()
    lines = [(f"Item {n}", 1, 100, 1900) for n in range(60)]
    texts = pages_text(pdf_of(issue_invoice(db, polish_customer, lines)).data)
    assert len(texts) >= 2
    assert all("Bank: Łódzki Bank · IBAN PL00 1234" in text for text in texts)


def test_the_same_document_gives_the_same_file(db, polish_customer):
    invoice = capture(db, polish_customer, 10000, "EUR").invoice
    assert pdf_of(invoice).data == pdf_of(invoice).data


# -- characters the bundled font lacks ------------------------------------------------------


def font_with(path, characters: str) -> None:
    """A tiny TrueType font whose only glyphs are squares for ``characters``."""
    names = [".notdef"] + [f"uni{ord(c):04X}" for c in characters]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): f"uni{ord(c):04X}" for c in characters})
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        pen.lineTo((100, 700))
        pen.lineTo((800, 700))
        pen.lineTo((800, 0))
        pen.closePath()
        glyphs[name] = pen.glyph()
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics({name: (900, 100) for name in names})
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "Test Fallback", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))


def test_characters_the_font_lacks_come_from_the_fallback_font(app, db, polish_customer, tmp_path):
    fallback = tmp_path / "fallback.ttf"
    font_with(fallback, "日本")
    app.config["PDF_FALLBACK_FONT"] = str(fallback)
    invoice = capture(db, polish_customer, 10000, "EUR", "Tea from 日本").invoice

    [text] = pages_text(pdf_of(invoice).data)

    assert "Tea from 日本" in text and "Jürgen Müller" in text


def test_without_a_fallback_font_the_rest_of_the_text_is_still_there(app, db, polish_customer):
    app.config["PDF_FALLBACK_FONT"] = "none"
    invoice = capture(db, polish_customer, 10000, "EUR", "Tea from 日本").invoice

    [text] = pages_text(pdf_of(invoice).data)

    assert "Tea from" in text and "日本" not in text
    assert "Jürgen Müller" in text and "€119.00" in text


# -- the email carries it ---------------------------------------------------------------------


def pdf_parts(message) -> list:
    return [
        part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"
    ]


def test_the_invoice_email_carries_the_pdf_made_when_it_is_sent(
    smtp_app, db, polish_customer, smtp
):
    invoice = capture(db, polish_customer, 123450, "EUR").invoice

    [message] = smtp.to("jurgen@example.com")
    [part] = pdf_parts(message)
    assert part.get_filename() == "Invoice-INV-000001.pdf"
    data = part.get_content()
    [text] = pages_text(data)
    assert "INV-000001" in text and "Jürgen Müller" in text and "€1,469.06" in text
    # The copy the panel offers for download is the same file.
    assert data == pdf_of(db.session.get(Invoice, invoice.id)).data
    assert "The invoice is attached as a PDF." in message.get_body(("plain",)).get_content()
    # The recorded email holds its text only; the PDF was made for the message.
    email = db.session.scalar(select(Email))
    assert email.status == EmailStatus.SENT and b"%PDF" not in email.html_body.encode()


def test_the_credit_note_email_carries_its_pdf(smtp_app, db, russian_customer, smtp):
    capture(db, russian_customer, -2500, "KWD", "Goodwill credit")

    [message] = smtp.to("zhukov@example.com")
    [part] = pdf_parts(message)
    assert part.get_filename() == "Credit-note-CN-000001.pdf"
    [text] = pages_text(part.get_content())
    assert "CN-000001" in text and "Сергей Жуков" in text and "KWD\u00a02.500" in text


def test_an_email_whose_document_is_missing_fails_with_the_reason(
    smtp_app, db, polish_customer, smtp
):
    email = Email(
        customer_id=polish_customer.id,
        kind="invoice",
        name="Invoice INV-000042",
        recipient="jurgen@example.com",
        subject="Invoice INV-000042 from Tally",
        html_body="<p>Hello</p>",
        text_body="Hello",
        status=EmailStatus.QUEUED,
    )
    db.session.add(email)
    db.session.commit()

    assert mailer.deliver(db.session, email.id) == EmailStatus.FAILED

    db.session.expire_all()
    failed = db.session.get(Email, email.id)
    assert failed.last_error == "Invoice INV-000042 was not found, so its PDF cannot be attached."
    assert smtp.messages == []


def test_other_emails_carry_no_attachment(smtp_app, db, polish_customer, smtp):
    email = Email(
        customer_id=polish_customer.id,
        kind="payment_link_test",
        name="Something else",
        recipient="jurgen@example.com",
        subject="Hello",
        html_body="<p>Hello</p>",
        text_body="Hello",
        status=EmailStatus.QUEUED,
    )
    db.session.add(email)
    db.session.commit()

    assert mailer.deliver(db.session, email.id) == EmailStatus.SENT
    [message] = smtp.messages
    assert list(message.iter_attachments()) == []
