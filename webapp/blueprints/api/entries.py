"""/api/v1/customers/<id>/entries: a customer's ledger entries, and Add entry (a Charge or
a Credit) through the panel's own form and ledger.post_entry."""

from __future__ import annotations

import hashlib
import uuid

from flask import g, request
from werkzeug.datastructures import MultiDict

from webapp.blueprints.api import schemas
from webapp.blueprints.api.blueprint import bp
from webapp.blueprints.api.common import (
    answer,
    checked_cursor,
    customer_or_404,
    idempotent,
    json_body,
    next_cursor,
    query_args,
    refused,
    shaped,
)
from webapp.blueprints.api.openapi import documented
from webapp.blueprints.api.problems import ApiProblem
from webapp.blueprints.billing.forms import EntryForm
from webapp.extensions import db
from webapp.models.billing import EntryKind, LedgerEntry
from webapp.paging import Keyset, PageAt
from webapp.services import billing, ledger
from webapp.services.money import format_plain
from webapp.services.reference import currency_codes

TAG = "Entries"
# The order of billing.entries_page: newest first.
ENTRY_ORDER = Keyset((LedgerEntry.created_at, LedgerEntry.id), ("created_at", "id"))


def entry_json(entry: LedgerEntry) -> schemas.Entry:
    return schemas.Entry(
        id=entry.id,
        kind=str(entry.kind),
        amount=schemas.Money(amount_minor=entry.amount_minor, currency=entry.currency),
        description=entry.description,
        payment_method=entry.payment_method,
        reference=entry.reference,
        invoice_id=entry.invoice_id,
        credit_note_id=entry.credit_note_id,
        created_at=schemas.utc(entry.created_at),
    )


@bp.get("/customers/<int:customer_id>/entries")
@documented(
    "List a customer's entries",
    tag=TAG,
    query=schemas.CursorQuery,
    responses={200: schemas.EntryList},
)
def list_entries(customer_id: int):
    """The customer's ledger entries, newest first, 50 a page."""
    customer = customer_or_404(customer_id)
    args = query_args(schemas.CursorQuery)
    page = billing.entries_page(
        db.session, customer.id, PageAt(after=checked_cursor(ENTRY_ORDER, args.cursor))
    )
    return answer(
        schemas.EntryList(
            data=[entry_json(row) for row in page.rows], next_cursor=next_cursor(page)
        )
    )


def ledger_key() -> str:
    """The entry's own once-only key (the form's hidden key in the panel): from the
    Idempotency-Key when one is sent, so even a replay racing past the API's record
    cannot post twice; a fresh one otherwise."""
    sent = request.headers.get("Idempotency-Key")
    if sent is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"api:{g.api_key_id}:{sent}".encode()).hexdigest()[:32]


def _entry_form(sent: schemas.EntryCreate, key: str) -> EntryForm:
    """Add entry's form, filled in with the request: the panel's rules check it."""
    currency = sent.amount.currency
    amount = (
        format_plain(sent.amount.amount_minor, currency)
        if currency in currency_codes() and abs(sent.amount.amount_minor) < 10**30
        else str(sent.amount.amount_minor)
    )
    data = MultiDict(
        {
            "kind": sent.kind,
            "amount": amount,
            "currency": currency,
            "description": sent.description,
            "payment_method": sent.payment_method or "",
            "reference": sent.reference or "",
            "key": key,
        }
    )
    return EntryForm(formdata=data, meta={"csrf": False})


def repeat_detail(refusal: ledger.RepeatedEntryError) -> str:
    """The panel's "tick Record it again" in the API's words."""
    return str(refusal).replace("tick “Record it again”", 'send "record_again": true')


FORM_TO_API = {"amount": "amount.amount_minor", "currency": "amount.currency"}


@bp.post("/customers/<int:customer_id>/entries")
@documented(
    "Add a charge or credit",
    tag=TAG,
    body=schemas.EntryCreate,
    responses={201: schemas.Entry},
    errors=(409,),
)
@idempotent
def create_entry(customer_id: int):
    """Add entry, as the panel's: a charge the customer owes (stored negative) or a credit
    in their favour (positive), in any currency. The same amount and description again
    within 10 minutes is refused (409) unless record_again is true."""
    customer = customer_or_404(customer_id)
    sent = shaped(schemas.EntryCreate, json_body())
    form = _entry_form(sent, ledger_key())
    if not form.validate():
        raise refused(
            {FORM_TO_API.get(name, name): messages[0] for name, messages in form.errors.items()}
        )
    is_charge = form.kind.data == "charge"
    try:
        posted = ledger.post_entry(
            db.session,
            customer.id,
            kind=EntryKind.CHARGE if is_charge else EntryKind.CREDIT,
            amount_minor=-form.amount_minor if is_charge else form.amount_minor,
            currency=form.currency.data,
            description=form.description.data.strip(),
            actor_id=None,
            key=form.key.data,
            payment_method="" if is_charge else (form.payment_method.data or "").strip(),
            reference="" if is_charge else (form.reference.data or "").strip(),
            allow_repeat=sent.record_again,
        )
    except ledger.RepeatedEntryError as refusal:
        raise ApiProblem(409, repeat_detail(refusal)) from None
    except ledger.LedgerError as refusal:
        raise refused({"amount.amount_minor": str(refusal)}) from None
    return answer(entry_json(posted.entry), 201)
