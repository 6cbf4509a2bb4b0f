"""Documents as issued: what an invoice or credit note says, read from the document alone.

An invoice or credit note stores its seller, its buyer and its footer as they were when
it was issued (``snapshot_of``); from then on it is shown from those columns, never
from the customer or the legal entity, whatever happens to them later (an edit, Clear
personal data). ``document_of`` reads one into a plain, frozen record that the HTML
page, emails and a PDF renderer all print from, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import groupby
from typing import Literal

from webapp.models.billing import CreditNote, Invoice
from webapp.models.customer import Customer
from webapp.services.money import tax_for
from webapp.services.reference import country_name

# What a credit note's status reads: it has no open / paid life of its own.
CREDIT_NOTE_STATUS = "issued"


@dataclass(frozen=True)
class DocumentSeller:
    name: str
    address_lines: tuple[str, ...]
    tax_id: str


@dataclass(frozen=True)
class DocumentBuyer:
    name: str
    company: str
    address_lines: tuple[str, ...]
    tax_id: str
    # The customer's public ID as the panel shows it (C-000042).
    customer_number: str


@dataclass(frozen=True)
class DocumentLine:
    description: str
    quantity: int
    unit_price_minor: int
    # quantity x unit price, before tax.
    net_minor: int
    # Hundredths of a percent: 19.00 % is 1900.
    tax_rate_bp: int


@dataclass(frozen=True)
class TaxAtRate:
    """The tax of the lines at one rate."""

    rate_bp: int
    net_minor: int
    tax_minor: int


@dataclass(frozen=True)
class Document:
    """An invoice or credit note as issued. Amounts are minor units of ``currency``."""

    kind: Literal["invoice", "credit_note"]
    number: str
    status: str
    seller: DocumentSeller
    buyer: DocumentBuyer
    issue_date: date
    # The date of supply: the issue date unless the invoice names another.
    supply_date: date
    # None for a credit note.
    due_date: date | None
    currency: str
    lines: tuple[DocumentLine, ...]
    # Per rate, lowest rate first; empty for a credit note (it credits an amount as
    # charged, with no tax of its own).
    taxes: tuple[TaxAtRate, ...]
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    footer_text: str

    @property
    def title(self) -> str:
        return "Invoice" if self.kind == "invoice" else "Credit note"


def address_text(
    line1: str, line2: str, postal_code: str, city: str, region: str, country: str
) -> str:
    """An address as written on an envelope, one part a line, the country last."""
    place = f"{postal_code} {city}".strip()
    parts = (line1, line2, place, region, country_name(country) if country else "")
    return "\n".join(part for part in parts if part)


def snapshot_of(customer: Customer) -> dict:
    """The seller, buyer and footer printed on a document the customer is issued now, as the
    document's column values."""
    entity = customer.legal_entity
    return {
        "seller_name": entity.name,
        "seller_address": entity.address,
        "seller_tax_id": entity.tax_id,
        "buyer_name": customer.name,
        "buyer_company": customer.company,
        "buyer_address": address_text(
            customer.address_line1,
            customer.address_line2,
            customer.postal_code,
            customer.city,
            customer.region,
            customer.country,
        ),
        "buyer_tax_id": customer.tax_id,
        "buyer_customer_number": customer.customer_id,
        "footer_text": entity.invoice_footer,
    }


def _lines_of(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def _taxes(invoice: Invoice, lines: tuple[DocumentLine, ...]) -> tuple[TaxAtRate, ...]:
    by_rate = sorted(lines, key=lambda line: line.tax_rate_bp)
    taxes = [
        TaxAtRate(rate, net, tax_for(net, rate))
        for rate, group in groupby(by_rate, key=lambda line: line.tax_rate_bp)
        for net in [sum(line.net_minor for line in group)]
    ]
    if len(taxes) == 1:
        # One rate: the tax is the invoice's own figure, as it was charged.
        only = taxes[0]
        return (TaxAtRate(only.rate_bp, only.net_minor, invoice.tax_minor),)
    return tuple(taxes)


def document_of(document: Invoice | CreditNote) -> Document:
    """The invoice or credit note as issued, from its own columns only."""
    seller = DocumentSeller(
        document.seller_name, _lines_of(document.seller_address), document.seller_tax_id
    )
    buyer = DocumentBuyer(
        document.buyer_name,
        document.buyer_company,
        _lines_of(document.buyer_address),
        document.buyer_tax_id,
        document.buyer_customer_number,
    )
    common = dict(
        number=document.number,
        seller=seller,
        buyer=buyer,
        issue_date=document.issue_date,
        currency=document.currency,
        footer_text=document.footer_text,
    )
    if isinstance(document, CreditNote):
        line = DocumentLine(document.description, 1, document.total_minor, document.total_minor, 0)
        return Document(
            kind="credit_note",
            status=CREDIT_NOTE_STATUS,
            supply_date=document.issue_date,
            due_date=None,
            lines=(line,),
            taxes=(),
            subtotal_minor=document.total_minor,
            tax_minor=0,
            total_minor=document.total_minor,
            **common,
        )
    lines = tuple(
        DocumentLine(
            line.description, line.quantity, line.unit_price_minor, line.amount_minor,
            line.tax_rate_bp,
        )
        for line in document.lines
    )  # fmt: skip
    return Document(
        kind="invoice",
        status=str(document.status),
        supply_date=document.supply_date or document.issue_date,
        due_date=document.due_date,
        lines=lines,
        taxes=_taxes(document, lines),
        subtotal_minor=document.subtotal_minor,
        tax_minor=document.tax_minor,
        total_minor=document.total_minor,
        **common,
    )
