"""Do not remind on the Billing tab: pause or resume a customer's payment reminders (a POST
with its CSRF token; a plain form without JavaScript, the customer refreshed with htmx)."""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.extensions import db
from webapp.services import reminders

bp = Blueprint("reminders", __name__, url_prefix="/customers/<int:customer_id>/reminders")


@bp.post("/")
def toggle(customer_id: int):
    """``do_not_remind=1`` pauses the reminders (Do not remind), ``0`` resumes them."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "billing")
    value = request.form.get("do_not_remind", "")
    if value not in ("0", "1"):
        abort(400)
    paused = value == "1"
    changed = reminders.set_do_not_remind(db.session, customer_id, paused, current_user.id)
    if paused:
        message = (
            "Do not remind: no payment reminders go to this customer until you resume them."
            if changed
            else "Reminders were already paused for this customer."
        )
    else:
        message = (
            "Payment reminders resumed."
            if changed
            else "Payment reminders were already on for this customer."
        )
    return customer_changed(customer_id, message, "billing")
