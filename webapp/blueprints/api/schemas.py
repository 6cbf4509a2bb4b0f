"""The API's request and response shapes, as pydantic models.

They describe shapes only (types, which fields exist), for the OpenAPI document and for
turning rows into JSON. Whether a value is acceptable (an email address, a country, an
amount) is the panel form's and the services' business: one set of rules. Money is always
integer minor units with its ISO 4217 code, never a float.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CURSOR_HELP = (
    "Opaque cursor from the previous page's next_cursor; leave out for the first page. "
    "A page holds at most 50 items."
)


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


def utc(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as an aware one, so JSON says ...Z."""
    return value.replace(tzinfo=UTC) if value is not None else None


# -- shared -------------------------------------------------------------------------------


class Money(Shape):
    """An amount in the currency's minor units (cents): 1500 EUR is 15.00 EUR."""

    amount_minor: int = Field(description="Integer minor units; negative for a charge.")
    currency: str = Field(description="ISO 4217 code, e.g. EUR.", examples=["EUR"])


class FieldError(Shape):
    field: str = Field(description="The request field (or header) the message is about.")
    message: str = Field(description="What to change, in the panel form's own words.")


class Problem(Shape):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field messages (422, and 409 on a taken external ID)."
    )


# -- customers ------------------------------------------------------------------------------

CustomerStatus = Literal["active", "suspended", "archived"]


class CustomerSummary(Shape):
    """A row of the customer list."""

    id: int
    customer_number: str = Field(description="The ID staff see, e.g. C-000042.")
    external_id: str | None
    name: str
    company: str
    email: str
    country: str
    currency: str
    status: CustomerStatus
    balance: Money = Field(description="Balance in the billing currency (negative: owes).")
    other_currencies: int = Field(description="Other currencies with a non-zero balance.")
    tags: list[str]
    created_at: datetime


class Customer(Shape):
    """A customer, with its balance in every currency used."""

    id: int
    customer_number: str
    external_id: str | None
    status: CustomerStatus
    name: str
    company: str
    first_name: str
    last_name: str
    email: str
    phone: str
    mobile: str
    fax: str
    position: str
    website: str
    country: str
    currency: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    tax_id: str
    tax_class_id: int
    tax_rate_bp: int = Field(description="Tax rate in hundredths of a percent: 1900 is 19 %.")
    legal_entity_id: int
    payment_terms_days: int
    invoicing_flow: Literal["automatic", "manual"]
    auto_pay: bool
    payment_gateway: str
    footnotes: str
    balances: list[Money]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class CustomerList(Shape):
    data: list[CustomerSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: last.")


_TEXT = "Text, as typed in the panel's Add customer form."


class CustomerWrite(Shape):
    """Fields of Add customer / Edit customer. On update, a field left out keeps its value."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "email": "ada@example.com",
                    "country": "DE",
                    "phone": "030 1234567",
                    "external_id": "shop-1001",
                }
            ]
        }
    )

    name: str | None = Field(default=None, description="Required when creating.")
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = Field(default=None, description="Required when creating.")
    phone: str | None = Field(default=None, description="Any common format; stored as E.164.")
    mobile: str | None = None
    fax: str | None = None
    position: str | None = None
    website: str | None = None
    country: str | None = Field(
        default=None, description="ISO 3166-1 alpha-2 code. Required when creating."
    )
    currency: str | None = Field(
        default=None,
        description="ISO 4217 code; empty or left out: the country's currency. Fixed once "
        "money has moved.",
    )
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    tax_id: str | None = Field(default=None, description="Tax ID / VAT number, checked.")
    tax_class_id: int | None = Field(default=None, description="Default: the lowest rate.")
    legal_entity_id: int | None = Field(default=None, description="Default: the oldest.")
    payment_terms_days: int | None = Field(default=None, description="0 to 365; default 30.")
    invoicing_flow: str | None = Field(default=None, description="automatic or manual.")
    auto_pay: bool | None = None
    payment_gateway: str | None = None
    footnotes: str | None = None
    external_id: str | None = Field(
        default=None,
        description="Your own id for the customer: unique, at most 100 characters; "
        "empty or null clears it. Taken by another customer: 409.",
    )


class CustomerListQuery(Shape):
    """The panel list's search, filters and sort (the same query string)."""

    q: str | None = Field(default=None, description="Search: name, email, phone, IDs …")
    status: Literal["all", "active", "suspended", "archived"] | None = Field(
        default=None, description="Default: every status but archived."
    )
    currency: str | None = Field(default=None, description="Billing currency (ISO 4217).")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2.")
    balance: Literal["owes", "credit", "paid"] | None = None
    tag: str | None = Field(default=None, description="A tag's name.")
    email: Literal["unverified"] | None = None
    sort: (
        Literal[
            "customer_id",
            "name",
            "company",
            "email",
            "country",
            "currency",
            "status",
            "created",
            "balance",
        ]
        | None
    ) = Field(default=None, description="Default: created, newest first.")
    dir: Literal["asc", "desc"] | None = None
    cursor: str | None = Field(default=None, description=CURSOR_HELP)


class CursorQuery(Shape):
    cursor: str | None = Field(default=None, description=CURSOR_HELP)


class InvoiceListQuery(Shape):
    status: Literal["draft", "open", "paid", "refunded", "void"] | None = None
    cursor: str | None = Field(default=None, description=CURSOR_HELP)


# -- entries ------------------------------------------------------------------------------


class Entry(Shape):
    """A ledger entry (append-only). Charges are negative, credits positive."""

    id: int
    kind: Literal["charge", "credit", "payment", "refund", "adjustment"]
    amount: Money
    description: str
    payment_method: str
    reference: str
    invoice_id: int | None
    credit_note_id: int | None
    created_at: datetime


class EntryList(Shape):
    data: list[Entry]
    next_cursor: str | None


class EntryCreate(Shape):
    """The panel's Add entry: a Charge (the customer owes it) or a Credit (in their favour)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "charge",
                    "amount": {"amount_minor": 1500, "currency": "EUR"},
                    "description": "Setup fee",
                }
            ]
        }
    )

    kind: Literal["charge", "credit"]
    amount: Money = Field(
        description="A positive amount; a charge is stored negative, a credit positive."
    )
    description: str = Field(description="What the customer sees on their statement.")
    payment_method: str | None = Field(default=None, description="Credits only.")
    reference: str | None = Field(default=None, description="Credits only.")
    record_again: bool = Field(
        default=False,
        description="The same amount and description in the last 10 minutes is refused "
        "(409) unless this is true, as the panel asks to tick “Record it again”.",
    )


# -- invoices and credit notes --------------------------------------------------------------


class InvoiceLine(Shape):
    description: str
    quantity: int
    unit_price: Money
    amount: Money = Field(description="Quantity × unit price, before tax.")
    tax_rate_bp: int


class Invoice(Shape):
    id: int
    number: str | None = Field(description="Null while a draft.")
    status: Literal["draft", "open", "paid", "refunded", "void"]
    customer_id: int
    issue_date: date
    due_date: date | None
    supply_date: date | None
    subtotal: Money
    tax: Money
    total: Money
    lines: list[InvoiceLine]
    pdf_url: str | None = Field(description="The PDF as issued; null for a draft.")
    created_at: datetime


class InvoiceList(Shape):
    data: list[Invoice]
    next_cursor: str | None


class CreditNote(Shape):
    id: int
    number: str
    customer_id: int
    issue_date: date
    description: str
    total: Money
    pdf_url: str
    created_at: datetime


class CreditNoteList(Shape):
    data: list[CreditNote]
    next_cursor: str | None


class ChargeCreate(Shape):
    """The panel's Capture one time charge: a positive amount invoices it, a negative one
    credits it with a credit note."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"amount": {"amount_minor": 25000, "currency": "EUR"}, "description": "Workshop"}
            ]
        }
    )

    amount: Money = Field(
        description="Net amount: positive for an invoice (tax is added at the customer's "
        "rate), negative for a credit note."
    )
    description: str = Field(description="The invoice line, or the credit note's text.")
    record_again: bool = Field(
        default=False,
        description="The same charge in the last 10 minutes is refused (409) unless true.",
    )


class ChargeResult(Shape):
    """What the charge made: an issued invoice and its entry, a draft invoice (Manual
    invoicing flow: no number and no entry until it is finalized in the panel), or a
    credit note and its entry."""

    invoice: Invoice | None
    credit_note: CreditNote | None
    entry: Entry | None


# -- payment links --------------------------------------------------------------------------


class PaymentLinkCreate(Shape):
    expires: Literal["30", "90", "never"] = Field(
        default="90", description="Days until the link stops working, or never."
    )


class PaymentLink(Shape):
    """The customer's live payment link; generating one revokes the previous link."""

    url: str = Field(description="The customer's balance page; share it with them.")
    created_at: datetime
    expires_at: datetime | None
