"""The customer's own area under /account: their balance and billing history, their
invoices and credit notes (page and PDF), their statement, and their contacts' email
preferences.

Every route needs a customer session (``customer_required``) and reads only the
customer of that session (``g.customer_account``): no URL names a customer, and a
document or contact id of anyone else answers 404 exactly as one that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, request, url_for

from webapp.blueprints.customer_area.forms import EmailPreferencesForm
from webapp.blueprints.statements.forms import StatementPeriodForm
from webapp.blueprints.statements.routes import asked_period
from webapp.customer_auth import customer_required
from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.paging import PageAt
from webapp.rendering import done, download, render_page
from webapp.services import customer_area, statement_pdf
from webapp.services.document_pdf import pdf_of
from webapp.services.documents import document_of
from webapp.services.guard import CustomerRefusal
from webapp.services.statements import Period

bp = Blueprint("customer_area", __name__, url_prefix="/account")

HOME_BLOCKS = ("history",)
LIST_BLOCKS = ("documents",)
STATEMENT_BLOCKS = ("statement",)


def signed_in_customer() -> Customer:
    """The customer of this request's customer session."""
    return db.get_or_404(Customer, g.customer_account.customer_id)


def page_at() -> PageAt:
    return PageAt.from_args(request.args)


@bp.get("/")
@customer_required
def home():
    """Home: the balance per currency (what is owed first) and the billing history,
    newest first, paged as the panel pages it (htmx swaps only the history)."""
    customer = signed_in_customer()
    return render_page(
        "account/home.html",
        blocks=HOME_BLOCKS,
        customer=customer,
        account=g.customer_account,
        balances=customer_area.balances_of(db.session, customer),
        entries=customer_area.history_page(db.session, customer.id, page_at()),
    )


@bp.get("/invoices")
@customer_required
def invoices():
    """The customer's invoices, newest first; drafts are never shown."""
    customer = signed_in_customer()
    return render_page(
        "account/invoices.html",
        blocks=LIST_BLOCKS,
        customer=customer,
        invoices=customer_area.invoices_page(db.session, customer.id, page_at()),
    )


@bp.get("/invoices/<int:invoice_id>")
@customer_required
def invoice(invoice_id: int):
    """One of the customer's invoices as issued, with Download PDF."""
    found = customer_area.invoice_of(db.session, g.customer_account.customer_id, invoice_id)
    if found is None:
        abort(404)
    return render_page(
        "account/document.html",
        document=document_of(found),
        pdf_url=url_for("customer_area.invoice_pdf", invoice_id=found.id),
        back=("Invoices", url_for("customer_area.invoices")),
    )


@bp.get("/invoices/<int:invoice_id>.pdf")
@customer_required
def invoice_pdf(invoice_id: int):
    """One of the customer's invoices as a PDF file to download."""
    found = customer_area.invoice_of(db.session, g.customer_account.customer_id, invoice_id)
    if found is None:
        abort(404)
    return download(pdf_of(found))


@bp.get("/credit-notes")
@customer_required
def credit_notes():
    """The customer's credit notes, newest first."""
    customer = signed_in_customer()
    return render_page(
        "account/credit_notes.html",
        blocks=LIST_BLOCKS,
        customer=customer,
        credit_notes=customer_area.credit_notes_page(db.session, customer.id, page_at()),
    )


@bp.get("/credit-notes/<int:credit_note_id>")
@customer_required
def credit_note(credit_note_id: int):
    """One of the customer's credit notes as issued, with Download PDF."""
    customer_id = g.customer_account.customer_id
    found = customer_area.credit_note_of(db.session, customer_id, credit_note_id)
    if found is None:
        abort(404)
    return render_page(
        "account/document.html",
        document=document_of(found),
        pdf_url=url_for("customer_area.credit_note_pdf", credit_note_id=found.id),
        back=("Credit notes", url_for("customer_area.credit_notes")),
    )


@bp.get("/credit-notes/<int:credit_note_id>.pdf")
@customer_required
def credit_note_pdf(credit_note_id: int):
    """One of the customer's credit notes as a PDF file to download."""
    customer_id = g.customer_account.customer_id
    found = customer_area.credit_note_of(db.session, customer_id, credit_note_id)
    if found is None:
        abort(404)
    return download(pdf_of(found))


def _statement_page(
    customer: Customer, form: StatementPeriodForm, period: Period | None, status: int
):
    statement = (
        customer_area.statement_of(db.session, customer, period) if period is not None else None
    )
    return render_page(
        "account/statement.html",
        blocks=STATEMENT_BLOCKS,
        status=status,
        customer=customer,
        form=form,
        statement=statement,
    )


@bp.get("/statement")
@customer_required
def statement():
    """The customer's statement for ?from=…&to=… (the last 90 days without them), as staff
    see it; bad dates: 422 with the reason beside each field. htmx gets the block."""
    form, period = asked_period()
    return _statement_page(signed_in_customer(), form, period, 200 if period else 422)


@bp.get("/statement.pdf")
@customer_required
def statement_download():
    """The statement for ?from=…&to=… as a PDF; bad dates: the page, 422."""
    customer = signed_in_customer()
    form, period = asked_period()
    if period is None:
        return _statement_page(customer, form, None, 422)
    return download(statement_pdf.pdf_of(customer_area.statement_of(db.session, customer, period)))


def preference_forms(contacts, submitted: EmailPreferencesForm | None = None) -> list:
    """(contact, form) for each contact, the form filled from the contact, or the one just
    submitted (with its errors) for that contact."""
    pairs = []
    for contact in contacts:
        if submitted is not None and submitted.contact_id == contact.id:
            pairs.append((contact, submitted))
            continue
        form = EmailPreferencesForm(formdata=None, obj=contact, prefix=f"contact-{contact.id}")
        pairs.append((contact, form))
    return pairs


@bp.get("/contacts")
@customer_required
def contacts():
    """The customer's contacts, each with a form for its email preferences."""
    customer = signed_in_customer()
    return render_page(
        "account/contacts.html",
        customer=customer,
        forms=preference_forms(customer_area.contacts_of(db.session, customer.id)),
    )


@bp.post("/contacts/<int:contact_id>")
@customer_required
def save_preferences(contact_id: int):
    """Save one contact's email preferences (Billing, Updates, Legal): 303 back to the
    contacts with a message; a bad value: 422, the page with the reason beside the box;
    another customer's contact: 404."""
    customer = signed_in_customer()
    contact = customer_area.contact_of(db.session, customer.id, contact_id)
    if contact is None:
        abort(404)
    form = EmailPreferencesForm(prefix=f"contact-{contact.id}")
    form.contact_id = contact.id
    if not form.validate_on_submit():
        return render_page(
            "account/contacts.html",
            status=422,
            customer=customer,
            forms=preference_forms(customer_area.contacts_of(db.session, customer.id), form),
        )
    try:
        saved = customer_area.set_email_preferences(
            db.session, customer.id, contact.id, form.wanted()
        )
    except CustomerRefusal:
        db.session.rollback()
        abort(404)
    if saved is None:
        abort(404)
    return done(
        {},
        to=url_for("customer_area.contacts"),
        message=f"Email preferences saved for {saved.name}.",
        close_modal=False,
    )
