"""Delete customer (admins): a confirmation that counts what goes and asks for the
customer's ID, checked again on the server."""

from __future__ import annotations

from flask import Blueprint

from webapp.blueprints.access import admin_only
from webapp.blueprints.customers.answers import customer_or_404, to_customer_list
from webapp.blueprints.deletion.forms import DeleteCustomerForm
from webapp.extensions import db
from webapp.rendering import render_form
from webapp.services import deletion

bp = Blueprint("deletion", __name__, url_prefix="/customers/<int:customer_id>")


@bp.route("/delete", methods=["GET", "POST"])
@admin_only
def confirm(customer_id: int):
    """GET shows what goes and asks for the ID; POST deletes, or 422 when refused (nothing gone)."""
    customer = customer_or_404(customer_id)
    visible_id = customer.customer_id
    form = DeleteCustomerForm(visible_id=visible_id)
    error = None
    if form.validate_on_submit():
        try:
            deletion.delete_customer(db.session, customer.id, form.typed_id.data)
        except deletion.CustomerGone:
            return to_customer_list(f"Customer {visible_id} was already deleted.")
        except deletion.DeletionError as refusal:
            if refusal.field == deletion.CONFIRM_FIELD:
                form.typed_id.errors = [str(refusal)]
            else:
                error = str(refusal)
        else:
            return to_customer_list(f"Customer {visible_id} deleted.")
    return render_form(
        "deletion/confirm.html",
        form,
        customer=customer,
        visible_id=visible_id,
        what_goes=deletion.what_goes(db.session, customer.id),
        refusal=deletion.delete_refusal(db.session, customer),
        pattern=deletion.confirm_pattern(visible_id),
        error=error,
    )
