"""The export's CSV: its columns, and every customer's row, a batch at a time; text
typed by people is neutralised so spreadsheets never read it as a formula."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.models.billing import CustomerBalance
from webapp.models.customer import Customer, CustomerStatus, format_customer_id
from webapp.services.money import format_plain
from webapp.services.reference import format_tax_rate

# Cells starting with one of these are read as formulas by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def neutralise(value: str | None) -> str:
    """Make a text cell inert in spreadsheets (OWASP "CSV injection"): a leading
    apostrophe keeps ``=HYPERLINK(…)`` or ``+49 …`` as the text it is."""
    if not value:
        return ""
    return "'" + value if value[0] in _FORMULA_FIRST else value


def _when(value: datetime | None) -> str:
    # isoformat is about twice as fast as strftime and writes the same for naive UTC.
    return value.isoformat(" ", "seconds") if value else ""


# (heading, customers column) in the order of the file: every profile field and the
# current balance. ``_cells`` writes a row's cells in this order.
COLUMNS: list[tuple[str, str]] = [
    ("Customer ID", "id"),
    ("Name", "name"),
    ("Company", "company"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Mobile", "mobile"),
    ("Fax", "fax"),
    ("Position", "position"),
    ("Website", "website"),
    ("Address line 1", "address_line1"),
    ("Address line 2", "address_line2"),
    ("City", "city"),
    ("Region", "region"),
    ("Postal code", "postal_code"),
    ("Country", "country"),
    ("Currency", "currency"),
    ("Tax ID", "tax_id"),
    ("Tax rate %", "tax_rate_bp"),
    ("Payment terms (days)", "payment_terms_days"),
    ("Invoicing flow", "invoicing_flow"),
    ("Auto pay", "auto_pay"),
    ("Payment gateway", "payment_gateway"),
    ("Status", "status"),
    ("Footnotes", "footnotes"),
    ("Balance", "balance_minor"),
    ("Created", "created_at"),
    ("Last changed", "updated_at"),
]
HEADINGS = [heading for heading, _ in COLUMNS] + ["Other balances"]
_SELECTED = [name for _, name in COLUMNS]


def _cells(row: tuple, others: dict[int, str]) -> tuple[str, ...]:
    """One customer's cells in ``COLUMNS`` order; people's text neutralised, Tally's numbers not.
    One call per row, tuple unpacking: at a million rows this is most of the export's time."""
    (
        customer_id,
        name,
        company,
        first_name,
        last_name,
        email,
        phone,
        mobile,
        fax,
        position,
        website,
        address_line1,
        address_line2,
        city,
        region,
        postal_code,
        country,
        currency,
        tax_id,
        tax_rate_bp,
        payment_terms_days,
        invoicing_flow,
        auto_pay,
        payment_gateway,
        status,
        footnotes,
        balance_minor,
        created_at,
        updated_at,
    ) = row
    return (
        format_customer_id(customer_id),
        neutralise(name),
        neutralise(company),
        neutralise(first_name),
        neutralise(last_name),
        neutralise(email),
        neutralise(phone),
        neutralise(mobile),
        neutralise(fax),
        neutralise(position),
        neutralise(website),
        neutralise(address_line1),
        neutralise(address_line2),
        neutralise(city),
        neutralise(region),
        neutralise(postal_code),
        country,
        currency,
        neutralise(tax_id),
        format_tax_rate(tax_rate_bp),
        str(payment_terms_days),
        neutralise(invoicing_flow),
        "yes" if auto_pay else "no",
        payment_gateway,
        CustomerStatus(status).label,
        neutralise(footnotes),
        format_plain(balance_minor, currency),
        _when(created_at),
        _when(updated_at),
        others.get(customer_id, ""),
    )


def _write_customers(
    session: Session, writer, customer_ids: list[int] | None = None
) -> Iterable[int]:
    """Write every customer (or those of ``customer_ids``), a batch at a time by id; yield the
    rows written so far."""
    batch_size = current_app.config["EXPORT_BATCH_SIZE"]
    table = Customer.__table__
    columns = [table.c[name] for name in _SELECTED]
    chosen = sorted(customer_ids) if customer_ids is not None else None
    last_id, done, start = 0, 0, 0
    while True:
        statement = select(*columns).order_by(table.c.id)
        if chosen is None:
            statement = statement.where(table.c.id > last_id).limit(batch_size)
        else:
            if start >= len(chosen):
                return
            statement = statement.where(table.c.id.in_(chosen[start : start + batch_size]))
            start += batch_size
        rows = session.connection().execute(statement).all()
        if not rows:
            if chosen is None:
                return
            continue  # the chosen customers of this batch are gone
        others = _other_balances(session, rows[0][0], rows[-1][0])
        writer.writerows([_cells(row, others) for row in rows])
        last_id = rows[-1][0]
        done += len(rows)
        yield done


def _other_balances(session: Session, first_id: int, last_id: int) -> dict[int, str]:
    """Non-zero balances in non-billing currencies, per customer id: "USD -10.00; GBP 5.00"."""
    found = session.execute(
        select(CustomerBalance.customer_id, CustomerBalance.currency, CustomerBalance.balance_minor)
        .join(Customer, Customer.id == CustomerBalance.customer_id)
        .where(
            CustomerBalance.customer_id.between(first_id, last_id),
            CustomerBalance.currency != Customer.currency,
            CustomerBalance.balance_minor != 0,
        )
        .order_by(CustomerBalance.customer_id, CustomerBalance.currency)
    ).all()
    others: dict[int, list[str]] = {}
    for customer_id, currency, amount in found:
        others.setdefault(customer_id, []).append(f"{currency} {format_plain(amount, currency)}")
    return {customer_id: "; ".join(parts) for customer_id, parts in others.items()}
