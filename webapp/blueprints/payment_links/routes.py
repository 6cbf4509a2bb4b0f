"""Payment link on the Billing tab: Generate link, Copy, Email link to customer, Revoke."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import guard, mailer, payment_links

bp = Blueprint("payment_links", __name__, url_prefix="/customers/<int:customer_id>/payment-link")


def _answer(customer_id: int, message: str, ok: bool = True):
    return customer_changed(customer_id, message, "billing", ok)


# Refused on the Billing tab (a deleted customer is answered by customers.refused).
REFUSALS = (payment_links.PaymentLinkError, guard.CustomerCleared)


@bp.post("/")
def generate(customer_id: int):
    """Generate link (expiring), killing the previous one; 409 once the customer is cleared."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "billing")
    try:
        payment_links.generate(
            db.session, customer, current_user.id, request.form.get("expiry", "")
        )
    except REFUSALS as refusal:
        return _answer(customer_id, str(refusal), ok=False)
    return _answer(customer.id, "Payment link generated. Copy it or email it to the customer.")


@bp.post("/email")
def email(customer_id: int):
    """Email link to customer, as a recorded email (it shows in the Emails tab)."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "billing")
    try:
        sent = payment_links.email_link(db.session, customer, current_user.id)
    except REFUSALS as refusal:
        return _answer(customer_id, str(refusal), ok=False)
    if not mailer.mail_configured():
        return _answer(
            customer.id,
            f"The payment link email to {sent.recipient} is recorded in the Emails tab; no "
            "mail server is configured, so it is not delivered.",
        )
    return _answer(customer.id, f"The payment link is on its way to {sent.recipient}.")


@bp.route("/revoke", methods=["GET", "POST"])
def revoke(customer_id: int):
    """Revoke, after a server-side confirmation: the link stops working at once."""
    customer = customer_or_404(customer_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            payment_links.revoke(db.session, customer, current_user.id)
        except payment_links.PaymentLinkError as refusal:
            return _answer(customer.id, str(refusal), ok=False)
        return _answer(customer.id, "Payment link revoked: it no longer works.")
    return render_form("payment_links/revoke.html", form, customer=customer)
