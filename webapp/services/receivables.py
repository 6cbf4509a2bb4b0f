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

from sqlalchemy import and_, case, delete, event, func, insert, inspect, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import (
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Receivable,
    ReceivablesDay,
    ReceivablesTotal,
)
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


def _bucket_columns(as_of: date) -> list:
    """The five bucket sums and the total of open invoices, labelled with AMOUNT_KEYS."""
    due, amount = Invoice.due_date, Invoice.total_minor

    def summed(condition):
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    day = [as_of - timedelta(days=n) for n in (30, 60, 90)]
    return [
        summed(due >= as_of).label("current"),
        summed(and_(due < as_of, due >= day[0])).label("d1_30"),
        summed(and_(due < day[0], due >= day[1])).label("d31_60"),
        summed(and_(due < day[1], due >= day[2])).label("d61_90"),
        summed(due < day[2]).label("d90_plus"),
        func.coalesce(func.sum(amount), 0).label("total"),
    ]


def _open():
    return Invoice.status == InvoiceStatus.OPEN


# -- keeping the receivables rows -----------------------------------------------------
#
# ``receivables`` holds a row per customer and currency with an open invoice: its buckets
# counted as of ``receivables_day.as_of``. ``receivables_totals`` holds their sums per
# currency in SHARDS rows (customer id modulo SHARDS), moved by each change's difference:
# a currency's totals are a sum of a few rows, and two customers' invoices rarely wait
# for the same totals row. Both are re-derivable from the invoices (``rebuild``).

SHARDS = 16
# Days past due at which an invoice enters the next bucket.
EDGES = (1, 31, 61, 91)


def _as_of(session: Session, lock: str | None = None) -> date | None:
    statement = select(ReceivablesDay.as_of).where(ReceivablesDay.id == 1)
    if lock == "share":
        statement = statement.with_for_update(read=True)
    elif lock == "update":
        statement = statement.with_for_update()
    return session.scalar(statement)


def _computed(session: Session, as_of: date, pairs: set[tuple[int, str]]) -> dict:
    """(customer, currency) -> the amounts its open invoices come to, as of ``as_of``."""
    customers = {customer for customer, _ in pairs}
    statement = (
        select(Invoice.customer_id, Invoice.currency, *_bucket_columns(as_of))
        .where(_open(), Invoice.customer_id.in_(customers))
        .group_by(Invoice.customer_id, Invoice.currency)
    )
    found = {}
    for customer, currency, *amounts in session.execute(statement):
        if (customer, currency) in pairs:
            found[(customer, currency)] = tuple(int(amount) for amount in amounts)
    return found


def _stored(session: Session, pairs: set[tuple[int, str]]) -> dict:
    customers = {customer for customer, _ in pairs}
    columns = [getattr(Receivable, key) for key in AMOUNT_KEYS]
    statement = select(Receivable.customer_id, Receivable.currency, *columns).where(
        Receivable.customer_id.in_(customers)
    )
    return {
        (customer, currency): tuple(amounts)
        for customer, currency, *amounts in session.execute(statement)
        if (customer, currency) in pairs
    }


def _upsert(session: Session):
    postgresql = session.get_bind().dialect.name == "postgresql"
    return postgresql_insert if postgresql else sqlite_insert


def _add_to_totals(session: Session, deltas: dict[tuple[str, int], list[int]]) -> None:
    """Move the totals rows by ``deltas``: (currency, shard) -> six amounts and customers."""
    insert = _upsert(session)
    table = ReceivablesTotal.__table__
    for (currency, shard), delta in sorted(deltas.items()):
        values = dict(zip([*AMOUNT_KEYS, "customers"], delta, strict=True))
        statement = insert(table).values(currency=currency, shard=shard, **values)
        statement = statement.on_conflict_do_update(
            index_elements=["currency", "shard"],
            set_={key: table.c[key] + statement.excluded[key] for key in values},
        )
        session.execute(statement)


def _write(session: Session, as_of: date, pairs: set[tuple[int, str]]) -> None:
    """Count these customers' receivables again, as of ``as_of``, and move the totals."""
    if not pairs:
        return
    for chunk in _chunks(sorted(pairs), 500):
        chunk = set(chunk)
        new, old = _computed(session, as_of, chunk), _stored(session, chunk)
        ids = {customer for customer, _ in chunk}
        named = select(Customer.id, Customer.name).where(Customer.id.in_(ids))
        names = {customer_id: name for customer_id, name in session.execute(named)}
        deltas: dict[tuple[str, int], list[int]] = {}
        for customer, currency in sorted(chunk):
            before, after = old.get((customer, currency)), new.get((customer, currency))
            if before == after:
                continue
            where = and_(Receivable.customer_id == customer, Receivable.currency == currency)
            if before is not None:
                session.execute(delete(Receivable).where(where))
            if after is not None:
                values = dict(zip(AMOUNT_KEYS, after, strict=True))
                values["name"] = names.get(customer, "")
                session.execute(
                    insert(Receivable).values(customer_id=customer, currency=currency, **values)
                )
            delta = deltas.setdefault((currency, customer % SHARDS), [0] * 7)
            for index, amount in enumerate(after or (0,) * 6):
                delta[index] += amount
            for index, amount in enumerate(before or (0,) * 6):
                delta[index] -= amount
            delta[6] += (after is not None) - (before is not None)
        _add_to_totals(session, deltas)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def refresh(session: Session, pairs: set[tuple[int, str]]) -> None:
    """Count these (customer, currency) receivables again, in the caller's transaction
    (after an invoice was issued, paid, refunded, voided or deleted). Waits while the day
    moves on (the day row is shared-locked), so a row is never counted for a day that has
    just passed. Nothing to do before the first report has counted them all."""
    as_of = _as_of(session, lock="share")
    if as_of is not None:
        _write(session, as_of, pairs)


def rebuild(session: Session, as_of: date) -> None:
    """Count every receivable again, as of ``as_of`` (the first report, or after a long
    gap), and commit."""
    session.execute(delete(Receivable))
    session.execute(delete(ReceivablesTotal))
    columns = _bucket_columns(as_of)
    session.execute(
        insert(Receivable).from_select(
            ["customer_id", "currency", *AMOUNT_KEYS, "name"],
            select(Invoice.customer_id, Invoice.currency, *columns, Customer.name)
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(_open())
            .group_by(Invoice.customer_id, Invoice.currency, Customer.name),
        )
    )
    shard = (Receivable.customer_id % SHARDS).label("shard")
    sums = [func.sum(getattr(Receivable, key)) for key in AMOUNT_KEYS]
    session.execute(
        insert(ReceivablesTotal).from_select(
            ["currency", "shard", *AMOUNT_KEYS, "customers"],
            select(Receivable.currency, shard, *sums, func.count()).group_by(
                Receivable.currency, shard
            ),
        )
    )
    _set_day(session, as_of)
    session.commit()


def _set_day(session: Session, as_of: date) -> None:
    insert = _upsert(session)
    table = ReceivablesDay.__table__
    statement = insert(table).values(id=1, as_of=as_of)
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"as_of": as_of}))


def bring_to(session: Session, today: date) -> None:
    """Make the rows count from ``today``: nothing when they do; after a day or a few,
    count again only the customers with an open invoice that crossed a bucket's edge
    since (found by due date); after a long gap, or going back, everything. Commits."""
    if _as_of(session) == today:
        return
    as_of = _as_of(session, lock="update")
    if as_of == today:
        session.rollback()
        return
    gap = (today - as_of).days if as_of else 0
    if as_of is None or not 0 < gap <= 30:
        rebuild(session, today)
        return
    due = Invoice.due_date
    crossed = or_(
        *(
            and_(due > as_of - timedelta(days=edge), due <= today - timedelta(days=edge))
            for edge in EDGES
        )
    )
    found = session.execute(
        select(Invoice.customer_id, Invoice.currency).where(_open(), crossed).distinct()
    )
    _write(session, today, {(customer, currency) for customer, currency in found})
    _set_day(session, today)
    session.commit()


def _invoice_changes(session: Session, _context) -> None:
    """after_flush: the (customer, currency) of every invoice added, changed or deleted in
    this flush are counted again in the same transaction."""
    pairs = set()
    for obj in session.dirty:
        if isinstance(obj, Customer) and inspect(obj).attrs.name.history.deleted:
            rename(session, obj.id, obj.name)
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Invoice) and obj.customer_id is not None:
            pairs.add((obj.customer_id, obj.currency))
            state = inspect(obj)
            for name in ("customer_id", "currency"):
                if state.attrs[name].history.deleted:
                    old = state.attrs[name].history.deleted[0]
                    pairs.add(
                        (old, obj.currency) if name == "customer_id" else (obj.customer_id, old)
                    )
    if pairs:
        refresh(session, pairs)


def install() -> None:
    """Keep the receivables with every ORM session's invoice changes; idempotent."""
    if not event.contains(Session, "after_flush", _invoice_changes):
        event.listen(Session, "after_flush", _invoice_changes)


def rename(session: Session, customer_id: int, name: str) -> None:
    """Keep the copy of a customer's name (the sort by name) with a rename or a clearing."""
    session.execute(
        update(Receivable).where(Receivable.customer_id == customer_id).values(name=name)
    )


def forget_customer(session: Session, customer_id: int) -> None:
    """Take a customer who is being deleted out of the receivables (rows and totals)."""
    currencies = session.scalars(
        select(Receivable.currency).where(Receivable.customer_id == customer_id)
    ).all()
    old = _stored(session, {(customer_id, currency) for currency in currencies})
    deltas = {}
    for (customer, currency), amounts in old.items():
        deltas[(currency, customer % SHARDS)] = [-amount for amount in amounts] + [-1]
    session.execute(delete(Receivable).where(Receivable.customer_id == customer_id))
    _add_to_totals(session, deltas)


# -- reading ---------------------------------------------------------------------------


def open_currencies(session: Session, today: date) -> list[str]:
    """Currencies in which someone owes, A–Z (from the totals rows: a few per currency)."""
    bring_to(session, today)
    statement = (
        select(ReceivablesTotal.currency)
        .group_by(ReceivablesTotal.currency)
        .having(func.sum(ReceivablesTotal.customers) > 0)
        .order_by(ReceivablesTotal.currency)
    )
    return list(session.scalars(statement))


def currency_totals(session: Session, today: date, currency: str | None = None) -> list[AgingRow]:
    """A totals row per currency (or for ``currency`` only), counted from ``today``."""
    bring_to(session, today)
    sums = [func.sum(getattr(ReceivablesTotal, key)) for key in AMOUNT_KEYS]
    statement = (
        select(ReceivablesTotal.currency, *sums, func.sum(ReceivablesTotal.customers))
        .group_by(ReceivablesTotal.currency)
        .having(func.sum(ReceivablesTotal.customers) > 0)
        .order_by(ReceivablesTotal.currency)
    )
    if currency:
        statement = statement.where(ReceivablesTotal.currency == currency)
    rows = []
    for code, *amounts, customers in session.execute(statement):
        row = AgingRow(code, *(int(amount) for amount in amounts))
        row.customers = int(customers)
        rows.append(row)
    return rows


def _ordered(query: AgingQuery) -> list:
    descending = query.direction == "desc"
    if query.sort == "name":
        columns = [Receivable.name, Receivable.customer_id]
    else:
        columns = [getattr(Receivable, query.sort), Receivable.customer_id]
    return [column.desc() if descending else column.asc() for column in columns]


def _rows(session: Session, currency: str, query: AgingQuery):
    columns = [getattr(Receivable, key) for key in AMOUNT_KEYS]
    return (
        select(Receivable.customer_id, *columns, Customer.name)
        .join(Customer, Customer.id == Receivable.customer_id)
        .where(Receivable.currency == currency)
        .order_by(*_ordered(query))
    )


def _row(currency: str, record) -> AgingRow:
    return AgingRow(
        currency,
        **{key: record[key] for key in AMOUNT_KEYS},
        customer_id=record["customer_id"],
        name=record["name"],
    )


def aging_report(session: Session, query: AgingQuery, today: date) -> AgingReport:
    """The page: the currencies to choose from, the chosen one's totals (the first
    currency's unless one is asked for) and a page of its customers in the asked order.
    Brings the rows to ``today`` first (see ``bring_to``)."""
    totals = {row.currency: row for row in currency_totals(session, today)}
    currencies = sorted(totals)
    currency = query.currency if query.currency in totals else ""
    if not currency and currencies:
        currency = currencies[0]
    query = AgingQuery(currency, query.sort, query.direction, query.page)
    report = AgingReport(today, query, currencies)
    if not currency:
        return report
    report.totals = totals[currency]
    statement = _rows(session, currency, query)
    statement = statement.offset((query.page - 1) * PER_PAGE).limit(PER_PAGE + 1)
    records = session.execute(statement).mappings().all()
    report.has_next = len(records) > PER_PAGE
    report.rows = [_row(currency, record) for record in records[:PER_PAGE]]
    return report


def customer_rows(
    session: Session, today: date, currency: str, query: AgingQuery, batch: int = 5_000
) -> Iterator[AgingRow]:
    """Every customer row of ``currency`` in the query's order (for the CSV), streamed."""
    bring_to(session, today)
    statement = _rows(session, currency, query).execution_options(yield_per=batch)
    for record in session.execute(statement).mappings():
        yield _row(currency, record)


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
    currencies = open_currencies(session, today)
    if not every:
        chosen = query.currency if query.currency in currencies else ""
        currencies = [chosen or currencies[0]] if currencies else []
    for currency in currencies:
        for row in customer_rows(session, today, currency, query):
            yield line(_csv_cells(row))


def csv_filename(query: AgingQuery, today: date, *, every: bool = False) -> str:
    which = "all" if every or not query.currency else query.currency
    return f"receivables-aging-{which}-{today.isoformat()}.csv"
