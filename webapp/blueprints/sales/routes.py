"""Sales tab: Invoice a sale, after a server-side confirmation. Adding, editing and
deleting sales go through the shared record routes (blueprints.records, kind "sales")."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import sales as sales_service
from webapp.services.ledger import LedgerError

bp = Blueprint("sales", __name__, url_prefix="/customers/<int:customer_id>/sales")


@bp.route("/<int:sale_id>/invoice", methods=["GET", "POST"])
def invoice(customer_id: int, sale_id: int):
    """Confirm, then invoice the sale once and mark it Invoiced; a refusal shows on the page."""
    customer = customer_or_404(customer_id)
    sale = sales_service.get(db.session, customer.id, sale_id)
    if sale is None:
        abort(404)
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            done = sales_service.invoice_sale(db.session, customer.id, sale.id, current_user.id)
        except LedgerError as refusal:
            error = str(refusal)
            sale = sales_service.get(db.session, customer.id, sale_id)
            if sale is None:  # deleted meanwhile: nothing left to confirm
                return customer_changed(customer_id, error, "sales", ok=False)
        else:
            return customer_changed(customer_id, done.message, "sales")
    else:
        error = sales_service.invoice_refusal(sale)
    return render_form(
        "sales/invoice.html",
        form,
        customer=customer,
        sale=sale,
        can_invoice=sales_service.invoice_refusal(sale) is None,
        preview=sales_service.invoice_preview(db.session, customer, sale),
        error=error,
    )
