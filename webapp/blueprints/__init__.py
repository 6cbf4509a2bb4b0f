"""Thin HTTP layer: parse the request, call a service, render a page or a block."""

from flask import abort

from webapp.extensions import db
from webapp.models.customer import Customer


def customer_or_404(customer_id: int) -> Customer:
    """The customer a customer-scoped route is about, or a 404 page."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer
