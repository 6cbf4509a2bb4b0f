"""Bulk actions on the customer list: the list's form (ticked rows, or every customer of
the view) opens a confirmation page that names the customers and asks for the tag or the
status; its POST runs the action (services.bulk) and goes back to the same view of the
list with a message. Delete (admins) lists what goes and who is refused."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from webapp.blueprints.access import require_admin
from webapp.blueprints.bulk.forms import BulkForm
from webapp.extensions import db
from webapp.models.bulk import BulkAction, BulkStatus
from webapp.rendering import done, htmx_done, is_htmx_partial, render_form, render_page
from webapp.services import bulk
from webapp.services import exports as export_service
from webapp.services import tags as tags_service
from webapp.services.search import CustomerQuery

bp = Blueprint("bulk", __name__, url_prefix="/customers/bulk")


def _selection(values: MultiDict) -> bulk.Selection:
    """The customers chosen on the list: ``ids`` ticked, or ``all=1`` with the view's query."""
    ids = tuple(int(value) for value in values.getlist("ids") if value.isdigit())
    return bulk.Selection(
        ids=ids,
        query=CustomerQuery.from_args(values),
        all_matching=values.get("all") == "1",
    )


def _list_url(query: CustomerQuery) -> str:
    """The list as it was when the action was picked (Dismiss, and after the action)."""
    return url_for("customers.index", **query.to_args())


def _action(values: MultiDict) -> str | None:
    """The action picked on the list (None when none or an unknown one was sent)."""
    action = values.get("action", "")
    if action not in bulk.ACTIONS:
        return None
    if action in bulk.ADMIN_ACTIONS:
        require_admin()
    return action


@bp.route("", methods=["GET", "POST"])
def confirm():
    """GET: the confirmation of the action picked on the list (the tag or the status asked
    for, the customers named). POST: run it, then back to the list with what was done; a
    missing tag or status is 422 beside its field, nothing changed."""
    values = request.values
    action = _action(values)
    selection = _selection(values)
    back = _list_url(selection.query)
    if action is None:
        return _refused("Choose what to do with the customers.", back)
    if not selection.all_matching and not selection.ids:
        return _refused("Tick the customers first, or choose all matching.", back)
    form = BulkForm(action=action)
    error = None
    if form.validate_on_submit():
        try:
            return _apply(form, action, selection, back)
        except bulk.BulkError as refusal:
            db.session.rollback()
            field = getattr(form, refusal.field or "", None)
            if field is not None and refusal.field != "action":
                field.errors = [*field.errors, str(refusal)]
            else:
                error = str(refusal)
    try:
        preview = bulk.preview(db.session, selection, action)
    except bulk.BulkError as refusal:  # more customers match than one action takes
        return _refused(str(refusal), back)
    if not preview.count:
        return _refused("None of the chosen customers is left.", back)
    return render_form(
        "customers/bulk.html",
        form,
        action=action,
        action_label=bulk.ACTIONS[action],
        selection=selection,
        preview=preview,
        back=back,
        error=error,
        tags=tags_service.all_tags(db.session),
    )


def _refused(message: str, back: str):
    """Nothing to confirm: back to the list with the message (htmx: the message only, the
    list stays as it is, ticks kept)."""
    if is_htmx_partial():
        return htmx_done({"showMessage": {"text": message, "level": "error"}})
    flash(message, "error")
    return redirect(back, code=303)


def _apply(form: BulkForm, action: str, selection: bulk.Selection, back: str):
    """Run the confirmed action over the selection; raises ``BulkError`` when refused whole."""
    value = ""
    if action in (bulk.TAG_ADD, bulk.TAG_REMOVE):
        value = form.tag_name.data or ""
    elif action == bulk.STATUS:
        value = form.new_status.data or ""
    customer_ids = selection.customer_ids(db.session)
    if action == bulk.DELETE and request.form.get("remove") != "all":
        # Remove customer(s): only those left ticked on the confirmation (of the selection).
        ticked = {int(value) for value in request.form.getlist("ticked") if value.isdigit()}
        if not ticked:
            raise bulk.BulkError("Tick the customers to remove, or Dismiss.")
        # The refused customers (they cannot be ticked) go along, to be named as refused.
        ticked |= bulk.refused_for_deletion(db.session, selection)
        customer_ids = [customer_id for customer_id in customer_ids if customer_id in ticked]
    if action == bulk.EXPORT:
        label = bulk.export_label(selection, len(customer_ids))
        export, _new = export_service.start_export(
            db.session, current_user, customer_ids, selection_label=label
        )
        return done(
            {},
            to=url_for("exports.show", export_id=export.id),
            message=f"Export of {label} started.",
            open_page=True,
        )
    if bulk.runs_as_job(customer_ids):
        job = bulk.start_job(
            db.session,
            current_user.id,
            action,
            customer_ids,
            value,
            view=selection.query.url_query(),
        )
        return done(
            {},
            to=url_for("bulk.progress", bulk_id=job.id),
            message=f"{bulk.ACTIONS[action]} ({len(customer_ids):,} customers) runs in the "
            "background.",
            open_page=True,
        )
    result = bulk.run(db.session, action, customer_ids, value)
    level = "success" if result.done or not result.skipped else "warning"
    return done(
        "customersChanged", to=back, message=bulk.summary(action, value, result), level=level
    )


@bp.get("/<int:bulk_id>")
def progress(bulk_id: int):
    """A bulk action running in the background: its progress (htmx polls it every second;
    without JS a Refresh link), then what it did."""
    job = db.session.get(BulkAction, bulk_id)
    if job is None:
        abort(404)
    return render_page(
        "customers/bulk_progress.html",
        blocks=("progress",),
        job=job,
        label=bulk.ACTIONS.get(job.action, job.action),
        message=bulk.job_message(job) if job.status == BulkStatus.DONE else "",
        back=url_for("customers.index") + (f"?{job.view}" if job.view else ""),
    )
