"""Delete customer: every row kept on a customer goes in one transaction, and one audit
line stays (who, when, the customer ID and how much went; nothing personal).

Each table is emptied with one DELETE statement (not row by row through the unit of
work, so the history listener records nothing for rows that are going anyway),
children before parents (the foreign keys are enforced on both databases). Which
tables hold a customer's rows is checked against the models' metadata before anything
is deleted, so a table added later that this module does not know about stops the
deletion loudly instead of leaving its rows behind (``uncovered_tables``; a test checks it too).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, MetaData, Select, Table, delete, func, select
from sqlalchemy.orm import Session

import webapp.models  # noqa: F401 - every model registered, so the metadata is complete
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.services import audit, exports, receivables, subscriptions
from webapp.services.ledger import LedgerError, in_transaction, lock_customer
from webapp.services.wording import counted

# The tables that hold a customer's rows, in the order they are emptied: a table comes
# before every table it references.
CUSTOMER_TABLES = (
    "ledger_entries",  # references invoices and credit notes
    "sales",  # references invoices
    "invoice_lines",  # references invoices
    "email_verification_tokens",  # references emails
    "emails",  # references payment links and account links
    "customer_account_tokens",  # references customer accounts
    "customer_sessions",  # references customer accounts
    "customer_accounts",
    "payment_links",
    "sent_reminders",  # references invoices
    "invoices",
    "credit_notes",
    "customer_events",
    "notes",
    "contacts",
    "addresses",
    "customer_aliases",
    "customer_tags",
    "activities",
    "tickets",
    "subscriptions",
    "customer_balances",
    "receivables",
)
# Tables without a customer_id column, whose rows are the customer's through a parent:
# table -> (its column, the parent table that has the customer_id).
THROUGH_PARENT = {
    "invoice_lines": ("invoice_id", "invoices"),
    "customer_account_tokens": ("account_id", "customer_accounts"),
    "customer_sessions": ("account_id", "customer_accounts"),
}
# Tables that reference a table above but hold no customer's data: an export's email
# goes to a member of staff and has no customer.
NOT_A_CUSTOMERS = {"exports": "staff exports; the email of an export has no customer"}

# What the confirmation and the audit line count, each kind by its name, in the order
# they list them: (the WhatGoes field, its table, one, many). Invoice lines go with
# their invoices and are not counted apart.
COUNTED = (
    ("invoices", "invoices", "invoice", "invoices"),
    ("credit_notes", "credit_notes", "credit note", "credit notes"),
    ("entries", "ledger_entries", "ledger entry", "ledger entries"),
    ("subscriptions", "subscriptions", "subscription", "subscriptions"),
    ("payment_links", "payment_links", "payment link", "payment links"),
    ("emails", "emails", "email", "emails"),
    ("notes", "notes", "note", "notes"),
    ("contacts", "contacts", "contact", "contacts"),
    ("addresses", "addresses", "address", "addresses"),
    ("external_ids", "customer_aliases", "external ID", "external IDs"),
    ("tags", "customer_tags", "tag", "tags"),
    ("activities", "activities", "activity", "activities"),
    ("tickets", "tickets", "ticket", "tickets"),
    ("sales", "sales", "sale", "sales"),
    ("accounts", "customer_accounts", "customer area account", "customer area accounts"),
    ("history_lines", "customer_events", "history line", "history lines"),
)

CONFIRM_FIELD = "typed_id"


class DeletionError(Exception):
    """Delete customer refused, nothing deleted; ``field``: where the message goes (None: above)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class CustomerGone(DeletionError):
    """The customer was deleted meanwhile (another tab, another admin)."""


@dataclass(frozen=True)
class WhatGoes:
    """How many of a customer's rows Delete customer removes, by kind (``COUNTED``), for
    the confirmation and the audit line."""

    invoices: int = 0
    credit_notes: int = 0
    entries: int = 0
    subscriptions: int = 0
    payment_links: int = 0
    emails: int = 0
    notes: int = 0
    contacts: int = 0
    addresses: int = 0
    external_ids: int = 0
    tags: int = 0
    activities: int = 0
    tickets: int = 0
    sales: int = 0
    accounts: int = 0
    history_lines: int = 0
    # Finished customer exports whose files are deleted too (they hold every customer);
    # not the customer's rows, so not in ``lines`` or the audit line.
    export_files: int = 0

    def lines(self) -> list[str]:
        """One phrase per kind the customer has, named: "3 invoices", "1 credit note" …
        "30 history lines"; a kind with none is left out."""
        return [
            counted(getattr(self, name), one, many)
            for name, _table, one, many in COUNTED
            if getattr(self, name)
        ]

    def summary(self) -> str:
        """As the audit line says it: 3 invoices, 1 credit note, … and 30 history lines."""
        lines = self.lines()
        if not lines:
            return "nothing kept on the customer"
        *first, last = lines
        return f"{', '.join(first)} and {last}" if first else last


def _table(name: str) -> Table:
    return db.metadata.tables[name]


def _delete_rows(session: Session, table: Table, where: ColumnElement[bool]) -> None:
    """DELETE the rows; for a mapped table through the ORM, so copies of them already in
    the session are marked deleted (a caller can still read ``customer.id`` after)."""
    model = next((m.class_ for m in db.Model.registry.mappers if m.local_table is table), None)
    if model is None:
        session.execute(delete(table).where(where))
    else:
        statement = delete(model).where(where)
        session.execute(statement.execution_options(synchronize_session="fetch"))


def _rows_of(table: Table, customer_id: int) -> ColumnElement[bool]:
    """The condition that picks the customer's rows of ``table``."""
    if "customer_id" in table.c:
        return table.c.customer_id == customer_id
    column, parent_name = THROUGH_PARENT[table.name]
    parent = _table(parent_name)
    return table.c[column].in_(select(parent.c.id).where(parent.c.customer_id == customer_id))


def _count(session: Session, name: str, customer_id: int) -> int:
    table = _table(name)
    statement = select(func.count()).select_from(table).where(_rows_of(table, customer_id))
    return session.scalar(statement) or 0


def what_goes(session: Session, customer_id: int) -> WhatGoes:
    """What Delete customer would remove now, for the confirmation (and the audit line)."""

    def count(name: str) -> int:
        return _count(session, name, customer_id)

    return WhatGoes(
        **{name: count(table) for name, table, _one, _many in COUNTED},
        export_files=exports.finished_files(session),
    )


def tables_with_customer_rows(metadata: MetaData) -> set[str]:
    """Tables whose rows can belong to a customer (customer_id, or an FK chain to customers)."""
    found = {"customers"}
    grew = True
    while grew:
        grew = False
        for table in metadata.tables.values():
            if table.name in found or table.name in NOT_A_CUSTOMERS:
                continue
            references = {key.column.table.name for key in table.foreign_keys}
            if "customer_id" in table.c or references & found:
                found.add(table.name)
                grew = True
    return found - {"customers"}


def uncovered_tables(metadata: MetaData | None = None) -> set[str]:
    """Tables that can hold a customer's rows but that Delete customer would not empty
    (should be empty: a new table must be added to CUSTOMER_TABLES or NOT_A_CUSTOMERS)."""
    metadata = metadata if metadata is not None else db.metadata
    known = set(CUSTOMER_TABLES)
    unreachable = {
        name
        for name in known
        if name in metadata.tables
        and "customer_id" not in metadata.tables[name].c
        and name not in THROUGH_PARENT
    }
    return (tables_with_customer_rows(metadata) - known) | unreachable


def delete_refusal(session: Session, customer: Customer) -> str | None:
    """Why this customer cannot be deleted now (an active subscription), or None. The
    confirmation says it before anything is tried; a refused deletion adds that nothing
    was deleted."""
    if subscriptions.has_active(session, customer.id):
        return (
            f"{customer.customer_id} has an active subscription, so it cannot be deleted "
            "yet. Cancel it on the Subscriptions tab first."
        )
    return None


def confirm_pattern(visible_id: str) -> str:
    """The customer ID as an HTML ``pattern`` (a regular expression matching only it)."""
    return re.sub(r"([\\^$.*+?()\[\]{}|/])", r"\\\1", visible_id)


def _check_tables() -> None:
    missing = uncovered_tables()
    if missing:
        raise RuntimeError(
            "Delete customer does not know these tables: " + ", ".join(sorted(missing))
        )


def _remove_locked(session: Session, customer: Customer) -> WhatGoes:
    """Delete every row of ``customer`` (locked by the caller) and write its audit line."""
    visible_id = customer.customer_id
    counts = what_goes(session, customer.id)
    # Its open invoices leave the receivables totals with it.
    receivables.forget_customer(session, customer.id)
    for name in CUSTOMER_TABLES:
        table = _table(name)
        _delete_rows(session, table, _rows_of(table, customer.id))
    customers = _table("customers")
    _delete_rows(session, customers, customers.c.id == customer.id)
    audit.record(
        session,
        "customer.deleted",
        visible_id,
        f"Deleted {visible_id}: {counts.summary()}.",
    )
    return counts


def delete_customer(session: Session, customer_id: int, typed_id: str | None) -> WhatGoes:
    """Remove every row of the customer once the typed ID matches (case, spaces ignored) and no
    subscription is active. Runs under the customer's lock; writes one audit line and commits once.
    Its finished exports are withdrawn in the same transaction, files deleted after the commit.
    Returns what was removed; raises ``DeletionError`` (nothing deleted) when refused."""
    _check_tables()

    def work() -> tuple[WhatGoes, list[Path]]:
        try:
            customer = lock_customer(session, customer_id)
        except LedgerError as gone:
            raise CustomerGone("This customer was already deleted.") from gone
        visible_id = customer.customer_id
        if (typed_id or "").strip().casefold() != visible_id.casefold():
            raise DeletionError(
                f"Type {visible_id} exactly to confirm. Nothing was deleted.", CONFIRM_FIELD
            )
        refusal = delete_refusal(session, customer)
        if refusal is not None:
            raise DeletionError(f"{refusal} Nothing was deleted.")
        counts = _remove_locked(session, customer)
        return counts, exports.withdraw_exports(session, "a customer in it was deleted")

    # Retries a deadlock (e.g. with an email job recording a send) or a busy SQLite file.
    counts, export_files = in_transaction(session, work)
    exports.delete_files(export_files)
    return counts


@dataclass
class BulkDeletion:
    """What one bulk delete did: the customer IDs removed and those refused, with why."""

    deleted: list[str]
    refused: list[tuple[str, str]]


def delete_customers(session: Session, customer_ids: list[int]) -> BulkDeletion:
    """Delete several customers (bulk action), each as Delete customer does (its rows, one
    audit line), skipping any that ``delete_refusal`` refuses or that is gone already. One
    transaction for all of ``customer_ids`` (the caller sends a batch): all of them or none.
    Finished exports are withdrawn once, their files deleted after the commit."""
    _check_tables()

    def work() -> tuple[BulkDeletion, list[Path]]:
        result = BulkDeletion(deleted=[], refused=[])
        for customer_id in sorted(set(customer_ids)):  # one lock order: no deadlock
            try:
                customer = lock_customer(session, customer_id)
            except LedgerError:
                continue  # deleted meanwhile: nothing left to do
            refusal = delete_refusal(session, customer)
            if refusal is not None:
                result.refused.append((customer.customer_id, refusal))
                continue
            _remove_locked(session, customer)
            result.deleted.append(customer.customer_id)
        files = (
            exports.withdraw_exports(session, "a customer in it was deleted")
            if result.deleted
            else []
        )
        return result, files

    result, export_files = in_transaction(session, work)
    exports.delete_files(export_files)
    return result


def what_goes_of_many(session: Session, customer_ids: Select) -> WhatGoes:
    """What deleting every customer whose id ``customer_ids`` selects would remove, in total."""

    def count(name: str) -> int:
        table = _table(name)
        if "customer_id" in table.c:
            where = table.c.customer_id.in_(customer_ids)
        else:
            column, parent_name = THROUGH_PARENT[table.name]
            parent = _table(parent_name)
            where = table.c[column].in_(
                select(parent.c.id).where(parent.c.customer_id.in_(customer_ids))
            )
        return session.scalar(select(func.count()).select_from(table).where(where)) or 0

    return WhatGoes(
        **{name: count(table) for name, table, _one, _many in COUNTED},
        export_files=exports.finished_files(session),
    )
