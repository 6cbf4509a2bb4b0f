"""Money on the customer page: Add entry, Capture one time charge, invoices, credit notes."""

from __future__ import annotations

from flask import Blueprint, abort, url_for
from flask_login import current_user

from webapp.blueprints.billing.forms import EntryForm, OneTimeChargeForm
from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.billing import CreditNote, EntryKind, Invoice
from webapp.rendering import download, render_form, render_page
from webapp.services import billing as billing_service
from webapp.services import ledger
from webapp.services.document_pdf import pdf_of
from webapp.services.documents import document_of
from webapp.services.money import format_money

bp = Blueprint("billing", __name__)


@bp.route("/customers/<int:customer_id>/entries/new", methods=["GET", "POST"])
def new_entry(customer_id: int):
    """Add entry: a Charge or a Credit, posted exactly once per form."""
    customer = customer_or_404(customer_id)
    form = EntryForm(billing_currency=customer.currency)
    ask_repeat = False
    if form.validate_on_submit():
        is_charge = form.kind.data == "charge"
        customer_id, currency = customer.id, form.currency.data
        try:
            ledger.post_entry(
                db.session,
                customer_id,
                kind=EntryKind.CHARGE if is_charge else EntryKind.CREDIT,
                amount_minor=-form.amount_minor if is_charge else form.amount_minor,
                currency=form.currency.data,
                description=form.description.data.strip(),
                actor_id=current_user.id,
                key=form.key.data,
                payment_method="" if is_charge else (form.payment_method.data or "").strip(),
                reference="" if is_charge else (form.reference.data or "").strip(),
                allow_repeat=form.repeat.data,
            )
        except ledger.LedgerError as refusal:
            form.amount.errors.append(str(refusal))
            ask_repeat = isinstance(refusal, ledger.RepeatedEntryError)
        else:
            # A replayed key is the same form, so the form's values describe the entry.
            amount = format_money(form.amount_minor, currency)
            return customer_changed(
                customer_id, f"{'Charge' if is_charge else 'Credit'} of {amount} added.", "billing"
            )
    return render_form(
        "billing/entry_form.html",
        form,
        customer=customer,
        ask_repeat=ask_repeat or form.repeat.data,
    )


@bp.route("/customers/<int:customer_id>/charges/new", methods=["GET", "POST"])
def new_charge(customer_id: int):
    """Capture one time charge: invoice a positive amount, credit note a negative (if supported)."""
    customer = customer_or_404(customer_id)
    form = OneTimeChargeForm(billing_currency=customer.currency)
    ask_repeat = False
    if form.validate_on_submit():
        try:
            result = billing_service.capture_one_time_charge(
                db.session,
                customer_id,
                amount_minor=form.amount_minor,
                currency=form.currency.data,
                description=form.description.data.strip(),
                actor_id=current_user.id,
                key=form.key.data,
                allow_repeat=form.repeat.data,
            )
        except ledger.LedgerError as refusal:
            form.amount.errors.append(str(refusal))
            ask_repeat = isinstance(refusal, ledger.RepeatedEntryError)
        else:
            if result.invoice is not None:
                invoice = result.invoice
                total = format_money(invoice.total_minor, invoice.currency)
                return customer_changed(
                    customer_id, f"Invoice {invoice.number} for {total} created.", "invoices"
                )
            note = result.credit_note
            total = format_money(note.total_minor, note.currency)
            return customer_changed(
                customer_id, f"Credit note {note.number} for {total} created.", "credit-notes"
            )
    return render_form(
        "billing/charge_form.html",
        form,
        customer=customer,
        ask_repeat=ask_repeat or form.repeat.data,
    )


@bp.get("/invoices/<int:invoice_id>")
def invoice(invoice_id: int):
    """The printable invoice as issued: seller, buyer, dates, lines, tax per rate, total."""
    found = db.session.get(Invoice, invoice_id)
    if found is None:
        abort(404)
    return render_page(
        "billing/invoice.html",
        document=document_of(found),
        customer=found.customer,
        pdf_url=url_for("billing.invoice_pdf", invoice_id=found.id),
    )


@bp.get("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int):
    """The invoice as issued, as a PDF file to download."""
    found = db.session.get(Invoice, invoice_id)
    if found is None:
        abort(404)
    return download(pdf_of(found))


@bp.route("/invoices/<int:invoice_id>/<action>", methods=["GET", "POST"])
def invoice_action(invoice_id: int, action: str):
    """Mark as paid, Refund or Void, after a server-side confirmation."""
    found = db.session.get(Invoice, invoice_id)
    if found is None or action not in billing_service.INVOICE_ACTIONS:
        abort(404)
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            billing_service.change_invoice_status(db.session, found.id, action, current_user.id)
        except ledger.LedgerError as refusal:
            error = str(refusal)
        else:
            return customer_changed(
                found.customer_id, f"{found.number} is now {found.status}.", "invoices"
            )
    return render_form(
        "billing/invoice_action.html",
        form,
        invoice=found,
        customer=found.customer,
        action=action,
        label=billing_service.INVOICE_ACTIONS[action],
        error=error,
    )


@bp.get("/credit-notes/<int:credit_note_id>")
def credit_note(credit_note_id: int):
    """A credit note as issued."""
    found = db.session.get(CreditNote, credit_note_id)
    if found is None:
        abort(404)
    return render_page(
        "billing/credit_note.html",
        document=document_of(found),
        customer=found.customer,
        pdf_url=url_for("billing.credit_note_pdf", credit_note_id=found.id),
    )


@bp.get("/credit-notes/<int:credit_note_id>.pdf")
def credit_note_pdf(credit_note_id: int):
    """The credit note as issued, as a PDF file to download."""
    found = db.session.get(CreditNote, credit_note_id)
    if found is None:
        abort(404)
    return download(pdf_of(found))
