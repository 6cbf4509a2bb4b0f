"""Finding customers: the search text, the list query and its paging.

Search is substring matching over one pre-folded ``search_text`` column. On
PostgreSQL a trigram GIN index (pg_trgm) answers ``LIKE '%term%'``; on
SQLite the scan is over one narrow column. Every sortable column has a
(column, id) index so a page is an index walk, never a sort of the table,
and nothing counts the whole table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session

from webapp.models.customer import CUSTOMER_ID_PREFIX, Customer, CustomerStatus
from webapp.services.reference import country_codes, currency_codes, fold_text

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_TERMS = 8

SORT_COLUMNS = {
    "customer_id": Customer.id,
    "name": Customer.name,
    "company": Customer.company,
    "email": Customer.email,
    "country": Customer.country,
    "currency": Customer.currency,
    "status": Customer.status,
    "created": Customer.created_at,
    "balance": Customer.balance_minor,
}
DEFAULT_SORT = ("created", "desc")

# Balance filters on the billing-currency balance: charges are negative.
BALANCE_FILTERS = {
    "owes": Customer.balance_minor < 0,
    "credit": Customer.balance_minor > 0,
    "paid": Customer.balance_minor == 0,
}

# '' means the default view: everything but archived customers.
STATUS_FILTERS = ("", "all", *[status.value for status in CustomerStatus])

_CUSTOMER_ID = re.compile(rf"^(?:{CUSTOMER_ID_PREFIX.lower().rstrip('-')}-?)?0*(\d{{1,9}})$")
_PHONE_LIKE = re.compile(r"^\+?[\d()./-]+$")
_PHONE_QUERY = re.compile(r"^\+?[\d\s()./-]+$")


def build_search_text(customer: Customer) -> str:
    """Everything a person may type to find this customer, folded for matching."""
    words = [
        customer.name,
        customer.company,
        customer.first_name,
        customer.last_name,
        customer.email,
        customer.tax_id,
    ]
    phones = [re.sub(r"\D", "", number or "") for number in (customer.phone, customer.mobile)]
    return " ".join(fold_text(part) for part in [*words, *phones] if part)


def _search_terms(q: str) -> list[str]:
    """Words to match; a query that is a whole phone number ("+1 202 555 0143",
    "030 1234567") becomes one run of digits, as numbers are stored."""
    if _PHONE_QUERY.match(q) and len(re.sub(r"\D", "", q)) >= 6:
        return [re.sub(r"[^\d+]", "", q)]
    return [term for term in fold_text(q).split() if term][:MAX_TERMS]


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _term_condition(term: str):
    """A term matches the folded text; a customer ID or phone-like term also matches those."""
    conditions = []
    text = term
    if _PHONE_LIKE.match(term):
        digits = re.sub(r"\D", "", term)
        # Stored numbers are E.164 digits: drop a national trunk prefix ("030" -> "30").
        text = digits.lstrip("0") or digits
    if text:
        conditions.append(Customer.search_text.like(f"%{_escape_like(text)}%", escape="\\"))
    id_match = _CUSTOMER_ID.match(term)
    if id_match:
        conditions.append(Customer.id == int(id_match.group(1)))
    return or_(*conditions)


@dataclass(frozen=True)
class CustomerQuery:
    """Everything that defines a view of the list; it round-trips through the query string."""

    q: str = ""
    status: str = ""
    currency: str = ""
    country: str = ""
    balance: str = ""
    sort: str = DEFAULT_SORT[0]
    direction: str = DEFAULT_SORT[1]
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CustomerQuery:
        """Read a query string leniently: unknown values fall back to the defaults."""
        status = args.get("status", "")
        currency = args.get("currency", "").upper()
        country = args.get("country", "").upper()
        balance = args.get("balance", "")
        sort = args.get("sort", DEFAULT_SORT[0])
        direction = args.get("dir", "")
        try:
            page = int(args.get("page", "1"))
        except ValueError:
            page = 1
        if sort not in SORT_COLUMNS:
            sort = DEFAULT_SORT[0]
        if direction not in ("asc", "desc"):
            direction = DEFAULT_SORT[1] if sort == DEFAULT_SORT[0] else "asc"
        return cls(
            q=args.get("q", "").strip()[:200],
            status=status if status in STATUS_FILTERS else "",
            currency=currency if currency in currency_codes() else "",
            country=country if country in country_codes() else "",
            balance=balance if balance in BALANCE_FILTERS else "",
            sort=sort,
            direction=direction,
            page=min(max(page, 1), MAX_PAGE),
        )

    def to_args(self, **changes) -> dict[str, str]:
        """Query-string arguments for this view (defaults left out), with changes applied."""
        view = replace(self, **changes)
        args = {
            "q": view.q,
            "status": view.status,
            "currency": view.currency,
            "country": view.country,
            "balance": view.balance,
        }
        if (view.sort, view.direction) != DEFAULT_SORT:
            args["sort"], args["dir"] = view.sort, view.direction
        if view.page > 1:
            args["page"] = str(view.page)
        return {key: value for key, value in args.items() if value}

    def url_query(self, **changes) -> str:
        return urlencode(self.to_args(**changes))

    def sort_toggle(self, column: str) -> CustomerQuery:
        """The view after clicking a column heading: same column flips, new column ascends."""
        if column == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = "desc" if column == "created" else "asc"
        return replace(self, sort=column, direction=direction, page=1)

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.status or self.currency or self.country or self.balance)


@dataclass
class CustomerPage:
    query: CustomerQuery
    customers: list[Customer] = field(default_factory=list)
    has_next: bool = False

    @property
    def first_number(self) -> int:
        return (self.query.page - 1) * PAGE_SIZE + 1

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.customers) - 1


def narrow_to_view(query: CustomerQuery, statement: Select) -> Select:
    """``statement`` narrowed to the view's status, currency, country and search."""
    if query.status == "":
        statement = statement.where(Customer.status != CustomerStatus.ARCHIVED)
    elif query.status != "all":
        statement = statement.where(Customer.status == query.status)
    if query.currency:
        statement = statement.where(Customer.currency == query.currency)
    if query.country:
        statement = statement.where(Customer.country == query.country)
    if query.balance:
        statement = statement.where(BALANCE_FILTERS[query.balance])
    terms = _search_terms(query.q)
    if terms:
        statement = statement.where(and_(*(_term_condition(term) for term in terms)))
    return statement


def list_customers(session: Session, query: CustomerQuery) -> CustomerPage:
    """One page of customers for a view, plus whether a next page exists.

    A deferred join: the inner query finds the page's ids from the indexes alone
    (skipping ``offset`` index entries is cheap, skipping full rows is not), the
    outer one loads just those rows.
    """
    column = SORT_COLUMNS[query.sort]
    if query.direction == "desc":
        order = (column.desc(), Customer.id.desc())
    else:
        order = (column.asc(), Customer.id.asc())
    if column is Customer.id:
        order = order[1:]
    page_ids = (
        narrow_to_view(query, select(Customer.id))
        .order_by(*order)
        .offset((query.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    statement = select(Customer).where(Customer.id.in_(page_ids)).order_by(*order)
    rows = list(session.scalars(statement))
    return CustomerPage(query=query, customers=rows[:PAGE_SIZE], has_next=len(rows) > PAGE_SIZE)


def any_customers(session: Session) -> bool:
    """Whether the table has any row at all (for the empty-state message), without counting."""
    return bool(session.scalar(select(exists().where(Customer.id.isnot(None)))))
