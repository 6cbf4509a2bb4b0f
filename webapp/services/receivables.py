"""Receivables aging: what customers owe on open invoices, by days past due.

What is outstanding: an invoice whose status is ``open`` (issued, neither paid, refunded
nor voided; a draft is not issued yet) owes its whole ``total_minor``. Payments are not
allocated to invoices in part: "Mark as paid" records a payment of the total and closes
the invoice, and a credit note or a free credit stays on the balance, not against an
invoice. So an open invoice's outstanding amount is also what its ledger entries say: its
charge of minus the total, and nothing else (``check_against_ledger`` proves it).

Days past due = the report's day ("as of", today unless a test passes one) minus the due
date: 0 or less is Current, then 1–30, 31–60, 61–90 and more than 90 ("90+"). Amounts are
integer minor units and stay within their currency: every figure belongs to one currency.

The report is one SQL aggregate over the partial index of open invoices
(``ix_invoices_open_aging``: currency, customer, due date, total; only status open): the
customer rows of a currency, sorted and paged, carry that currency's totals as window
sums over all its rows, so a page is one pass over the currency's open invoices.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import Invoice, InvoiceStatus, LedgerEntry
from webapp.models.customer import Customer, format_customer_id
from webapp.services.exports.csv_writing import neutralise
from webapp.services.money import format_plain

PER_PAGE = 50
MAX_PAGE = 10_000  # an absurd ?page= is clamped, never an absurd OFFSET

# (key, heading): the five buckets in the order of the report.
BUCKETS: list[tuple[str, str]] = [
    ("current", "Current"),
    ("d1_30", "1–30"),
    ("d31_60", "31–60"),
    ("d61_90", "61–90"),
    ("d90_plus", "90+"),
]
BUCKET_KEYS = [key for key, _ in BUCKETS]
AMOUNT_KEYS = [*BUCKET_KEYS, "total"]
# Sort keys: a bucket, the total, the customer's name.
SORTS = frozenset([*AMOUNT_KEYS, "name"])
DEFAULT_SORT = "total"


@dataclass(frozen=True)
class AgingQuery:
    """What the page asks for: a currency ("" = the first one with open invoices), a sort
    column and direction, a page number."""

    currency: str = ""
    sort: str = DEFAULT_SORT
    direction: str = "desc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> AgingQuery:
        """Read the query string; anything unknown falls back to the default (never an error)."""
        currency = (args.get("currency") or "").strip().upper()
        if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
            currency = ""
        sort = args.get("sort") or DEFAULT_SORT
        if sort not in SORTS:
            sort = DEFAULT_SORT
        direction = args.get("dir") or ("asc" if sort == "name" else "desc")
        if direction not in ("asc", "desc"):
            direction = "asc" if sort == "name" else "desc"
        try:
            page = int(args.get("page") or 1)
        except ValueError:
            page = 1
        return cls(currency, sort, direction, min(max(page, 1), MAX_PAGE))

    def args(self, **changes) -> dict[str, str]:
        """The query string of this view (defaults left out), with ``changes``."""
        values = {
            "currency": self.currency,
            "sort": self.sort,
            "dir": self.direction,
            "page": str(self.page),
        }
        values.update({key: str(value) for key, value in changes.items()})
        default_dir = "asc" if values["sort"] == "name" else "desc"
        defaults = {"sort": DEFAULT_SORT, "dir": default_dir, "page": "1", "currency": ""}
        return {key: value for key, value in values.items() if value != defaults[key]}

    def toggled(self, column: str) -> dict[str, str]:
        """The arguments of a sort heading: this column, flipped if it is the current one."""
        if column == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = "asc" if column == "name" else "desc"
        return self.args(sort=column, dir=direction, page=1)


@dataclass
class AgingRow:
    """One customer's (or a currency's) open invoices by bucket, in minor units."""

    currency: str
    current: int = 0
    d1_30: int = 0
    d31_60: int = 0
    d61_90: int = 0
    d90_plus: int = 0
    total: int = 0
    customer_id: int | None = None
    name: str = ""
    customers: int = 0  # on a totals row: how many customers owe something

    @property
    def customer_number(self) -> str:
        return format_customer_id(self.customer_id) if self.customer_id else ""

    def amount(self, key: str) -> int:
        return getattr(self, key)


@dataclass
class AgingReport:
    as_of: date
    query: AgingQuery
    currencies: list[str]
    totals: AgingRow | None = None
    rows: list[AgingRow] = field(default_factory=list)
    has_next: bool = False

    @property
    def has_prev(self) -> bool:
        return self.query.page > 1


def _bucket_columns(today: date) -> list:
    """The five bucket sums and the total, labelled with the AMOUNT_KEYS."""
    due, amount = Invoice.due_date, Invoice.total_minor

    def summed(condition):
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    day = [today - timedelta(days=n) for n in (30, 60, 90)]
    return [
        summed(due >= today).label("current"),
        summed(and_(due < today, due >= day[0])).label("d1_30"),
        summed(and_(due < day[0], due >= day[1])).label("d31_60"),
        summed(and_(due < day[1], due >= day[2])).label("d61_90"),
        summed(due < day[2]).label("d90_plus"),
        func.coalesce(func.sum(amount), 0).label("total"),
    ]


def _open():
    return Invoice.status == InvoiceStatus.OPEN


def open_currencies(session: Session) -> list[str]:
    """Currencies with at least one open invoice, A–Z: a skip over the partial index (one
    probe per currency), not a scan of every open invoice."""
    found = session.execute(
        text(
            "WITH RECURSIVE c(code) AS ("
            " SELECT (SELECT min(currency) FROM invoices WHERE status = 'open')"
            " UNION ALL"
            " SELECT (SELECT min(currency) FROM invoices"
            "         WHERE status = 'open' AND currency > c.code)"
            " FROM c WHERE c.code IS NOT NULL"
            ") SELECT code FROM c WHERE code IS NOT NULL"
        )
    )
    return [code for (code,) in found]


def currency_totals(session: Session, today: date, currency: str | None = None) -> list[AgingRow]:
    """A totals row per currency (or for ``currency`` only)."""
    statement = (
        select(
            Invoice.currency,
            *_bucket_columns(today),
            func.count(Invoice.customer_id.distinct()),
        )
        .where(_open())
        .group_by(Invoice.currency)
        .order_by(Invoice.currency)
    )
    if currency:
        statement = statement.where(Invoice.currency == currency)
    rows = []
    for record in session.execute(statement):
        row = AgingRow(record[0], *record[1:7])
        row.customers = record[7]
        rows.append(row)
    return rows


def _customer_aggregate(today: date, currency: str):
    return (
        select(Invoice.customer_id.label("customer_id"), *_bucket_columns(today))
        .where(_open(), Invoice.currency == currency)
        .group_by(Invoice.customer_id)
        .subquery("aging")
    )


def _ordered(aging, query: AgingQuery):
    descending = query.direction == "desc"
    if query.sort == "name":
        first = Customer.name.desc() if descending else Customer.name.asc()
    else:
        column = aging.c[query.sort]
        first = column.desc() if descending else column.asc()
    tie = aging.c.customer_id.desc() if descending else aging.c.customer_id.asc()
    return [first, tie]


def aging_report(session: Session, query: AgingQuery, today: date) -> AgingReport:
    """The page: the currencies to choose from, the chosen one's totals and a page of its
    customers in the asked order. One aggregate query gives the page and (as window sums
    over every customer row) the totals."""
    currencies = open_currencies(session)
    currency = query.currency if query.currency in currencies else ""
    if not currency and currencies:
        currency = currencies[0]
    query = AgingQuery(currency, query.sort, query.direction, query.page)
    report = AgingReport(today, query, currencies)
    if not currency:
        return report
    aging = _customer_aggregate(today, currency)
    window = [func.sum(aging.c[key]).over().label(f"all_{key}") for key in AMOUNT_KEYS]
    statement = (
        select(aging, Customer.name, func.count().over().label("customers"), *window)
        .join(Customer, Customer.id == aging.c.customer_id)
        .order_by(*_ordered(aging, query))
        .offset((query.page - 1) * PER_PAGE)
        .limit(PER_PAGE + 1)
    )
    records = session.execute(statement).mappings().all()
    report.has_next = len(records) > PER_PAGE
    for record in records[:PER_PAGE]:
        report.rows.append(
            AgingRow(
                currency,
                **{key: record[key] for key in AMOUNT_KEYS},
                customer_id=record["customer_id"],
                name=record["name"],
            )
        )
    if records:
        first = records[0]
        report.totals = AgingRow(currency, **{key: first[f"all_{key}"] for key in AMOUNT_KEYS})
        report.totals.customers = first["customers"]
    else:
        # A page past the end: the totals still come from every row.
        totals = currency_totals(session, today, currency)
        report.totals = totals[0] if totals else AgingRow(currency)
    return report


def customer_rows(
    session: Session, today: date, currency: str, query: AgingQuery, batch: int = 5_000
) -> Iterator[AgingRow]:
    """Every customer row of ``currency`` in the query's order (for the CSV), streamed."""
    aging = _customer_aggregate(today, currency)
    statement = (
        select(aging, Customer.name)
        .join(Customer, Customer.id == aging.c.customer_id)
        .order_by(*_ordered(aging, query))
        .execution_options(yield_per=batch)
    )
    for record in session.execute(statement).mappings():
        yield AgingRow(
            currency,
            **{key: record[key] for key in AMOUNT_KEYS},
            customer_id=record["customer_id"],
            name=record["name"],
        )


def ledger_outstanding(session: Session, currency: str | None = None) -> dict[tuple[int, str], int]:
    """What the ledger says open invoices are owed, per (customer, currency): minus the sum
    of the entries of every open invoice. The report's totals must equal it."""
    statement = (
        select(LedgerEntry.customer_id, LedgerEntry.currency, -func.sum(LedgerEntry.amount_minor))
        .join(Invoice, Invoice.id == LedgerEntry.invoice_id)
        .where(_open())
        .group_by(LedgerEntry.customer_id, LedgerEntry.currency)
    )
    if currency:
        statement = statement.where(LedgerEntry.currency == currency)
    return {(customer, code): int(owed) for customer, code, owed in session.execute(statement)}


# -- the clock and the CSV ------------------------------------------------------------


def today() -> date:
    """The report's day: today's UTC date (tests replace this function to fix the clock)."""
    return utcnow().date()


CSV_HEADINGS = ["Currency", "Customer ID", "Name", *[label for _, label in BUCKETS], "Total"]


def _csv_cells(row: AgingRow) -> list[str]:
    amounts = [format_plain(row.amount(key), row.currency) for key in AMOUNT_KEYS]
    return [row.currency, row.customer_number, neutralise(row.name), *amounts]


def csv_lines(
    session: Session, query: AgingQuery, today: date, *, every: bool = False
) -> Iterator[str]:
    """The report as CSV text, a line at a time: a heading, every customer row of the
    query's currency (of every currency, A–Z, with ``every``) in the query's order.
    Amounts are decimals in the currency's units (1234.50); names are neutralised so a
    spreadsheet never reads them as formulas."""
    out = io.StringIO()
    writer = csv.writer(out)

    def line(cells: list[str]) -> str:
        out.seek(0)
        out.truncate()
        writer.writerow(cells)
        return out.getvalue()

    yield line(CSV_HEADINGS)
    currencies = open_currencies(session)
    if not every:
        chosen = query.currency if query.currency in currencies else ""
        currencies = [chosen or currencies[0]] if currencies else []
    for currency in currencies:
        for row in customer_rows(session, today, currency, query):
            yield line(_csv_cells(row))


def csv_filename(query: AgingQuery, today: date, *, every: bool = False) -> str:
    which = "all" if every or not query.currency else query.currency
    return f"receivables-aging-{which}-{today.isoformat()}.csv"
