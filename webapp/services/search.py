"""Finding customers: the search text, the list query and its paging.

Search is substring matching over one pre-folded ``search_text`` column. On
PostgreSQL a trigram GIN index (pg_trgm) answers ``LIKE '%term%'``; on
SQLite the scan is over one narrow column. Every sortable column has a
(column, id) index so a page is an index walk, never a sort of the table,
and nothing counts the whole table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from sqlalchemy import Select, and_, exists, func, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session

from webapp.models.contacts import Alias
from webapp.models.crm import Tag, customer_tags
from webapp.models.customer import (
    CUSTOMER_ID_PREFIX,
    Customer,
    CustomerStatus,
    format_customer_id,
)
from webapp.paging import PER_PAGE, Keyset, Page, PageAt, keyset_page
from webapp.services.reference import country_codes, currency_codes, fold_text
from webapp.services.tags import NAME_MAX as TAG_KEY_MAX
from webapp.services.tags import tag_id_for_key, tag_key

PAGE_SIZE = PER_PAGE
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

# Balance filters count every currency (charges are negative): a euro customer who
# owes dollars owes. The flags are kept with the balances (services.ledger).
BALANCE_FILTERS = {
    "owes": Customer.owes_any,
    "credit": Customer.credit_any,
    # Zero in the billing currency too (implied; it lets a balance sort start at zero).
    "paid": and_(Customer.balance_minor == 0, ~Customer.owes_any, ~Customer.credit_any),
}

# The "Email not verified" filter: an address nobody has confirmed yet (an undeliverable
# one is not verified either). On PostgreSQL the partial index
# ix_customers_unverified_created (migration 0018) answers it newest first.
EMAIL_FILTERS = {
    "unverified": and_(Customer.email_verified_at.is_(None), Customer.email != ""),
}

# '' means the default view: everything but archived customers.
STATUS_FILTERS = ("", "all", *[status.value for status in CustomerStatus])

_CUSTOMER_ID = re.compile(rf"^(?:{CUSTOMER_ID_PREFIX.lower().rstrip('-')}-?)?0*(\d{{1,9}})$")
_PHONE_LIKE = re.compile(r"^\+?[\d()./-]+$")
_PHONE_QUERY = re.compile(r"^\+?[\d\s()./-]+$")


def build_search_text(customer: Customer, aliases: Iterable[str] | None = None) -> str:
    """Everything a person may type to find this customer, folded: names, email, tax ID, phones and
    external IDs (read from the session when ``aliases`` is None)."""
    if aliases is None:
        aliases = _stored_alias_values(customer)
    words = [
        customer.name,
        customer.company,
        customer.first_name,
        customer.last_name,
        customer.email,
        customer.tax_id,
    ]
    phones = [re.sub(r"\D", "", number or "") for number in (customer.phone, customer.mobile)]
    ids = []
    for value in aliases:
        ids.append(" ".join(value.split()))
        # An ID typed like a phone number ("123-456-789") is searched as its digits.
        if _PHONE_QUERY.match(value) and len(re.sub(r"\D", "", value)) >= 6:
            ids.append(re.sub(r"\D", "", value))
    return " ".join(fold_text(part) for part in [*words, *phones, *ids] if part)


def _stored_alias_values(customer: Customer) -> list[str]:
    session = object_session(customer)
    if session is None or customer.id is None:
        return []
    with session.no_autoflush:
        return list(session.scalars(select(Alias.value).where(Alias.customer_id == customer.id)))


def _search_terms(q: str) -> list[str]:
    """Words to match; a whole phone number ("+1 202 555 0143") becomes one run of digits."""
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
    tag: str = ""  # a tag's key (its folded name); list_customers drops an unknown one
    email: str = ""  # "unverified": only customers whose address is not verified
    sort: str = DEFAULT_SORT[0]
    direction: str = DEFAULT_SORT[1]
    # Keyset cursors (webapp.paging): the rows after, or before, a boundary row.
    after: str = ""
    before: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CustomerQuery:
        """Read a query string leniently: unknown values fall back to the defaults."""
        status = args.get("status", "")
        currency = args.get("currency", "").upper()
        country = args.get("country", "").upper()
        balance = args.get("balance", "")
        tag = tag_key(args.get("tag", ""))
        email = args.get("email", "")
        sort = args.get("sort", DEFAULT_SORT[0])
        direction = args.get("dir", "")
        at = PageAt.from_args(args)
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
            tag=tag if len(tag) <= TAG_KEY_MAX else "",
            email=email if email in EMAIL_FILTERS else "",
            sort=sort,
            direction=direction,
            after=at.after,
            before=at.before,
        )

    def to_args(self, **changes) -> dict[str, str]:
        """Query-string arguments for this view (defaults left out), with changes applied.
        Changing anything but the cursors starts again from the first page."""
        if changes and not {"after", "before"} & changes.keys():
            changes = {"after": "", "before": "", **changes}
        view = replace(self, **changes)
        args = {
            "q": view.q,
            "status": view.status,
            "currency": view.currency,
            "country": view.country,
            "balance": view.balance,
            "tag": view.tag,
            "email": view.email,
        }
        if (view.sort, view.direction) != DEFAULT_SORT:
            args["sort"], args["dir"] = view.sort, view.direction
        args["after"], args["before"] = view.after, view.before
        return {key: value for key, value in args.items() if value}

    def url_query(self, **changes) -> str:
        return urlencode(self.to_args(**changes))

    def first_page_query(self) -> str:
        return self.url_query(after="", before="")

    def sort_toggle(self, column: str) -> CustomerQuery:
        """The view after clicking a column heading: same column flips, new column ascends."""
        if column == self.sort:
            direction = "asc" if self.direction == "desc" else "desc"
        else:
            direction = "desc" if column == "created" else "asc"
        return replace(self, sort=column, direction=direction, after="", before="")

    @property
    def is_filtered(self) -> bool:
        return bool(
            self.q
            or self.status
            or self.currency
            or self.country
            or self.balance
            or self.tag
            or self.email
        )


@dataclass
class CustomerPage:
    """A page of the list: its rows (``ListRow``), the view as shown and the neighbours."""

    query: CustomerQuery
    customers: list[ListRow] = field(default_factory=list)
    rows: Page = field(default_factory=lambda: Page([]))

    @property
    def has_next(self) -> bool:
        return self.rows.has_next

    @property
    def has_prev(self) -> bool:
        return self.rows.has_prev

    @property
    def is_first(self) -> bool:
        return not (self.query.after or self.query.before) or not self.rows.has_prev

    def next_query(self) -> str:
        return self.query.url_query(before="", **self.rows.next_args)

    def prev_query(self) -> str:
        return self.query.url_query(after="", **self.rows.prev_args)


# What a list row shows: nothing else is read from the table.
LIST_COLUMNS = (
    Customer.id,
    Customer.name,
    Customer.company,
    Customer.email,
    Customer.country,
    Customer.currency,
    Customer.status,
    Customer.balance_minor,
    Customer.created_at,
    Customer.other_currencies,
)


@dataclass(slots=True)
class ListRow:
    id: int
    name: str
    company: str
    email: str
    country: str
    currency: str
    status: str
    balance_minor: int
    created_at: object
    other_currencies: int  # besides the billing currency, not at zero
    tags: list[str] = field(default_factory=list)

    @property
    def customer_id(self) -> str:
        return format_customer_id(self.id)


def list_keyset(query: CustomerQuery) -> Keyset:
    """The list's order for ``query``: its sort column, then the id."""
    column = SORT_COLUMNS[query.sort]
    descending = query.direction == "desc"
    if column is Customer.id:
        return Keyset((Customer.id,), ("id",), descending)
    return Keyset((column, Customer.id), (column.key, "id"), descending)


def narrow_to_view(query: CustomerQuery, statement: Select, tag_id: int | None = None) -> Select:
    """``statement`` narrowed to the view's status, currency, country, balance, email, tag
    and search. ``tag_id`` is the id of ``query.tag`` when the caller has looked it up: a
    literal id lets PostgreSQL plan with that tag's own frequency (walk the newest
    customers for a common tag, start from the tag's few customers for a rare one)."""
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
    if query.email:
        statement = statement.where(EMAIL_FILTERS[query.email])
    if query.tag:
        if tag_id is None:
            tag_id = select(Tag.id).where(Tag.key == query.tag).scalar_subquery()
        # (tag_id, customer_id) index: from the tag to its customers, or one probe per row.
        statement = statement.where(
            exists().where(
                customer_tags.c.tag_id == tag_id, customer_tags.c.customer_id == Customer.id
            )
        )
    terms = _search_terms(query.q)
    if terms:
        statement = statement.where(and_(*(_term_condition(term) for term in terms)))
    return statement


# Tag names hold letters, digits, "-", "_" and spaces only (services.tags): "|" joins them.
TAG_JOIN = "|"


def _tag_names():
    """The row's tag names in one string, read in the same query as the row."""
    return (
        select(func.aggregate_strings(Tag.name, TAG_JOIN))
        .join(customer_tags, customer_tags.c.tag_id == Tag.id)
        .where(customer_tags.c.customer_id == Customer.id)
        .scalar_subquery()
    )


def _as_shown(session: Session, query: CustomerQuery) -> tuple[CustomerQuery, int | None]:
    """The view as shown and its tag's id: a tag filter naming no tag (an old bookmark) is
    left out, like an unknown currency."""
    tag_id = tag_id_for_key(session, query.tag)
    if query.tag and tag_id is None:
        query = replace(query, tag="")
    return query, tag_id


def list_customers(session: Session, query: CustomerQuery) -> CustomerPage:
    """One page of customers for a view: the shown columns and tag names of 50 rows, in one
    query by keyset (see webapp.paging). A tag filter naming no tag is left out of the view
    (an old bookmark): the page's ``query`` is the view as shown."""
    query, tag_id = _as_shown(session, query)
    statement = narrow_to_view(query, select(*LIST_COLUMNS, _tag_names()), tag_id)
    page = keyset_page(
        session,
        statement,
        list_keyset(query),
        PageAt(query.after, query.before),
        fetch=lambda s, st: s.execute(st).all(),
    )
    customers = []
    for *columns, names in page.rows:
        tags = sorted(names.split(TAG_JOIN), key=tag_key) if names else []
        customers.append(ListRow(*columns, tags=tags))
    return CustomerPage(query=query, customers=customers, rows=page)


# Counting stops here: past it the list says "more than 10,000", never a COUNT of the table.
COUNT_CAP = 10_000
# A count that would take longer (a search whose few matches are spread thinly) gives up.
COUNT_TIMEOUT_MS = 1_500


@dataclass(frozen=True)
class MatchCount:
    """How many customers a view holds: ``number`` exactly, or more than ``number`` when
    ``more``; ``number`` is None when counting gave up."""

    number: int | None
    more: bool = False
    filtered: bool = False


def count_of_page(page: CustomerPage) -> MatchCount | None:
    """The count a page tells for free: a first page with nothing after it holds the view."""
    if page.is_first and not page.has_next:
        return MatchCount(len(page.customers), filtered=page.query.is_filtered)
    return None


def count_matches(session: Session, query: CustomerQuery, cap: int = COUNT_CAP) -> MatchCount:
    """Count the view up to ``cap``: the index walk stops at the (cap + 1)th match.
    On PostgreSQL the count runs in the caller's transaction under a statement timeout
    and gives up (number None) rather than hold a worker."""
    query, tag_id = _as_shown(session, query)
    matches = narrow_to_view(query, select(Customer.id), tag_id).limit(cap + 1).subquery()
    statement = select(func.count()).select_from(matches)
    postgres = session.get_bind().dialect.name == "postgresql"
    try:
        if postgres:
            session.execute(text(f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}"))
        number = session.scalar(statement)
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != "57014":  # query_canceled
            raise
        session.rollback()
        return MatchCount(None, filtered=query.is_filtered)
    return MatchCount(min(number, cap), more=number > cap, filtered=query.is_filtered)


def any_customers(session: Session) -> bool:
    """Whether the table has any row at all (for the empty-state message), without counting."""
    return bool(session.scalar(select(exists().where(Customer.id.isnot(None)))))
