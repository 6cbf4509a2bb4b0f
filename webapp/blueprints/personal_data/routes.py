"""Clear personal data (admins): a preview, field by field, then a confirmation."""

from __future__ import annotations

from flask import Blueprint

from webapp.blueprints.access import admin_only
from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import personal_data as personal_data_service

bp = Blueprint("personal_data", __name__, url_prefix="/customers/<int:customer_id>")


@bp.route("/clear-personal-data", methods=["GET", "POST"])
@admin_only
def confirm(customer_id: int):
    """Clear personal data: the preview with Confirm; refused (422, nothing cleared) when already
    cleared or a subscription is active, the preview then saying why without Confirm."""
    customer = customer_or_404(customer_id)
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            personal_data_service.clear_personal_data(db.session, customer.id)
        except personal_data_service.PersonalDataError as refusal:
            error = str(refusal)
        else:
            message = f"Personal data of {customer.customer_id} cleared."
            return customer_changed(customer_id, message, "profile")
    preview = personal_data_service.preview(db.session, customer)
    return render_form(
        "personal_data/confirm.html",
        form,
        customer=customer,
        preview=preview,
        # A refusal met on submit is shown once, not twice beside the preview's own.
        error=error if error != preview.refusal else None,
    )
