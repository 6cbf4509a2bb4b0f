"""Actions on the customer page: Send onboarding email and Verify email.

Each is a confirmation (a modal with htmx, a page of its own without JavaScript) whose
POST queues a recorded email; a customer without an email address is refused with 422
and the message in the form.
"""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_or_404, email_queued
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import email_verification, onboarding

bp = Blueprint("onboarding", __name__, url_prefix="/customers/<int:customer_id>")

NO_ADDRESS = "{name} has no email address: add one (Edit customer) first."


@bp.route("/onboarding-email", methods=["GET", "POST"])
def send_onboarding(customer_id: int):
    """Send onboarding email: confirm, then queue the legal entity's onboarding email."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    form = ConfirmForm()
    error = None if customer.email else NO_ADDRESS.format(name=customer.name)
    if form.validate_on_submit():
        try:
            email = onboarding.send_onboarding(db.session, customer, actor=current_user.id)
        except onboarding.OnboardingError as refusal:
            error = str(refusal)
        else:
            return email_queued(customer_id, email, "onboarding email")
    return render_form(
        "onboarding/send.html",
        form,
        customer=customer,
        error=error,
        preview=onboarding.render_onboarding(customer, customer.legal_entity),
    )


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email(customer_id: int):
    """Verify email: confirm, then send a single-use link that confirms the address."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    form = ConfirmForm()
    error = None if customer.email else NO_ADDRESS.format(name=customer.name)
    if form.validate_on_submit():
        try:
            email = email_verification.send_verification(
                db.session, customer, actor=current_user.id
            )
        except email_verification.VerificationError as refusal:
            error = str(refusal)
        else:
            return email_queued(customer_id, email, "verification email")
    return render_form(
        "onboarding/verify.html",
        form,
        customer=customer,
        error=error,
        lifetime_days=email_verification.TOKEN_LIFETIME.days,
    )
