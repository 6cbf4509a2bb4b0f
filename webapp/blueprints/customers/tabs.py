"""What each customer tab shows besides the customer: one loader per tab, reading the
query string (the page's cursor, filters). A new tab is an entry in TABS, its template
customers/tabs/<tab>.html (included by a block of customers/show.html) and, if it
shows more than the customer, a loader here."""

from __future__ import annotations

from flask import request

from webapp.blueprints.notes.forms import NoteForm
from webapp.blueprints.tags.forms import TagForm
from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.paging import PageAt
from webapp.services import activities as activities_service
from webapp.services import addresses as addresses_service
from webapp.services import aliases as aliases_service
from webapp.services import billing as billing_service
from webapp.services import contacts as contacts_service
from webapp.services import customer_accounts, history, ledger, mailer, payment_links, reminders
from webapp.services import notes as notes_service
from webapp.services import sales as sales_service
from webapp.services import subscriptions as subscriptions_service
from webapp.services import tags as tags_service
from webapp.services import tickets as tickets_service

# Tab slug -> label. A new tab is one entry here, customers/tabs/<tab>.html (and its
# block in customers/show.html) and, if it shows more than the customer, a loader in
# LOADERS.
TABS = {
    "profile": "Profile",
    "billing": "Billing",
    "invoices": "Invoices",
    "credit-notes": "Credit notes",
    "emails": "Emails",
    "contacts": "Contacts",
    "addresses": "Addresses",
    "notes": "Notes",
    "activities": "Activities",
    "tickets": "Tickets",
    "sales": "Sales",
    "subscriptions": "Subscriptions",
    "history": "History",
}


def _profile(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["primary_contact"] = contacts_service.primary_contact(db.session, customer.id)
    shown["billing_address"] = addresses_service.billing_address_of(db.session, customer.id)
    shown["aliases"] = aliases_service.aliases_of(db.session, customer.id)
    shown["all_tags"] = tags_service.all_tags(db.session)
    shown["tag_form"] = TagForm(formdata=None)
    account = customer_accounts.account_of(db.session, customer.id)
    shown["account_state"] = customer_accounts.account_state(account)
    return shown


def _billing(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["entries"] = billing_service.entries_page(db.session, customer.id, at)
    link = payment_links.current_link(db.session, customer.id)
    shown["payment_link"] = link
    shown["payment_link_url"] = payment_links.link_url(link) if link else ""
    shown["link_events"] = history.events_of(db.session, customer.id, "payment_link")
    shown["expiry_choices"] = payment_links.EXPIRY_CHOICES
    shown["default_expiry"] = payment_links.DEFAULT_EXPIRY
    shown["reminder_steps"] = reminders.steps(db.session, customer.legal_entity_id)
    shown["recent_reminders"] = reminders.sent_for_customer(db.session, customer.id, limit=5)
    shown["step_label"] = reminders.step_label
    return shown


def _invoices(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    status = request.args.get("status", "")
    status = status if status in billing_service.INVOICE_STATUSES else ""
    shown["invoice_status"] = status
    shown["invoices"] = billing_service.invoices_page(db.session, customer.id, status, at)
    return shown


def _credit_notes(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["credit_notes"] = billing_service.credit_notes_page(db.session, customer.id, at)
    return shown


def _emails(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["emails"] = mailer.emails_page(db.session, customer.id, at)
    return shown


def _contacts(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["contacts"] = contacts_service.contacts_of(db.session, customer.id)
    return shown


def _addresses(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["addresses"] = addresses_service.addresses_of(db.session, customer.id)
    return shown


def _notes(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["notes"] = notes_service.notes_page(db.session, customer.id, at)
    shown["note_form"] = NoteForm(formdata=None)
    return shown


def _sales(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    shown["sales"] = sales_service.sales_page(db.session, customer.id, at)
    shown["sale_actions"] = sales_service.available_actions
    shown["sale_status"] = sales_service.status_label
    return shown


def _activities(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    now = utcnow()
    number = request.args.get("page", 1, type=int) or 1  # offset paging: see webapp.paging
    activities = activities_service.activities_page(db.session, customer.id, number, now)
    shown["activities"] = activities
    shown["overdue"] = activities_service.overdue_ids(activities.rows, now)
    shown["activity_kinds"] = activities_service.KIND_LABELS
    return shown


def _tickets(customer: Customer, at: PageAt) -> dict:
    shown: dict = {}
    status = tickets_service.status_filter(request.args.get("status"))
    shown["ticket_status"] = status
    shown["tickets"] = tickets_service.tickets_page(db.session, customer.id, status, at)
    shown["ticket_status_labels"] = tickets_service.STATUS_LABELS
    return shown


def _subscriptions(customer: Customer, at: PageAt) -> dict:
    return {
        "subscriptions": subscriptions_service.subscriptions_of(db.session, customer.id),
        "subscription_intervals": subscriptions_service.INTERVAL_LABELS,
        "can_cancel": lambda s: subscriptions_service.cancel_refusal(s) is None,
    }


def _history(customer: Customer, at: PageAt) -> dict:
    group = request.args.get("kind", "")
    group = group if group in history.GROUPS else ""
    return {
        "history_kind": group,
        "history_groups": history.GROUPS,
        "history_who": history.who,
        "events": history.events_page(db.session, customer.id, group, at),
    }


LOADERS = {
    "history": _history,
    "subscriptions": _subscriptions,
    "profile": _profile,
    "billing": _billing,
    "invoices": _invoices,
    "credit-notes": _credit_notes,
    "emails": _emails,
    "contacts": _contacts,
    "addresses": _addresses,
    "notes": _notes,
    "sales": _sales,
    "activities": _activities,
    "tickets": _tickets,
}


def tab_context(customer: Customer, tab: str) -> dict:
    """What ``tab`` shows besides the customer (and the balances the header uses)."""
    context: dict = {"balances": ledger.balances(db.session, customer)}
    loader = LOADERS.get(tab)
    if loader is not None:
        context.update(loader(customer, PageAt.from_args(request.args)))
    return context
