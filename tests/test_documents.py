"""Documents as issued: an invoice or credit note keeps the seller, buyer and footer it
was issued with, whatever later happens to the customer or the legal entity; an invoice
page says everything EU VAT Directive art. 226 asks; the customer's internal footnotes
never print, the legal entity's footer does."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from tests.document_pages import buyer_block, seller_block, text_of
from tests.test_edit_versions import opened
from tests.test_settings import error_beside
from webapp.extensions import db as _db
from webapp.models.billing import CreditNote, Invoice, InvoiceLine
from webapp.models.customer import Customer
from webapp.models.settings import LegalEntity
from webapp.services import settings
from webapp.services.billing import capture_one_time_charge
from webapp.services.documents import TaxAtRate, document_of

ISSUED = date(2026, 3, 2)
FOOTER = "Pay to Acme Europe GmbH\nIBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX"
FOOTNOTE = "Internal: slow payer, call before dunning"
ENTITY = {
    "name": "Acme Europe GmbH",
    "address": "Hauptstraße 1\n10115 Berlin\nGermany",
    "country": "DE",
    "tax_id": "DE136695976",
    "default_currency": "EUR",
    "number_prefix": "",
    "invoice_footer": FOOTER,
}
BUYER = {
    "name": "Claire Dubois",
    "company": "Dubois Conseil SARL",
    "country": "FR",
    "currency": "EUR",
    "address_line1": "8 rue de la Paix",
    "address_line2": "Bâtiment B",
    "postal_code": "75002",
    "city": "Paris",
    "tax_id": "FR40303265045",
    "email": "claire@dubois.example",
    "first_name": "Claire",
    "last_name": "Dubois",
    "payment_terms_days": "30",
    "invoicing_flow": "automatic",
    "footnotes": FOOTNOTE,
}


@pytest.fixture
def entity(db) -> LegalEntity:
    return settings.create_legal_entity(db.session, ENTITY)


@pytest.fixture
def buyer(db, admin_client, entity) -> Customer:
    """A French company billed by the German entity at 19 %, added through the form."""
    tax_class = settings.tax_class_for_rate(db.session, 1900)
    db.session.commit()
    response = admin_client.post(
        "/customers/new",
        {**BUYER, "tax_class_id": str(tax_class.id), "legal_entity_id": str(entity.id)},
    )
    assert response.status_code == 303
    return db.session.scalar(select(Customer).where(Customer.name == BUYER["name"]))


def capture(db, customer_id: int, minor: int) -> Invoice | CreditNote:
    result = capture_one_time_charge(
        db.session,
        customer_id,
        amount_minor=minor,
        currency="EUR",
        description="Strategy workshop" if minor > 0 else "Goodwill",
        actor_id=None,
        key=uuid.uuid4().hex,
        today=ISSUED,
    )
    return result.invoice or result.credit_note


def page_of(client, document: Invoice | CreditNote) -> str:
    kind = "invoices" if isinstance(document, Invoice) else "credit-notes"
    response = client.get(f"/{kind}/{document.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# -- what an invoice must say (art. 226) -------------------------------------------------


def test_an_invoice_says_everything_article_226_asks(admin_client, db, buyer):
    invoice = capture(db, buyer.id, 10_000)
    html = page_of(admin_client, invoice)
    text = text_of(html)
    seller = seller_block(html)
    # Seller: name, address, VAT number.
    assert "<strong>Acme Europe GmbH</strong>" in seller
    assert "Hauptstraße 1<br>10115 Berlin<br>Germany" in seller
    assert "Tax ID / VAT number: DE136695976" in seller
    # Buyer: name, address, VAT number (and the customer ID).
    bought = buyer_block(html)
    assert "Bill to" in bought and "<strong>Claire Dubois</strong>" in bought
    assert (
        "Dubois Conseil SARL<br>8 rue de la Paix<br>Bâtiment B<br>75002 Paris<br>France" in bought
    )
    assert "Tax ID / VAT number: FR40303265045" in bought
    assert f"Customer ID: {buyer.customer_id}" in bought
    # Number, issue date, date of supply (the issue date when none is given), due date.
    assert "Invoice number INV-000001" in text
    assert "Issue date 2026-03-02 Date of supply 2026-03-02 Due date 2026-04-01" in text
    # Per line: description, quantity, unit price, tax rate, net amount.
    assert "Description Quantity Unit price Tax rate Net amount" in text
    assert "Strategy workshop 1 €100.00 19.00 % €100.00" in text
    # Tax per rate, the total and its currency.
    assert "Subtotal €100.00 Tax (19.00 %) on €100.00 €19.00 Total (EUR) €119.00" in text
    assert "Currency EUR" in text
    # The entity's footer prints, the customer's footnotes never.
    assert f'<footer class="document-footer prewrap">{FOOTER}</footer>' in html
    assert FOOTNOTE not in html and "slow payer" not in html


def test_a_credit_note_names_the_buyer_and_prints_the_footer(admin_client, db, buyer):
    credit_note = capture(db, buyer.id, -2_500)
    html = page_of(admin_client, credit_note)
    bought = buyer_block(html)
    assert "Credited to" in bought and "<strong>Claire Dubois</strong>" in bought
    assert "8 rue de la Paix<br>Bâtiment B<br>75002 Paris<br>France" in bought
    assert "Tax ID / VAT number: FR40303265045" in bought
    assert f"Customer ID: {buyer.customer_id}" in bought
    text = text_of(html)
    assert "Credit note number CN-000001 Issue date 2026-03-02" in text
    assert "Goodwill €25.00 Total credited (EUR) €25.00" in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert FOOTNOTE not in html


def test_no_footer_no_footer_element(admin_client, db, make_customer):
    customer = make_customer(footnotes=FOOTNOTE)
    html = page_of(admin_client, capture(db, customer.id, 1_000))
    assert "document-footer" not in html and FOOTNOTE not in html


# -- as issued, whatever happens later -------------------------------------------------


def snapshot(document) -> tuple:
    _db.session.refresh(document)
    return (
        document.buyer_name,
        document.buyer_company,
        document.buyer_address,
        document.buyer_tax_id,
        document.buyer_customer_number,
        document.seller_name,
        document.seller_address,
        document.seller_tax_id,
        document.footer_text,
    )


AS_ISSUED = (
    "Claire Dubois",
    "Dubois Conseil SARL",
    "8 rue de la Paix\nBâtiment B\n75002 Paris\nFrance",
    "FR40303265045",
    None,  # the customer ID, filled in by the test
    "Acme Europe GmbH",
    "Hauptstraße 1\n10115 Berlin\nGermany",
    "DE136695976",
    FOOTER,
)


def test_documents_keep_what_they_said_through_edits_and_clearing(admin_client, db, buyer, entity):
    invoice = capture(db, buyer.id, 10_000)
    credit_note = capture(db, buyer.id, -2_500)
    expected = AS_ISSUED[:4] + (buyer.customer_id,) + AS_ISSUED[5:]
    assert snapshot(invoice) == snapshot(credit_note) == expected
    pages_before = [text_of(page_of(admin_client, doc)) for doc in (invoice, credit_note)]

    # The customer is edited: a new name, company, address and VAT number.
    edit = admin_client.get(f"/customers/{buyer.id}/edit").get_data(as_text=True)
    edited = admin_client.post(
        f"/customers/{buyer.id}/edit",
        {
            **BUYER,
            "csrf_token": csrf_token_from(edit),
            "name": "Claire Martin",
            "company": "Martin & Fils",
            "address_line1": "1 place Bellecour",
            "address_line2": "",
            "postal_code": "69002",
            "city": "Lyon",
            "tax_id": "",
            "tax_class_id": str(buyer.tax_class_id),
            "legal_entity_id": str(entity.id),
        },
    )
    assert edited.status_code == 303
    # The legal entity is edited: a new name, address, VAT number and footer.
    entity_edit = admin_client.post(
        f"/settings/legal-entities/{entity.id}/edit",
        {
            **ENTITY,
            "name": "Acme Holding AG",
            "address": "Ring 9\n8000 Zürich",
            "country": "AT",
            "tax_id": "ATU13585627",
            "invoice_footer": "New bank: IBAN AT61 1904 3002 3457 3201",
        },
    )
    assert entity_edit.status_code == 303
    assert snapshot(invoice) == snapshot(credit_note) == expected
    assert [text_of(page_of(admin_client, doc)) for doc in (invoice, credit_note)] == pages_before

    # Clear personal data: the customer is blanked, the documents are not.
    preview = admin_client.get(f"/customers/{buyer.id}/clear-personal-data").get_data(as_text=True)
    assert (
        "Invoices and credit notes already issued are legal records: they keep the name,"
        " company, address, tax ID and customer ID printed on them, unchanged." in preview
    )
    cleared = admin_client.post(f"/customers/{buyer.id}/clear-personal-data", {})
    assert cleared.status_code == 303
    assert db.session.get(Customer, buyer.id).name == "Personal data cleared"
    assert snapshot(invoice) == snapshot(credit_note) == expected
    assert [text_of(page_of(admin_client, doc)) for doc in (invoice, credit_note)] == pages_before
    assert "Claire Dubois" in pages_before[0] and "Martin" not in pages_before[0]

    # A document issued now takes the customer and the entity as they are now.
    later_html = page_of(admin_client, capture(db, buyer.id, 500))
    later = text_of(later_html)
    assert "<strong>Personal data cleared</strong>" in buyer_block(later_html)
    assert "Bellecour" not in later  # the address was cleared with the rest
    assert "Acme Holding AG" in later and "Ring 9 8000 Zürich" in later
    assert "ATU13585627" in later and "New bank: IBAN AT61" in later
    assert "Claire" not in later and "Acme Europe GmbH" not in later


def test_the_clear_preview_says_nothing_of_documents_when_there_are_none(admin_client, buyer):
    preview = admin_client.get(f"/customers/{buyer.id}/clear-personal-data").get_data(as_text=True)
    assert "0 invoices" in preview and "already issued are legal records" not in preview


# -- the read model ---------------------------------------------------------------------


def test_document_of_reads_lines_tax_per_rate_and_the_supply_date(admin_client, db, buyer):
    invoice = capture(db, buyer.id, 10_000)
    doc = document_of(invoice)
    assert (doc.kind, doc.number, doc.status, doc.currency) == (
        "invoice",
        "INV-000001",
        "open",
        "EUR",
    )
    assert doc.seller.address_lines == ("Hauptstraße 1", "10115 Berlin", "Germany")
    assert doc.buyer.customer_number == buyer.customer_id
    assert (doc.issue_date, doc.supply_date, doc.due_date) == (ISSUED, ISSUED, date(2026, 4, 1))
    assert [(line.quantity, line.unit_price_minor, line.net_minor, line.tax_rate_bp)
            for line in doc.lines] == [(1, 10_000, 10_000, 1900)]  # fmt: skip
    assert doc.taxes == (TaxAtRate(1900, 10_000, 1_900),)
    assert (doc.subtotal_minor, doc.tax_minor, doc.total_minor) == (10_000, 1_900, 11_900)
    assert doc.footer_text == FOOTER

    # Two lines at two rates, supplied before the issue date (as drafts will make them).
    invoice.supply_date = date(2026, 2, 27)
    invoice.lines.append(
        InvoiceLine(
            description="Books", quantity=3, unit_price_minor=1_250, amount_minor=3_750,
            tax_rate_bp=700,
        )
    )  # fmt: skip
    db.session.commit()
    doc = document_of(invoice)
    assert doc.supply_date == date(2026, 2, 27)
    assert doc.taxes == (TaxAtRate(700, 3_750, 263), TaxAtRate(1900, 10_000, 1_900))
    html_text = text_of(page_of(admin_client, invoice))
    assert "Date of supply 2026-02-27" in html_text
    assert "Books 3 €12.50 7.00 % €37.50" in html_text
    assert "Tax (7.00 %) on €37.50 €2.63 Tax (19.00 %) on €100.00 €19.00" in html_text

    credit_note = capture(db, buyer.id, -2_500)
    doc = document_of(credit_note)
    assert (doc.kind, doc.due_date, doc.supply_date, doc.taxes) == (
        "credit_note", None, ISSUED, ()
    )  # fmt: skip
    assert doc.total_minor == 2_500 and doc.lines[0].description == "Goodwill"


# -- the footer in Settings -------------------------------------------------------------


def test_the_footer_is_a_field_of_the_legal_entity_form(admin_client, db, entity):
    form = admin_client.get(f"/settings/legal-entities/{entity.id}/edit").get_data(as_text=True)
    assert '<label for="invoice_footer">Invoice footer</label>' in form
    assert "Pay to Acme Europe GmbH\nIBAN" in form
    response = admin_client.post(
        f"/settings/legal-entities/{entity.id}/edit",
        {
            **ENTITY,
            "invoice_footer": "  IBAN GB33 BUKB 2020 1555 5555 55\r\nRef: your ID ",
        },
    )
    assert response.status_code == 303
    db.session.refresh(entity)
    assert entity.invoice_footer == "IBAN GB33 BUKB 2020 1555 5555 55\nRef: your ID"

    too_long = admin_client.post(
        f"/settings/legal-entities/{entity.id}/edit", {**ENTITY, "invoice_footer": "x" * 2001}
    )
    assert too_long.status_code == 422
    assert error_beside(too_long.get_data(as_text=True), "invoice_footer") == (
        "A footer can be at most 2,000 characters."
    )
    db.session.refresh(entity)
    assert entity.invoice_footer.startswith("IBAN GB33")


def test_a_footer_saved_meanwhile_is_named_in_the_conflict(admin_client, db, entity):
    url = f"/settings/legal-entities/{entity.id}/edit"
    form = opened(admin_client, url)
    assert form["invoice_footer"] == FOOTER
    settings.update_legal_entity(db.session, entity, {**ENTITY, "invoice_footer": "Other bank"})
    response = admin_client.post(url, {**form, "invoice_footer": "My bank"})
    assert response.status_code == 409
    assert "Invoice footer: now Other bank" in response.get_data(as_text=True)
    db.session.refresh(entity)
    assert entity.invoice_footer == "Other bank"
