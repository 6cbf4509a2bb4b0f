"""The customer account."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    event,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import Versioned, utcnow


class CustomerStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """As the panel and exports show it: Active, Suspended, Archived."""
        return self.value.capitalize()


class InvoicingFlow(enum.StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


CUSTOMER_ID_PREFIX = "C-"

# The rows of the list's "Email not verified" filter in its default view (PostgreSQL's
# partial index ix_customers_unverified_created; services.search.EMAIL_FILTERS).
UNVERIFIED_WHERE = "email_verified_at IS NULL AND email <> '' AND status <> 'archived'"

# The columns that describe the person, with their labels: Clear personal data blanks
# them, and the history marks their old and new values as personal.
PERSONAL_COLUMNS = {
    "name": "Name",
    "company": "Company",
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "email": "Email",
    "phone": "Phone",
    "mobile": "Mobile",
    "fax": "Fax",
    "position": "Position",
    "website": "Website",
    "address_line1": "Address line 1",
    "address_line2": "Address line 2",
    "city": "City",
    "region": "Region",
    "postal_code": "Postal code",
    "tax_id": "Tax ID / VAT number",
    "footnotes": "Footnotes",
}


class Customer(Versioned, db.Model):
    """A customer account. Text columns are '' rather than NULL so sorting is total."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    company: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    first_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    last_name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    phone: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    mobile: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    fax: Mapped[str] = mapped_column(String(32), nullable=False, default="")
    position: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    website: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    address_line1: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    address_line2: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    region: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    postal_code: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    tax_id: Mapped[str] = mapped_column(String(50), nullable=False, default="")
    # The tax class sets the rate; tax_rate_bp mirrors the class's rate (hundredths of a
    # percent: 19.00 % is 1900) so invoices, lists and exports read it directly.
    tax_class_id: Mapped[int] = mapped_column(ForeignKey("tax_classes.id"), nullable=False)
    tax_rate_bp: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The seller on this customer's invoices.
    legal_entity_id: Mapped[int] = mapped_column(ForeignKey("legal_entities.id"), nullable=False)
    payment_terms_days: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    invoicing_flow: Mapped[str] = mapped_column(
        String(16), nullable=False, default=InvoicingFlow.AUTOMATIC
    )
    auto_pay: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Do not remind: the payment-reminder job skips this customer (services.reminders).
    do_not_remind: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    footnotes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CustomerStatus.ACTIVE)
    # The customer's id in another system (a CSV import's source, an API client's own
    # records); unique when set, so an import or a program can find the customer again.
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Which payment gateway bills this customer (services.gateways lists them).
    payment_gateway: Mapped[str] = mapped_column(String(32), nullable=False, default="manual")
    # Balance in the billing currency, mirrored from customer_balances in the same
    # transaction as each entry: the list sorts and filters on it with an index.
    balance_minor: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # Every currency at a glance, kept with balance_minor: some currency owed, some in
    # credit, and how many currencies besides the billing one are not at zero.
    owes_any: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    credit_any: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    other_currencies: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    # Lower-cased, accent-folded text of every searchable field (see services.search).
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Set by Clear personal data: the profile is blanked and can no longer be edited.
    personal_data_cleared_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The email address: confirmed by the customer (a Verify email link, an accepted
    # invite), or refused for good by a mail server (a 5xx answer), with its reason.
    # Changing the address clears all three (services.email_verification).
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    email_undeliverable_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    email_undeliverable_reason: Mapped[str] = mapped_column(
        String(500), nullable=False, default="", server_default=""
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    tax_class = relationship("TaxClass")
    legal_entity = relationship("LegalEntity")
    tags = relationship("Tag", secondary="customer_tags", order_by="Tag.key", viewonly=True)

    __table_args__ = (
        Index("ix_customers_tax_class", "tax_class_id"),
        Index("ix_customers_legal_entity", "legal_entity_id"),
        # One (column, id) index per sortable column: keyset-friendly, and the id
        # tie-breaker keeps paging stable when values repeat.
        Index("ix_customers_name_id", "name", "id"),
        Index("ix_customers_company_id", "company", "id"),
        Index("ix_customers_email_id", "email", "id"),
        Index("ix_customers_country_id", "country", "id"),
        Index("ix_customers_currency_id", "currency", "id"),
        Index("ix_customers_status_id", "status", "id"),
        Index("ix_customers_created_at_id", "created_at", "id"),
        Index("ix_customers_tax_id", "tax_id"),
        Index("ix_customers_external_id", "external_id", unique=True),
        Index("ix_customers_balance_id", "balance_minor", "id"),
        # A filter with the default newest-first order is an index walk, not a sort.
        Index("ix_customers_country_created", "country", "created_at", "id"),
        Index("ix_customers_currency_created", "currency", "created_at", "id"),
        Index("ix_customers_status_created", "status", "created_at", "id"),
        # PostgreSQL: the default view (not archived, newest first) as an index-only scan.
        Index(
            "ix_customers_live_created",
            "created_at",
            "id",
            postgresql_where=text("status <> 'archived'"),
        ).ddl_if(dialect="postgresql"),
        # PostgreSQL: the default view filtered by country or currency, newest first; its
        # capped count is an index-only scan (migration 0019).
        *(
            Index(
                f"ix_customers_live_{column}",
                column,
                "created_at",
                "id",
                postgresql_where=text("status <> 'archived'"),
            ).ddl_if(dialect="postgresql")
            for column in ("country", "currency")
        ),
        Index(
            "ix_customers_live_balance",
            "balance_minor",
            "id",
            postgresql_where=text("status <> 'archived'"),
        ).ddl_if(dialect="postgresql"),
        # PostgreSQL: the "Email not verified" filter, newest first, as an index walk over
        # just those customers (services.search, migration 0018).
        Index(
            "ix_customers_unverified_created",
            "created_at",
            "id",
            postgresql_where=text(UNVERIFIED_WHERE),
        ).ddl_if(dialect="postgresql"),
        Index("ix_customers_balance_status", "balance_minor", "id", "status").ddl_if(
            dialect="sqlite"
        ),
        # PostgreSQL: the Owes and In credit filters (any currency), newest first or by
        # balance, as index walks over just those customers.
        *(
            Index(
                f"ix_customers_{flag.split('_')[0]}_{column}",
                column,
                "id",
                postgresql_where=text(f"{flag} AND status <> 'archived'"),
            ).ddl_if(dialect="postgresql")
            for flag in ("owes_any", "credit_any")
            for column in ("created_at", "balance_minor")
        ),
        # SQLite has no trigram index: this covering index lets a substring search and a
        # deep page read the index alone instead of every wide row.
        Index("ix_customers_created_search", "created_at", "id", "status", "search_text").ddl_if(
            dialect="sqlite"
        ),
        Index(
            "ix_customers_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # A deleted customer's ID is never handed out again (PostgreSQL's sequence
        # already never reuses one; SQLite would reuse the highest without this).
        {"sqlite_autoincrement": True},
    )

    @property
    def customer_id(self) -> str:
        """The visible ID staff read out and type, e.g. C-000042."""
        return format_customer_id(self.id)

    @property
    def contact_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def tax_rate_percent(self) -> str:
        return f"{self.tax_rate_bp // 100}.{self.tax_rate_bp % 100:02d}"

    def __repr__(self) -> str:
        return f"<Customer {self.customer_id} {self.name!r}>"


@event.listens_for(Customer.email, "set")
def _address_changed(customer: Customer, value, old, initiator) -> None:
    """A new address is neither verified nor known to be undeliverable: whatever was known
    was about the old one. (Clear personal data, a Core UPDATE, clears them itself.)"""
    if isinstance(old, str) and old != value:
        customer.email_verified_at = None
        customer.email_undeliverable_at = None
        customer.email_undeliverable_reason = ""


def format_customer_id(number: int) -> str:
    return f"{CUSTOMER_ID_PREFIX}{number:06d}"
