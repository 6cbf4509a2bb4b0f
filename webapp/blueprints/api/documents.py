"""/api/v1/customers/<id>/invoices and /credit-notes: lists, one document, and its PDF as
issued; /charges: Capture one time charge (an invoice or a credit note). A document is
found only under its own customer: another customer's id is 404."""

from __future__ import annotations

from flask import url_for
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
from webapp.blueprints.api.entries import FORM_TO_API, entry_json, ledger_key, repeat_detail
from webapp.blueprints.api.openapi import documented
from webapp.blueprints.api.problems import ApiProblem
from webapp.blueprints.billing.forms import OneTimeChargeForm
from webapp.extensions import db
from webapp.models.billing import CreditNote, Invoice
from webapp.paging import Keyset, PageAt
from webapp.rendering import download
from webapp.services import billing, ledger
from webapp.services.document_pdf import pdf_of
from webapp.services.money import format_plain
from webapp.services.reference import currency_codes

TAG = "Invoices and credit notes"
INVOICE_ORDER = Keyset((Invoice.issue_date, Invoice.id), ("issue_date", "id"))
CREDIT_NOTE_ORDER = Keyset((CreditNote.issue_date, CreditNote.id), ("issue_date", "id"))


def _money(amount_minor: int, currency: str) -> schemas.Money:
    return schemas.Money(amount_minor=amount_minor, currency=currency)


def invoice_json(invoice: Invoice) -> schemas.Invoice:
    currency = invoice.currency
    return schemas.Invoice(
        id=invoice.id,
        number=invoice.number,
        status=str(invoice.status),
        customer_id=invoice.customer_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        supply_date=invoice.supply_date,
        subtotal=_money(invoice.subtotal_minor, currency),
        tax=_money(invoice.tax_minor, currency),
        total=_money(invoice.total_minor, currency),
        lines=[
            schemas.InvoiceLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=_money(line.unit_price_minor, currency),
                amount=_money(line.amount_minor, currency),
                tax_rate_bp=line.tax_rate_bp,
            )
            for line in invoice.lines
        ],
        pdf_url=None
        if invoice.is_draft
        else url_for("api.invoice_pdf", customer_id=invoice.customer_id, invoice_id=invoice.id),
        created_at=schemas.utc(invoice.created_at),
    )


def credit_note_json(note: CreditNote) -> schemas.CreditNote:
    return schemas.CreditNote(
        id=note.id,
        number=note.number,
        customer_id=note.customer_id,
        issue_date=note.issue_date,
        description=note.description,
        total=_money(note.total_minor, note.currency),
        pdf_url=url_for(
            "api.credit_note_pdf", customer_id=note.customer_id, credit_note_id=note.id
        ),
        created_at=schemas.utc(note.created_at),
    )


def _invoice_of(customer_id: int, invoice_id: int) -> Invoice:
    customer = customer_or_404(customer_id)
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != customer.id:
        raise ApiProblem(404, f"Customer {customer_id} has no invoice with id {invoice_id}.")
    return invoice


def _credit_note_of(customer_id: int, credit_note_id: int) -> CreditNote:
    customer = customer_or_404(customer_id)
    note = db.session.get(CreditNote, credit_note_id)
    if note is None or note.customer_id != customer.id:
        raise ApiProblem(
            404, f"Customer {customer_id} has no credit note with id {credit_note_id}."
        )
    return note


@bp.get("/customers/<int:customer_id>/invoices")
@documented(
    "List a customer's invoices",
    tag=TAG,
    query=schemas.InvoiceListQuery,
    responses={200: schemas.InvoiceList},
)
def list_invoices(customer_id: int):
    """The customer's invoices, newest first, drafts included (status=draft for only them)."""
    customer = customer_or_404(customer_id)
    args = query_args(schemas.InvoiceListQuery)
    page = billing.invoices_page(
        db.session,
        customer.id,
        status=args.status or "",
        at=PageAt(after=checked_cursor(INVOICE_ORDER, args.cursor)),
    )
    return answer(
        schemas.InvoiceList(
            data=[invoice_json(row) for row in page.rows], next_cursor=next_cursor(page)
        )
    )


@bp.get("/customers/<int:customer_id>/invoices/<int:invoice_id>")
@documented("Get an invoice", tag=TAG, responses={200: schemas.Invoice})
def get_invoice(customer_id: int, invoice_id: int):
    """One invoice as issued (seller and buyer as they were), with its lines."""
    return answer(invoice_json(_invoice_of(customer_id, invoice_id)))


@bp.get("/customers/<int:customer_id>/invoices/<int:invoice_id>/pdf")
@documented("Download an invoice's PDF", tag=TAG, responses={200: "application/pdf"})
def invoice_pdf(customer_id: int, invoice_id: int):
    """The invoice's PDF, as issued; a draft has none yet (404)."""
    invoice = _invoice_of(customer_id, invoice_id)
    if invoice.is_draft:
        raise ApiProblem(404, "A draft invoice has no PDF until it is finalized.")
    return download(pdf_of(invoice))


@bp.get("/customers/<int:customer_id>/credit-notes")
@documented(
    "List a customer's credit notes",
    tag=TAG,
    query=schemas.CursorQuery,
    responses={200: schemas.CreditNoteList},
)
def list_credit_notes(customer_id: int):
    """The customer's credit notes, newest first."""
    customer = customer_or_404(customer_id)
    args = query_args(schemas.CursorQuery)
    page = billing.credit_notes_page(
        db.session, customer.id, PageAt(after=checked_cursor(CREDIT_NOTE_ORDER, args.cursor))
    )
    return answer(
        schemas.CreditNoteList(
            data=[credit_note_json(row) for row in page.rows], next_cursor=next_cursor(page)
        )
    )


@bp.get("/customers/<int:customer_id>/credit-notes/<int:credit_note_id>")
@documented("Get a credit note", tag=TAG, responses={200: schemas.CreditNote})
def get_credit_note(customer_id: int, credit_note_id: int):
    """One credit note as issued."""
    return answer(credit_note_json(_credit_note_of(customer_id, credit_note_id)))


@bp.get("/customers/<int:customer_id>/credit-notes/<int:credit_note_id>/pdf")
@documented("Download a credit note's PDF", tag=TAG, responses={200: "application/pdf"})
def credit_note_pdf(customer_id: int, credit_note_id: int):
    """The credit note's PDF, as issued."""
    return download(pdf_of(_credit_note_of(customer_id, credit_note_id)))


# -- Capture one time charge ---------------------------------------------------------------


@bp.post("/customers/<int:customer_id>/charges")
@documented(
    "Capture a one time charge",
    tag=TAG,
    body=schemas.ChargeCreate,
    responses={201: schemas.ChargeResult},
    errors=(409,),
)
@idempotent
def capture_charge(customer_id: int):
    """Capture one time charge, as the panel's: a positive amount issues an invoice (a draft
    in the Manual invoicing flow), a negative one a credit note (refused when the
    customer's payment gateway has no credit notes). The document is emailed as in the
    panel. The same charge again within 10 minutes is 409 unless record_again is true."""
    customer = customer_or_404(customer_id)
    sent = shaped(schemas.ChargeCreate, json_body())
    currency = sent.amount.currency
    amount = sent.amount.amount_minor
    typed = (
        format_plain(amount, currency)
        if currency in currency_codes() and abs(amount) < 10**30
        else str(amount)
    )
    form = OneTimeChargeForm(
        formdata=MultiDict(
            {
                "amount": typed,
                "currency": currency,
                "description": sent.description,
                "key": ledger_key(),
            }
        ),
        meta={"csrf": False},
    )
    if not form.validate():
        raise refused(
            {FORM_TO_API.get(name, name): messages[0] for name, messages in form.errors.items()}
        )
    try:
        result = billing.capture_one_time_charge(
            db.session,
            customer.id,
            amount_minor=form.amount_minor,
            currency=form.currency.data,
            description=form.description.data.strip(),
            actor_id=None,
            key=form.key.data,
            allow_repeat=sent.record_again,
        )
    except ledger.RepeatedEntryError as refusal:
        raise ApiProblem(409, repeat_detail(refusal)) from None
    except ledger.LedgerError as refusal:
        raise refused({"amount.amount_minor": str(refusal)}) from None
    return answer(
        schemas.ChargeResult(
            invoice=invoice_json(result.invoice) if result.invoice is not None else None,
            credit_note=credit_note_json(result.credit_note)
            if result.credit_note is not None
            else None,
            entry=entry_json(result.entry) if result.entry is not None else None,
        ),
        201,
    )
