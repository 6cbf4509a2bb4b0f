"""Answers shared by the routes on a customer's page: the customer or a 404, the
answer after a change (the tab, or htmx events), the list once the customer is gone."""

from flask import abort, flash, make_response, redirect, url_for

from webapp.extensions import db
from webapp.models.customer import Customer
from webapp.rendering import done, is_htmx_partial


def customer_or_404(customer_id: int) -> Customer:
    """The customer a customer-scoped route is about, or a 404 page."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def to_customer_list(message: str, category: str = "success"):
    """The customer page is gone (deleted): to the customer list with the message, as a
    full page load with htmx too (HX-Redirect), so the list and its flash show whole."""
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
    """After a change on the customer page. htmx: close any modal, refresh the customer
    region (header and the open tab) and show the message, as an error if not ``ok``;
    a plain form: back to ``tab`` (with ``query``, e.g. the list's filter) with the
    message. Takes the id, not the customer, so nothing is re-read after the commit."""
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
