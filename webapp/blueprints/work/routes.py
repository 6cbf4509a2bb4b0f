"""Agenda, Inbox and Sales: the team's work across customers, each a list filtered by its
query string (real links; htmx swaps only the list) whose rows link to the customer's tab.
Rules and queries live in services.work; Mark done and Assign are the same services the
customer's tabs use, so History records them alike."""

from __future__ import annotations

from flask import Blueprint, abort, request, url_for
from flask_login import current_user

from webapp.blueprints.customers.answers import customer_or_404
from webapp.blueprints.work.forms import AssignForm
from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.models.crm import Activity, Ticket
from webapp.paging import PageAt
from webapp.rendering import done, render_form, render_page
from webapp.services import activities, sales, staff, tickets, work
from webapp.services.records import RecordError

bp = Blueprint("work", __name__)

# The query arguments a list keeps when it comes back after a change (filters and page).
KEPT_ARGS = ("who", "when", "status", "after", "before")


def _kept_query() -> dict[str, str]:
    return {name: request.args[name] for name in KEPT_ARGS if request.args.get(name)}


def _agenda_filters():
    who = work.who_filter(
        db.session, request.args.get("who"), current_user.id, work.AGENDA_WHO, work.MINE
    )
    return who, work.when_filter(request.args.get("when"))


@bp.get("/agenda")
def agenda():
    """Open activities across customers: mine, everyone's or one member's (?who=), overdue,
    today or upcoming (?when=), soonest first; each with Mark done."""
    who, when = _agenda_filters()
    now = work.current_time()
    page = work.agenda_page(db.session, when, who, PageAt.from_args(request.args), now=now)
    return render_page(
        "work/agenda.html",
        blocks=("agenda_results",),
        page=page,
        customers=work.customers_of(db.session, page.rows),
        who=who,
        when=when,
        when_labels=work.WHEN_LABELS,
        members=staff.active_staff(db.session),
        activity_kinds=activities.KIND_LABELS,
        overdue=activities.overdue_ids(page.rows, now),
        query={"who": who.value, "when": when},
        kept=_kept_query(),
    )


@bp.post("/agenda/<int:activity_id>/done")
def mark_done(activity_id: int):
    """Mark an activity done from the Agenda: back to the same filtered list (htmx: the
    list refreshes itself on ``agendaChanged``) with a message."""
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        abort(404)
    customer = customer_or_404(activity.customer_id)
    ConfirmForm()  # the CSRF token is checked for every POST before this runs
    back = url_for("work.agenda", **_kept_query())
    title = activity.title
    try:
        activities.mark_done(db.session, customer, activity)
    except RecordError as refusal:
        db.session.rollback()
        return done("agendaChanged", to=back, message=str(refusal), level="error")
    return done("agendaChanged", to=back, message=f"“{title}” marked done.")


def _inbox_filters():
    who = work.who_filter(
        db.session, request.args.get("who"), current_user.id, work.INBOX_WHO, work.DEFAULT_INBOX_WHO
    )
    return who, work.inbox_status_filter(request.args.get("status"))


@bp.get("/inbox")
def inbox():
    """Tickets across customers, newest first: by status (?status=, open by default) and
    assignee (?who= mine, unassigned, all or a member); each row can be assigned."""
    who, status = _inbox_filters()
    page = work.inbox_page(db.session, status, who, PageAt.from_args(request.args))
    return render_page(
        "work/inbox.html",
        blocks=("inbox_results",),
        page=page,
        customers=work.customers_of(db.session, page.rows),
        who=who,
        shown_status=status,
        status_labels=work.INBOX_STATUS_LABELS,
        ticket_status_labels=tickets.STATUS_LABELS,
        members=staff.active_staff(db.session),
        query={"who": who.value, "status": status},
        kept=_kept_query(),
    )


@bp.route("/inbox/<int:ticket_id>/assign", methods=["GET", "POST"])
def assign(ticket_id: int):
    """Assign a ticket (each Inbox row posts here); GET, or a refused choice (422), shows
    the form (a modal with htmx, a page without). Back to the same filtered Inbox."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None:
        abort(404)
    customer = customer_or_404(ticket.customer_id)
    back = url_for("work.inbox", **_kept_query())
    form = AssignForm()
    form.assignee_id.offer(ticket.assignee)
    if not form.is_submitted():
        form.assignee_id.data = ticket.assignee_id
    if form.validate_on_submit():
        subject = ticket.subject
        try:
            ticket = tickets.assign(db.session, customer, ticket, form.assignee_id.data)
        except RecordError as refusal:
            db.session.rollback()
            form.assignee_id.errors = [*form.assignee_id.errors, str(refusal)]
        else:
            who = ticket.assignee.name if ticket.assignee else None
            message = f"“{subject}” is assigned to {who}." if who else f"“{subject}” is unassigned."
            return done("inboxChanged", to=back, message=message)
    return render_form(
        "work/assign.html",
        form,
        customer=customer,
        ticket=ticket,
        action_url=url_for("work.assign", ticket_id=ticket.id, **_kept_query()),
        back_url=back,
    )


@bp.get("/sales")
def sales_list():
    """Sales across customers, newest sale date first, by status (?status=), with the total
    of the filtered sales per currency."""
    status = work.sales_status_filter(request.args.get("status"))
    page = work.sales_list_page(db.session, status, PageAt.from_args(request.args))
    return render_page(
        "work/sales.html",
        blocks=("sales_results",),
        page=page,
        customers=work.customers_of(db.session, page.rows),
        shown_status=status,
        status_labels=work.SALES_STATUS_LABELS,
        sale_status=sales.status_label,
        totals=work.sales_totals(db.session, status),
        query={"status": status} if status else {},
    )
