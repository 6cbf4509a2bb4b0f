"""Money on the customer page: Add entry, Capture one time charge, invoices, credit notes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from wtforms import HiddenField

from webapp.blueprints.billing.forms import DraftForm, EntryForm, OneTimeChargeForm
from webapp.blueprints.customers.answers import (
    customer_changed,
    customer_or_404,
    customer_tab_url,
)
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.base import utcnow
from webapp.models.billing import CreditNote, EntryKind, Invoice
from webapp.models.customer import Customer
from webapp.rendering import done, download, render_form, render_page
from webapp.services import billing as billing_service
from webapp.services import drafts, ledger
from webapp.services.contacts import billing_recipients
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
            tab = "invoices" if result.invoice is not None else "credit-notes"
            return customer_changed(customer_id, result.message, tab)
    return render_form(
        "billing/charge_form.html",
        form,
        customer=customer,
        ask_repeat=ask_repeat or form.repeat.data,
        drafts_first=billing_service.invoices_manually(db.session, customer.id),
    )


@bp.get("/invoices/<int:invoice_id>")
def invoice(invoice_id: int):
    """The printable invoice as issued: seller, buyer, dates, lines, tax per rate, total. A
    draft shows what it holds so far, with Edit draft, Finalize and Delete draft."""
    found = db.get_or_404(Invoice, invoice_id)
    if found.is_draft:
        return render_page(
            "billing/draft.html",
            invoice=found,
            customer=found.customer,
            recipients=billing_recipients(db.session, found.customer),
        )
    return render_page(
        "billing/invoice.html",
        document=document_of(found),
        customer=found.customer,
        pdf_url=url_for("billing.invoice_pdf", invoice_id=found.id),
    )


@bp.get("/invoices/<int:invoice_id>.pdf")
def invoice_pdf(invoice_id: int):
    """The invoice as issued, as a PDF file to download."""
    found = db.get_or_404(Invoice, invoice_id)
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
    found = db.get_or_404(CreditNote, credit_note_id)
    return render_page(
        "billing/credit_note.html",
        document=document_of(found),
        customer=found.customer,
        pdf_url=url_for("billing.credit_note_pdf", credit_note_id=found.id),
    )


@bp.get("/credit-notes/<int:credit_note_id>.pdf")
def credit_note_pdf(credit_note_id: int):
    """The credit note as issued, as a PDF file to download."""
    found = db.get_or_404(CreditNote, credit_note_id)
    return download(pdf_of(found))


# -- draft invoices ------------------------------------------------------------------


def _invoice_of(customer: Customer, invoice_id: int) -> Invoice | None:
    """The customer's invoice with this id, or None (also another customer's)."""
    found = db.session.get(Invoice, invoice_id)
    return found if found is not None and found.customer_id == customer.id else None


def _opened_version(form) -> int | None:
    data = form.opened_version.data
    return int(data) if data and data.isdigit() else None


def _draft_form(form: DraftForm, customer: Customer, invoice: Invoice | None, status=None):
    """The New invoice / Edit draft page (htmx: its ``form`` block, or after Add line or
    Remove its ``draft_lines`` block). Add line and Remove answer 200 with a row more or
    less and save nothing; a refused save answers 422 (409: saved elsewhere meanwhile)."""
    focus = None
    action = request.form.get("line_action", "") if form.is_submitted() else ""
    if action:
        focus = form.apply_line_action(action)
        status = 200
    return render_form(
        "billing/draft_form.html",
        form,
        blocks=("form", "draft_lines"),
        status=status,
        customer=customer,
        invoice=invoice,
        focus=focus,
    )


def _to_draft(invoice_id: int, message: str):
    """After a save: the draft's page, with the message (htmx too: a page load)."""
    to = url_for("billing.invoice", invoice_id=invoice_id)
    return done({}, to=to, message=message, open_page=True)


@bp.route("/customers/<int:customer_id>/invoices/new", methods=["GET", "POST"])
def new_invoice(customer_id: int):
    """New invoice: a draft with as many lines as it needs, in either invoicing flow.
    Nothing is numbered, charged or emailed until it is finalized."""
    customer = customer_or_404(customer_id)
    form = DraftForm(billing_currency=customer.currency)
    if form.is_submitted() and request.form.get("line_action"):
        return _draft_form(form, customer, None)
    if form.validate_on_submit():
        try:
            drafted = drafts.start_draft(
                db.session,
                customer.id,
                **form.values(),
                actor_id=current_user.id,
                key=form.key.data,
            )
        except drafts.DraftError as refusal:
            form.put_refusal(refusal)
        except ledger.LedgerError as refusal:
            form.form_errors.append(str(refusal))
        else:
            message = (
                "This form was already saved as a draft."
                if drafted.replayed
                else f"{drafts.summary(drafted.invoice)} saved."
            )
            return _to_draft(drafted.invoice.id, message)
    return _draft_form(form, customer, None)


@bp.route("/customers/<int:customer_id>/drafts/<int:draft_id>/edit", methods=["GET", "POST"])
def edit_draft(customer_id: int, draft_id: int):
    """Edit draft: its lines, currency, due date and supply date. An issued invoice is not
    edited (its page says so); saved by someone else meanwhile: 409 with what it is now."""
    customer = customer_or_404(customer_id)
    found = _invoice_of(customer, draft_id)
    if found is None:
        abort(404)
    if not found.is_draft:
        flash(f"{found.number} is issued: it can no longer be edited.", "error")
        return redirect(url_for("billing.invoice", invoice_id=found.id), code=303)
    form = DraftForm() if request.method == "POST" else DraftForm.of_draft(found)
    if form.is_submitted() and request.form.get("line_action"):
        return _draft_form(form, customer, found)
    status = None
    if form.validate_on_submit():
        try:
            saved = drafts.save_draft(
                db.session,
                customer.id,
                found.id,
                **form.values(),
                opened_version=_opened_version(form),
            )
        except drafts.DraftChanged as changed:
            form.form_errors.append(str(changed))
            form.opened_version.data = str(changed.version)
            status = 409
        except drafts.DraftError as refusal:
            form.put_refusal(refusal)
        except ledger.LedgerError as refusal:
            form.form_errors.append(str(refusal))
        else:
            return _to_draft(saved.id, f"{drafts.summary(saved)} saved.")
    return _draft_form(form, customer, found, status=status)


class DraftConfirmForm(ConfirmForm):
    """Finalize or Delete draft: the draft's version when the confirmation was shown."""

    opened_version = HiddenField()


@bp.route("/customers/<int:customer_id>/drafts/<int:draft_id>/finalize", methods=["GET", "POST"])
def finalize_draft(customer_id: int, draft_id: int):
    """Finalize: number, charge and email the draft as the confirmation showed it. Sent twice
    (double click, two tabs) it happens once; the second answer says it was already done."""
    return _draft_action(customer_id, draft_id, "finalize")


@bp.route("/customers/<int:customer_id>/drafts/<int:draft_id>/delete", methods=["GET", "POST"])
def delete_draft(customer_id: int, draft_id: int):
    """Delete draft, after a server-side confirmation; deleting it twice is not an error."""
    return _draft_action(customer_id, draft_id, "delete")


# The confirmation's button, per action.
DRAFT_ACTIONS = {"finalize": "Finalize", "delete": "Delete draft"}


def _draft_action(customer_id: int, draft_id: int, action: str):
    customer = customer_or_404(customer_id)
    found = _invoice_of(customer, draft_id)
    form = DraftConfirmForm()
    if found is None:
        if not form.is_submitted():
            abort(404)
        gone = "This draft invoice had already been deleted."
        return customer_changed(customer.id, gone, "invoices", ok=action == "delete")
    if not form.is_submitted():
        form.opened_version.data = str(found.version)
    error, status = None, None
    if form.validate_on_submit():
        opened = _opened_version(form)
        try:
            if action == "finalize":
                finalized = billing_service.finalize_draft(
                    db.session, customer.id, found.id, current_user.id, opened_version=opened
                )
                to = url_for("billing.invoice", invoice_id=finalized.invoice.id)
                return done({}, to=to, message=finalized.message, open_page=True)
            deleted = drafts.delete_draft(db.session, customer.id, found.id, opened)
            to = customer_tab_url(customer.id, "invoices")
            return done({}, to=to, message=deleted.message, open_page=True)
        except drafts.DraftChanged as changed:
            error, status = str(changed), 409
            form.opened_version.data = str(changed.version)
        except ledger.LedgerError as refusal:
            error = str(refusal)
        found = _invoice_of(customer, draft_id)
        if found is None:  # deleted meanwhile: nothing left to confirm
            return customer_changed(customer.id, error or drafts.DRAFT_GONE, "invoices", ok=False)
    elif not found.is_draft:
        error = f"This draft was finalized as {found.number}."
    return render_form(
        "billing/draft_action.html",
        form,
        status=status,
        customer=customer,
        invoice=found,
        action=action,
        label=DRAFT_ACTIONS[action],
        recipients=billing_recipients(db.session, customer),
        refusal=drafts.finalize_refusal(found, utcnow().date()) if found.is_draft else None,
        error=error,
    )
