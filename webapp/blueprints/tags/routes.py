"""Tags on the customer page (Profile tab): Add tag and remove one. Removing a tag is
harmless (it can be added back at once), so it is not confirmed first."""

from __future__ import annotations

from flask import Blueprint, abort

from webapp.blueprints.customers.answers import customer_changed, customer_or_404
from webapp.blueprints.customers.routes import refuse_unless_editable, render_customer_tab
from webapp.blueprints.tags.forms import TagForm
from webapp.extensions import db
from webapp.services import tags as tags_service

bp = Blueprint("tags", __name__, url_prefix="/customers/<int:customer_id>/tags")


@bp.post("")
def create(customer_id: int):
    """Add tag (the existing one, any case, or new); a refused name comes back by the field, 422."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    form = TagForm()
    if form.validate_on_submit():
        try:
            tag = tags_service.add_tag(db.session, customer, form.tag.data or "")
        except tags_service.TagError as refusal:
            db.session.rollback()
            form.tag.errors = [*form.tag.errors, str(refusal)]
        else:
            return customer_changed(customer_id, f"Tag {tag.name} added.", "profile")
    return render_customer_tab(customer, "profile", status=422, tag_form=form)


@bp.post("/<int:tag_id>/remove")
def remove(customer_id: int, tag_id: int):
    """Take the tag off this customer; other customers keep it."""
    customer = customer_or_404(customer_id)
    tag = tags_service.get_tag(db.session, tag_id)
    if tag is None:
        abort(404)
    name = tag.name  # read before the commit expires it
    try:
        tags_service.remove_tag(db.session, customer, tag)
    except tags_service.TagError as refusal:
        return customer_changed(customer_id, str(refusal), "profile", ok=False)
    return customer_changed(customer_id, f"Tag {name} removed.", "profile")
