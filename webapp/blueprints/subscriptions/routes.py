"""Cancel subscription: confirmed on the server (a modal with htmx, a page without)."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import subscriptions as subscriptions_service
from webapp.services.records import RecordError

bp = Blueprint("subscriptions", __name__, url_prefix="/customers/<int:customer_id>/subscriptions")


@bp.route("/<int:subscription_id>/cancel", methods=["GET", "POST"])
def cancel(customer_id: int, subscription_id: int):
    """Cancel subscription: Cancel keeps it, Confirm ends it (once)."""
    customer = customer_or_404(customer_id)
    subscription = subscriptions_service.get(db.session, customer.id, subscription_id)
    if subscription is None:
        abort(404)
    form = ConfirmForm()
    error = subscriptions_service.cancel_refusal(subscription)
    if error is None and form.validate_on_submit():
        try:
            subscriptions_service.cancel(db.session, customer, subscription.id)
        except RecordError as refusal:
            db.session.rollback()
            error = str(refusal)
        else:
            message = f"Subscription {subscription.plan_name} cancelled."
            return customer_changed(customer_id, message, "subscriptions")
    return render_form(
        "subscriptions/cancel.html",
        form,
        customer=customer,
        subscription=subscription,
        description=subscriptions_service.describe(subscription),
        error=error,
    )
