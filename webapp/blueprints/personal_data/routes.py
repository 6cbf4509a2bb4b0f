"""Clear personal data (admins): a preview, field by field, then a confirmation; and
the refusal every change on a cleared customer gets."""

from __future__ import annotations

from flask import Blueprint, flash

from webapp.blueprints.access import admin_only
from webapp.blueprints.customers.answers import (
    answer_if_customer_gone,
    customer_changed,
    customer_or_404,
)
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.customer import Customer
from webapp.rendering import htmx_done, is_htmx_partial, render_form
from webapp.services import personal_data as personal_data_service

bp = Blueprint("personal_data", __name__, url_prefix="/customers/<int:customer_id>")


@bp.route("/clear-personal-data", methods=["GET", "POST"])
@admin_only
def confirm(customer_id: int):
    """Clear personal data: the preview with Cancel / Confirm (a modal with htmx, a page
    without JS). Refused (422, nothing cleared) when already cleared or while a
    subscription is active; the preview then says why and offers no Confirm."""
    customer = customer_or_404(customer_id)
    form = ConfirmForm()
    error = None
    if form.validate_on_submit():
        try:
            personal_data_service.clear_personal_data(db.session, customer.id)
        except personal_data_service.PersonalDataError as refusal:
            gone = answer_if_customer_gone(customer_id)  # deleted meanwhile: no preview
            if gone is not None:
                return gone
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


def refused_if_cleared(customer: Customer, tab: str):
    """The answer to a change on a customer whose personal data was cleared, or None
    while the customer can still be changed. Nothing is written either way. htmx: 409
    with the refusal as an error message (htmx fires HX-Trigger events whatever the
    status), any modal closed and the customer region refreshed; a plain request: the
    customer's ``tab`` with the refusal, also 409."""
    refusal = personal_data_service.edit_refusal(customer)
    if refusal is None:
        return None
    if is_htmx_partial():
        shown = {"text": refusal, "level": "error"}
        events = {"closeModal": True, "customerUpdated": customer.id, "showMessage": shown}
        response = htmx_done(events, status=409)
        # 409 swaps (an edit conflict brings its form back); this one has no body.
        response.headers["HX-Reswap"] = "none"
        return response
    from webapp.blueprints.customers.routes import render_customer_tab

    flash(refusal, "error")
    return render_customer_tab(customer, tab, status=409)


def refused_if_gone_or_cleared(customer_id: int, tab: str):
    """After a service refused a change (and rolled back): the answer when, while this
    request ran, the customer was deleted (the customer list, saying so) or its personal
    data cleared (as ``refused_if_cleared``); None otherwise. The form is not shown
    again in either case: the page no longer offers it, and its record may be gone."""
    gone = answer_if_customer_gone(customer_id)
    if gone is not None:
        return gone
    return refused_if_cleared(db.session.get(Customer, customer_id), tab)
