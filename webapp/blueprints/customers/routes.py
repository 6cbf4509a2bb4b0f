"""The customer list, Add customer, the customer page with its tabs, edit and status."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_login import current_user
from jinja2_fragments.flask import render_block

from webapp.blueprints import editing
from webapp.blueprints.customers.answers import customer_or_404, to_customer_list
from webapp.blueprints.customers.forms import CustomerForm, NewCustomerForm, StatusForm
from webapp.blueprints.customers.tabs import TABS, tab_context
from webapp.extensions import db
from webapp.models.customer import Customer, CustomerStatus
from webapp.read_only import read_only
from webapp.rendering import done, htmx_done, is_htmx_partial, render_form, render_page
from webapp.services import bulk as bulk_service
from webapp.services import customer_accounts, guard, mailer, versions
from webapp.services import customers as customer_service
from webapp.services import tags as tags_service
from webapp.services.search import (
    CustomerQuery,
    any_customers,
    count_matches,
    count_of_page,
    list_customers,
)

bp = Blueprint("customers", __name__, url_prefix="/customers")

FORM_TEMPLATE = "customers/form.html"
FORM_BLOCKS = ("modal", "form", "currency_field", "duplicates")


def _duplicates(form: CustomerForm, exclude_id: int | None = None):
    return customer_service.find_duplicates(
        db.session,
        email=(form.email.data or "").strip() if not form.email.errors else "",
        tax_id=(form.tax_id.data or "").strip() if not form.tax_id.errors else "",
        exclude_id=exclude_id,
    )


def _duplicate_notes(duplicates) -> list[str]:
    return [f"Note: {d.display_id} ({d.name}) has the same {d.field_label}." for d in duplicates]


def _saved(customer: Customer, message: str, event: str, duplicates=()):
    """Success: htmx gets 204 and events (modal closes, refresh, toast); a plain form a 303."""
    return done(
        {event: customer.id},
        to=url_for("customers.show", customer_id=customer.id),
        message=message,
        warnings=_duplicate_notes(duplicates),
    )


@bp.get("")
@read_only
def index():
    """The customer list: search, filters, sort and paging, all in the query string."""
    page = list_customers(db.session, CustomerQuery.from_args(request.args))
    query = page.query  # an unknown tag is left out
    has_customers = bool(page.customers) or any_customers(db.session)
    # How many match: free when one page holds them all; otherwise counted by its own
    # request after the page is shown (htmx), or inline when asked for (?count=1, the
    # link shown without JS).
    count = count_of_page(page)
    if count is None and request.args.get("count") == "1":
        count = count_matches(db.session, query)
    response = render_page(
        "customers/index.html",
        blocks=("results",),
        page=page,
        query=query,
        count=count,
        has_customers=has_customers,
        tags=tags_service.all_tags(db.session, query.tag),
        bulk_actions=bulk_actions_for(current_user),
    )
    if is_htmx_partial() and request.headers.get("HX-Target") == "results":
        # The table's requests (the search form, a sort heading sending the form, the
        # pager) push the canonical URL (no empty parameters), not the form's raw values.
        canonical = query.url_query()
        response.headers["HX-Push-Url"] = url_for("customers.index") + (
            f"?{canonical}" if canonical else ""
        )
    return response


def bulk_actions_for(member) -> dict[str, str]:
    """The bulk actions the list offers this member: Delete only to admins."""
    admin = getattr(member, "is_admin", False)
    return {
        action: label
        for action, label in bulk_service.ACTIONS.items()
        if admin or action not in bulk_service.ADMIN_ACTIONS
    }


@bp.get("/count")
def count():
    """The match count of a view, asked for by the list once it is shown (htmx). Not
    ``@read_only``: the count runs under a statement timeout set for its transaction."""
    query = CustomerQuery.from_args(request.args)
    if not is_htmx_partial():  # opened as a page: the list with its count
        return redirect(url_for("customers.index", **query.to_args(), count="1"))
    return render_block(
        "customers/index.html",
        "match_count",
        query=query,
        count=count_matches(db.session, query),
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Add customer: a modal with htmx, a page without JS."""
    form = NewCustomerForm()
    if form.validate_on_submit():
        duplicates = _duplicates(form)
        try:
            customer = customer_service.create_customer(
                db.session,
                form.customer_fields(),
                access=form.access.data,
                password=form.access_password.data,
            )
        except customer_service.CustomerError as refusal:
            db.session.rollback()
            getattr(form, refusal.field or "name").errors = [str(refusal)]
        else:
            # With htmx too the new customer's page opens, the message and any duplicate
            # warnings on it, as after the plain form's 303.
            return done(
                {},
                to=url_for("customers.show", customer_id=customer.id),
                message=f"Customer {customer.customer_id} added.{_access_note(form.access.data)}",
                warnings=_duplicate_notes(duplicates),
                open_page=True,
            )
    return _render_form(form, title="Add customer", submit="Add customer")


def _access_note(access: str) -> str:
    """What Add customer did about the customer area, after "Customer C-… added."."""
    if access == customer_accounts.ACCESS_INVITE:
        if not mailer.mail_configured():
            return (
                " The invite is recorded in the Emails tab; no mail server is configured, "
                "so it is not delivered."
            )
        return " The invite (with the onboarding email) is on its way."
    if access == customer_accounts.ACCESS_PASSWORD:
        return " Password set: the customer must choose their own at first sign-in."
    return ""


@bp.get("/form/currency")
def currency_field():
    """The currency select after a country change (htmx); follows the country unless picked."""
    form = CustomerForm(formdata=request.args, meta={"csrf": False})
    if not form.currency_chosen.data:
        from webapp.services.reference import currency_for_country

        form.currency.data = currency_for_country(form.country.data or "") or ""
    return render_block(FORM_TEMPLATE, "currency_field", form=form)


@bp.get("/form/duplicates")
def duplicates():
    """Live warning beside email and tax ID when another customer has the same value."""
    found = customer_service.find_duplicates_of_input(
        db.session,
        email=request.args.get("email", ""),
        tax_id=request.args.get("tax_id", ""),
        country=request.args.get("country", ""),
        exclude_id=request.args.get("exclude", type=int),
    )
    return render_block(FORM_TEMPLATE, "duplicates", duplicates=found)


def _render_form(
    form: CustomerForm,
    customer: Customer | None = None,
    status: int | None = None,
    error: str | None = None,
    **labels,
):
    refused = status is None and form.is_submitted()  # answered 422 by render_form
    duplicates = _duplicates(form, customer.id if customer else None) if refused else []
    return render_form(
        FORM_TEMPLATE,
        form,
        blocks=FORM_BLOCKS,
        status=status,
        customer=customer,
        duplicates=duplicates,
        error=error,
        **labels,
    )


@bp.get("/<int:customer_id>")
@read_only
def show(customer_id: int):
    """The customer page with the Profile tab open."""
    return render_customer_tab(customer_or_404(customer_id), "profile")


@bp.get("/<int:customer_id>/<tab>")
@read_only
def tab(customer_id: int, tab: str):
    """Any other tab: htmx gets just the tab, a plain request the whole page."""
    if tab not in TABS or tab == "profile":
        abort(404)
    return render_customer_tab(customer_or_404(customer_id), tab)


def render_customer_tab(customer: Customer, tab: str, status: int = 200, **extra):
    """The customer page with ``tab`` open (htmx: the tab or a block); ``extra`` overrides it."""
    context = {**tab_context(customer, tab), **extra}
    return render_page(
        "customers/show.html",
        blocks=("customer_tab", "customer", "note_form", "tag_form"),
        status=status,
        customer=customer,
        tab=tab,
        tabs=TABS,
        **context,
    )


def refuse_unless_editable(customer: Customer, tab: str) -> None:
    """Raise ``guard.CustomerCleared`` (answered by ``refused``) once the customer is not editable;
    ``tab`` is kept for that answer, also for a later refusal under the lock."""
    g.customer_tab = tab
    guard.check_editable(customer)


@bp.app_errorhandler(guard.CustomerRefusal)
def refused(refusal: guard.CustomerRefusal):
    """The answer to a change refused because of the customer itself; nothing was written.
    Deleted: the customer list (a full page load, htmx too). Cleared: 409 with the message (htmx:
    an error event, modal closed, region refreshed; plain: the tab). The form is not shown again."""
    db.session.rollback()
    customer = db.session.get(Customer, refusal.customer_id) if refusal.customer_id else None
    if isinstance(refusal, guard.CustomerGone) or customer is None:
        return to_customer_list(guard.CUSTOMER_GONE, "error")
    if is_htmx_partial():
        shown = {"text": refusal.message, "level": "error"}
        events = {"closeModal": True, "customerUpdated": customer.id, "showMessage": shown}
        response = htmx_done(events, status=refusal.status)
        # 409 swaps (an edit conflict brings its form back); this one has no body.
        response.headers["HX-Reswap"] = "none"
        return response
    flash(refusal.message, "error")
    return render_customer_tab(customer, g.get("customer_tab", "profile"), status=refusal.status)


@bp.route("/<int:customer_id>/edit", methods=["GET", "POST"])
def edit(customer_id: int):
    """Edit customer: the Add customer form, filled in. 409 once cleared, or (the form, naming what
    changed) when someone else saved the customer since it was opened."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    form = CustomerForm.for_customer(customer)
    editing.open_at(form, customer)
    if customer_service.currency_is_locked(db.session, customer):
        form.locked_currency = customer.currency
        form.currency.description = customer_service.CURRENCY_LOCKED
    if form.validate_on_submit():
        duplicates = _duplicates(form, exclude_id=customer.id)
        try:
            customer_service.update_customer(
                db.session, customer, form.customer_fields(), opened=editing.opened(form)
            )
        except versions.EditConflict as conflict:
            message = editing.reopen(form, "customer", conflict)
            return _render_form(
                form,
                customer,
                status=editing.CONFLICT_STATUS,
                error=message,
                title="Edit customer",
                submit="Save changes",
            )
        except customer_service.CustomerError as refusal:
            db.session.rollback()
            getattr(form, refusal.field or "currency").errors = [str(refusal)]
        else:
            message = f"Changes to {customer.customer_id} saved."
            return _saved(customer, message, "customerUpdated", duplicates)
    return _render_form(form, customer, title="Edit customer", submit="Save changes")


STATUS_ACTIONS = {
    CustomerStatus.ACTIVE: ("Reactivate customer", "The customer becomes active again."),
    CustomerStatus.SUSPENDED: (
        "Suspend customer",
        "A suspended customer stays in the list, marked as suspended.",
    ),
    CustomerStatus.ARCHIVED: (
        "Archive customer",
        "Archived customers are hidden from the list unless you filter for them.",
    ),
}


@bp.route("/<int:customer_id>/status", methods=["GET", "POST"])
def status(customer_id: int):
    """Change status after a confirmation page (the server asks, not only JavaScript)."""
    customer = customer_or_404(customer_id)
    form = StatusForm(status=request.args.get("to", ""))
    error = None
    if form.validate_on_submit():
        try:
            customer_service.change_status(db.session, customer, form.status.data)
        except customer_service.CustomerError as refusal:
            error = str(refusal)
        else:
            message = f"{customer.customer_id} is now {customer.status}."
            return _saved(customer, message, "customerUpdated")
    try:
        target = CustomerStatus(form.status.data)
    except ValueError:
        if request.method == "GET":
            abort(404)
        target, error = None, error or "Choose active, suspended or archived."
    return render_form(
        "customers/status.html",
        form,
        customer=customer,
        target=target,
        action=STATUS_ACTIONS.get(target),
        error=error,
    )
