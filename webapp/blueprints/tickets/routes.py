"""Tickets tab: the quick status Change on each row. Adding and editing a ticket are the
shared record routes (blueprints.records); tickets are never deleted."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.tickets.forms import TicketStatusForm
from webapp.extensions import db
from webapp.rendering import render_form
from webapp.services import tickets as tickets_service
from webapp.services.records import RecordError

bp = Blueprint("tickets", __name__, url_prefix="/customers/<int:customer_id>/tickets")


@bp.route("/<int:ticket_id>/status", methods=["GET", "POST"])
def change_status(customer_id: int, ticket_id: int):
    """Move a ticket to the status chosen in its row; GET shows the same form.

    The filter rides in the query string (``?status=``), so the answer returns to the same list.
    An unknown status changes nothing: the form comes back with the message (422)."""
    customer = customer_or_404(customer_id)
    ticket = tickets_service.get(db.session, customer.id, ticket_id)
    if ticket is None:
        abort(404)
    shown = tickets_service.status_filter(request.args.get("status"))
    query = {"status": shown} if shown else {}
    form = TicketStatusForm()
    if not form.is_submitted():
        form.status.data = ticket.status
    if form.validate_on_submit():
        subject = ticket.subject
        try:
            tickets_service.change_status(db.session, customer, ticket, form.status.data)
        except RecordError as refusal:
            db.session.rollback()
            form.status.errors = [*form.status.errors, str(refusal)]
        else:
            label = tickets_service.status_label(form.status.data)
            message = f"Ticket “{subject}” is now {label.lower()}."
            return customer_changed(customer_id, message, "tickets", query=query)
    return render_form(
        "tickets/status.html",
        form,
        customer=customer,
        ticket=ticket,
        action_url=url_for(
            "tickets.change_status", customer_id=customer.id, ticket_id=ticket.id, **query
        ),
        back_url=url_for("customers.tab", customer_id=customer.id, tab="tickets", **query),
    )
