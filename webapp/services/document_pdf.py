"""PDF copies of invoices and credit notes, printed from the document as issued.

``sheet_of`` turns the read model (``documents.document_of``) into the text the
PDF shows, with the app's own money, tax-rate and date formatting, so the PDF says
what the page says. The panel's download route and the email job both call
``pdf_of``; an invoice or credit-note email gets its PDF when the job sends it
(``attachments_for``), never when the request that caused it is answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.billing import CreditNote, Invoice
from webapp.models.email import Email
from webapp.services.documents import Document, document_of
from webapp.services.money import format_money
from webapp.services.pdf_sheet import Column, Party, Sheet, Total
from webapp.services.reference import format_tax_rate

PDF_TYPE = "application/pdf"

# The emails that carry their document, by Email.kind.
_EMAILED_DOCUMENTS: dict[str, type[Invoice] | type[CreditNote]] = {
    "invoice": Invoice,
    "credit_note": CreditNote,
    # A payment reminder (services.reminders) whose step attaches the invoice PDF.
    "reminder": Invoice,
}


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


class DocumentPdfError(Exception):
    """An email whose document cannot be found to attach; the message says which."""


def _date(value: date | None) -> str:
    # As the page and the emails write dates.
    return value.strftime("%Y-%m-%d") if value else ""


def tax_rate_text(rate_bp: int) -> str:
    """19.00 %, as the page writes a rate."""
    return f"{format_tax_rate(rate_bp)} %"


def sheet_of(document: Document) -> Sheet:
    """What the PDF of ``document`` shows: what its page shows (partials/document.html),
    in the same words and order, with amounts, rates and dates formatted as there."""

    def amount(minor: int) -> str:
        return format_money(minor, document.currency)

    seller, buyer = document.seller, document.buyer
    seller_lines = list(seller.address_lines)
    if seller.tax_id:
        seller_lines.append(f"Tax ID / VAT number: {seller.tax_id}")
    buyer_lines = []
    if buyer.company and buyer.company != buyer.name:
        buyer_lines.append(buyer.company)
    buyer_lines += buyer.address_lines
    if buyer.tax_id:
        buyer_lines.append(f"Tax ID / VAT number: {buyer.tax_id}")
    if buyer.customer_number:
        buyer_lines.append(f"Customer ID: {buyer.customer_number}")

    dates = [
        (f"{document.title} number", document.number),
        ("Issue date", _date(document.issue_date)),
    ]
    if document.kind == "invoice":
        dates += [
            ("Date of supply", _date(document.supply_date)),
            ("Due date", _date(document.due_date)),
        ]
        columns = [
            Column("Description"),
            Column("Quantity", numeric=True),
            Column("Unit price", numeric=True),
            Column("Tax rate", numeric=True),
            Column("Net amount", numeric=True),
        ]
        rows = [
            [
                line.description,
                str(line.quantity),
                amount(line.unit_price_minor),
                tax_rate_text(line.tax_rate_bp),
                amount(line.net_minor),
            ]
            for line in document.lines
        ]
        totals = [Total("Subtotal", amount(document.subtotal_minor))]
        for tax in document.taxes:
            label = f"Tax ({tax_rate_text(tax.rate_bp)}) on {amount(tax.net_minor)}"
            totals.append(Total(label, amount(tax.tax_minor)))
        totals.append(Total(f"Total ({document.currency})", amount(document.total_minor), True))
        notes = [f"Please pay {amount(document.total_minor)} by {_date(document.due_date)}."]
        buyer_heading = "Bill to"
    else:
        columns = [Column("Description"), Column("Amount", numeric=True)]
        rows = [[line.description, amount(line.net_minor)] for line in document.lines]
        label = f"Total credited ({document.currency})"
        totals = [Total(label, amount(document.total_minor), True)]
        notes = []
        buyer_heading = "Credited to"
    dates.append(("Currency", document.currency))

    return Sheet(
        title=document.title,
        number=document.number,
        seller=Party(seller.name, seller_lines),
        buyer_heading=buyer_heading,
        buyer=Party(buyer.name, buyer_lines),
        dates=dates,
        columns=columns,
        rows=rows,
        totals=totals,
        notes=notes,
        footer_text=document.footer_text,
        issued=datetime.combine(document.issue_date, time()),
    )


def pdf_filename(document: Document) -> str:
    """Invoice-INV-000001.pdf, Credit-note-CN-000001.pdf."""
    return f"{document.title.replace(' ', '-')}-{document.number}.pdf"


def pdf_of(invoice_or_credit_note: Invoice | CreditNote) -> Attachment:
    """The PDF copy of an invoice or credit note, as issued, with its file name."""
    document = document_of(invoice_or_credit_note)
    from webapp.services.pdf import render  # fpdf2 loads with the first PDF (pdf_sheet)

    data = render(sheet_of(document), current_app.config.get("PDF_FALLBACK_FONT", ""))
    return Attachment(pdf_filename(document), PDF_TYPE, data)


def emailed_document(session: Session, email: Email) -> Invoice | CreditNote | None:
    """The invoice or credit note an invoice or credit-note email was written for; None
    for any other email. The email names its document ("Invoice INV-000042"); numbers
    are unique per legal entity, so should one customer hold the same number from two
    entities, it is the one written together with the email."""
    model = _EMAILED_DOCUMENTS.get(email.kind)
    if model is None or email.customer_id is None:
        return None
    number = email.name.rpartition(" ")[2]
    found = session.scalars(
        select(model).where(model.customer_id == email.customer_id, model.number == number)
    ).all()
    if not found:
        raise DocumentPdfError(f"{email.name} was not found, so its PDF cannot be attached.")
    return min(found, key=lambda document: abs(document.created_at - email.created_at))


def attachments_for(session: Session, email: Email) -> list[Attachment]:
    """What an email carries besides its text: an invoice or credit note, its PDF."""
    if email.payment_link_id is not None:
        return []  # a reminder with the payment link in its text instead
    document = emailed_document(session, email)
    return [] if document is None else [pdf_of(document)]
