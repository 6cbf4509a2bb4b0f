"""Records kept on a customer (contacts, addresses, activities, tickets, sales,
external IDs): one set of routes for add, edit and delete, each a modal with htmx
and a page without JS, confirmed on the server before anything is removed.

A kind is a form (``records.forms.RecordForm``) and a service module with ``get``,
``add``, ``change``, ``remove`` and ``describe``; the service raises ``RecordError``
naming the field a refusal belongs beside.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from flask import Blueprint, abort
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from webapp.blueprints import editing
from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.blueprints.records.forms import (
    ActivityForm,
    AddressForm,
    AliasForm,
    ContactForm,
    RecordForm,
    SaleForm,
    SubscriptionForm,
    TicketForm,
)
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import (
    activities,
    addresses,
    aliases,
    contacts,
    sales,
    subscriptions,
    tickets,
    versions,
)
from webapp.services.records import RecordError

bp = Blueprint("records", __name__, url_prefix="/customers/<int:customer_id>")


@dataclass(frozen=True)
class RecordKind:
    noun: str  # "contact": headings and messages
    tab: str  # the customer tab that lists them
    form: type[RecordForm]
    service: ModuleType
    delete_verb: str = "Delete"
    # False for records that are kept for good (tickets): no delete page, no link.
    deletable: bool = True
    # False for records that are ended rather than edited (subscriptions): no edit page.
    editable: bool = True

    @property
    def title(self) -> str:
        return self.noun[0].upper() + self.noun[1:]


# URL segment -> kind.
KINDS: dict[str, RecordKind] = {
    "contacts": RecordKind("contact", "contacts", ContactForm, contacts, delete_verb="Remove"),
    "addresses": RecordKind("address", "addresses", AddressForm, addresses, delete_verb="Remove"),
    "activities": RecordKind("activity", "activities", ActivityForm, activities),
    "tickets": RecordKind("ticket", "tickets", TicketForm, tickets, deletable=False),
    "sales": RecordKind("sale", "sales", SaleForm, sales),
    "aliases": RecordKind("external ID", "profile", AliasForm, aliases, delete_verb="Remove"),
    "subscriptions": RecordKind(
        "subscription",
        "subscriptions",
        SubscriptionForm,
        subscriptions,
        deletable=False,
        editable=False,
    ),
}


def _kind_or_404(kind: str) -> RecordKind:
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


def _record_or_404(record_kind: RecordKind, customer_id: int, record_id: int):
    record = record_kind.service.get(db.session, customer_id, record_id)
    if record is None:
        abort(404)
    return record


# Another request removed the record, or moved a one-per-customer mark (primary
# contact, billing address), between this request reading it and writing.
CONCURRENT_CHANGE = (StaleDataError, ObjectDeletedError, IntegrityError)


def _changed_meanwhile(record_kind: RecordKind, customer_id: int):
    """Nothing was saved: say so and show the tab as it is now, never a 500."""
    db.session.rollback()
    message = (
        f"This {record_kind.noun} was changed or removed by someone else at the same "
        "moment; nothing was saved. Check it and try again."
    )
    return customer_changed(customer_id, message, record_kind.tab, ok=False)


def _why_locked(record_kind: RecordKind, record) -> str | None:
    """Why the kind's service keeps this record as it is (e.g. an invoiced sale), or None."""
    why_locked = getattr(record_kind.service, "why_locked", None)
    return why_locked(record) if why_locked is not None else None


def _refused(form: RecordForm, refusal: RecordError) -> str | None:
    """Put a refusal beside its field; return it if it belongs above the form."""
    db.session.rollback()
    field = getattr(form, refusal.field, None) if refusal.field else None
    if field is None:
        return str(refusal)
    field.errors = [*field.errors, str(refusal)]
    return None


def _render_form(
    record_kind, kind, customer, form, record=None, error=None, locked=False, status=None
):
    return render_form(
        "records/form.html",
        form,
        status=status,
        locked=locked,
        customer=customer,
        record=record,
        kind=kind,
        record_kind=record_kind,
        error=error,
    )


@bp.route("/<kind>/new", methods=["GET", "POST"])
def new(customer_id: int, kind: str):
    """Add a record: the form (a modal with htmx), then back to the customer's tab."""
    record_kind = _kind_or_404(kind)
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, record_kind.tab)
    form = record_kind.form(customer=customer)
    error = None
    if form.validate_on_submit():
        try:
            record_kind.service.add(db.session, customer, current_user.id, form.record_fields())
        except RecordError as refusal:
            error = _refused(form, refusal)
        else:
            return customer_changed(customer_id, f"{record_kind.title} added.", record_kind.tab)
    return _render_form(record_kind, kind, customer, form, error=error)


@bp.route("/<kind>/<int:record_id>/edit", methods=["GET", "POST"])
def edit(customer_id: int, kind: str, record_id: int):
    """Edit a record: the same form, filled in; 409 with what changed if saved since (versions)."""
    record_kind = _kind_or_404(kind)
    if not record_kind.editable:
        abort(404)
    customer = customer_or_404(customer_id)
    record = _record_or_404(record_kind, customer.id, record_id)
    refuse_unless_editable(customer, record_kind.tab)
    form = record_kind.form(customer=customer, record=record)
    editing.open_at(form, record)
    locked = error = _why_locked(record_kind, record)
    if locked is None and form.validate_on_submit():
        try:
            record_kind.service.change(
                db.session, customer, record, form.record_fields(), opened=editing.opened(form)
            )
        except versions.EditConflict as conflict:
            error = editing.reopen(form, record_kind.noun, conflict)
            return _render_form(
                record_kind, kind, customer, form, record, error, status=editing.CONFLICT_STATUS
            )
        except RecordError as refusal:
            error = _refused(form, refusal)
            if record_kind.service.get(db.session, customer_id, record_id) is None:
                # Removed by someone else meanwhile: there is no form left to show.
                return customer_changed(customer_id, str(refusal), record_kind.tab, ok=False)
        except CONCURRENT_CHANGE:
            return _changed_meanwhile(record_kind, customer_id)
        else:
            return customer_changed(customer_id, f"{record_kind.title} saved.", record_kind.tab)
    return _render_form(record_kind, kind, customer, form, record, error, locked=bool(locked))


@bp.route("/<kind>/<int:record_id>/delete", methods=["GET", "POST"])
def delete(customer_id: int, kind: str, record_id: int):
    """Delete (or remove) a record after a server-side confirmation: Cancel / Confirm."""
    record_kind = _kind_or_404(kind)
    if not record_kind.deletable:
        abort(404)
    customer = customer_or_404(customer_id)
    record = _record_or_404(record_kind, customer.id, record_id)
    form = ConfirmForm()
    locked = error = _why_locked(record_kind, record)
    if locked is None and form.validate_on_submit():
        try:
            record_kind.service.remove(db.session, customer, record)
        except RecordError as refusal:
            db.session.rollback()
            error = str(refusal)
        except CONCURRENT_CHANGE:
            return _changed_meanwhile(record_kind, customer_id)
        else:
            verb = "removed" if record_kind.delete_verb == "Remove" else "deleted"
            return customer_changed(customer_id, f"{record_kind.title} {verb}.", record_kind.tab)
    return render_form(
        "records/delete.html",
        form,
        customer=customer,
        record=record,
        kind=kind,
        record_kind=record_kind,
        description=record_kind.service.describe(record),
        error=error,
        locked=bool(locked),
    )
