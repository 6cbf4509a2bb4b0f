"""Notes tab: New note (Send) and Delete, confirmed on the server."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable, render_customer_tab
from webapp.blueprints.notes.forms import NoteForm
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.rendering import render_form
from webapp.services import notes as notes_service

bp = Blueprint("notes", __name__, url_prefix="/customers/<int:customer_id>/notes")


def _done(customer_id: int, message: str):
    return customer_changed(customer_id, message, "notes")


@bp.post("/")
def create(customer_id: int):
    """Send: add the note; an empty or overlong one comes back with the message (422)."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "notes")
    form = NoteForm()
    if form.validate_on_submit():
        try:
            notes_service.add_note(db.session, customer.id, current_user.id, form.body.data)
        except notes_service.NoteError as refusal:
            form.body.errors.append(str(refusal))
        else:
            return _done(customer_id, "Note added.")
    return render_customer_tab(customer, "notes", status=422, note_form=form)


@bp.route("/<int:note_id>/delete", methods=["GET", "POST"])
def delete(customer_id: int, note_id: int):
    """Delete a note after a server-side confirmation (Cancel / Confirm)."""
    customer = customer_or_404(customer_id)
    note = notes_service.customer_note(db.session, customer.id, note_id)
    if note is None:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        notes_service.delete_note(db.session, customer.id, note.id)
        return _done(customer_id, "Note deleted.")
    return render_form("notes/delete.html", form, customer=customer, note=note)
