"""Shared answers on a customer's page: the customer or a 404, after a change, once it is gone."""

from flask import abort, flash, make_response, redirect, url_for

from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.rendering import done, is_htmx_partial
from webapp.services import mailer


def customer_or_404(customer_id: int) -> Customer:
    """The customer a customer-scoped route is about, or a 404 page."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def to_customer_list(message: str, category: str = "success"):
    """To the customer list with the message, a full page load with htmx too (HX-Redirect)."""
    flash(message, category)
    target = url_for("customers.index")
    if is_htmx_partial():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def customer_changed(
    customer_id: int, message: str, tab: str, ok: bool = True, query: dict | None = None
):
    """After a change: htmx closes any modal, refreshes the customer region and shows the message
    (an error unless ``ok``); a plain form goes back to ``tab`` (with ``query``). Takes the id, so
    nothing is re-read after the commit."""
    return done(
        {"customerUpdated": customer_id},
        to=customer_tab_url(customer_id, tab, **(query or {})),
        message=message,
        level="success" if ok else "error",
    )


def customer_tab_url(customer_id: int, tab: str, **query) -> str:
    """The address of a customer tab; Profile is the customer page itself."""
    if tab == "profile":
        return url_for("customers.show", customer_id=customer_id, **query)
    return url_for("customers.tab", customer_id=customer_id, tab=tab, **query)


def email_queued(customer_id: int, email, what: str):
    """After queueing ``email`` (the ``what``: "invite", "onboarding email" …): back to the
    Profile (htmx: modal closed, customer refreshed) saying where it went, or that no
    mail server will deliver it."""
    if not mailer.mail_configured():
        message = (
            f"The {what} to {email.recipient} is recorded in the Emails tab; no mail server "
            "is configured, so it is not delivered."
        )
    else:
        message = f"The {what} is on its way to {email.recipient}. See it in the Emails tab."
    return customer_changed(customer_id, message, "profile")
