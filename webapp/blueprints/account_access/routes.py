"""Actions -> Account access on the customer page: who may sign in to the customer area.

The page (a modal with htmx, a page of its own without JavaScript) shows the account's
state and offers what fits it: Send invite / Resend invite, Set password, Disable
access, Enable access. Each is its own POST; its CSRF token is checked app-wide (CSRFProtect:
400 "Form expired" without it). A refusal comes back on the page with 422 and the
message beside the field, nothing written.
"""

from __future__ import annotations

from flask import Blueprint

from webapp.blueprints.account_access.forms import StaffSetsPasswordForm
from webapp.blueprints.customers.answers import customer_changed, customer_or_404, email_queued
from webapp.blueprints.customers.routes import refuse_unless_editable
from webapp.extensions import db
from webapp.rendering import render_page
from webapp.services import customer_accounts
from webapp.services.customer_accounts import CustomerAccountError

bp = Blueprint("account_access", __name__, url_prefix="/customers/<int:customer_id>/account-access")

BLOCKS = ("modal", "account_access")
TEMPLATE = "account_access/show.html"


def _page(customer, *, status: int = 200, password_form=None, error: str | None = None):
    account = customer_accounts.account_of(db.session, customer.id)
    return render_page(
        TEMPLATE,
        blocks=BLOCKS,
        status=status,
        customer=customer,
        account=account,
        state=customer_accounts.account_state(account),
        invite_sent_at=(
            customer_accounts.last_invite_sent_at(db.session, account) if account else None
        ),
        password_form=password_form or StaffSetsPasswordForm(formdata=None),
        error=error,
        invite_hours=int(customer_accounts.INVITE_LIFETIME.total_seconds() // 3600),
    )


def _refused(customer, refusal: CustomerAccountError, password_form=None):
    db.session.rollback()
    if password_form is not None and refusal.field == "password":
        password_form.password.errors = [*password_form.password.errors, str(refusal)]
        return _page(customer, status=422, password_form=password_form)
    return _page(customer, status=422, password_form=password_form, error=str(refusal))


@bp.get("/")
def show(customer_id: int):
    """The account's state and the actions that fit it."""
    customer = customer_or_404(customer_id)
    return _page(customer)


@bp.post("/invite")
def invite(customer_id: int):
    """Send (or resend) the invite: the onboarding email with a 72-hour link to choose a
    password; older invite links stop working."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    try:
        email = customer_accounts.send_invite(db.session, customer)
    except CustomerAccountError as refusal:
        return _refused(customer, refusal)
    db.session.commit()
    return email_queued(customer_id, email, "invite")


@bp.post("/password")
def set_password(customer_id: int):
    """Set the customer's password (the staff rules); they must change it at first sign-in."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    form = StaffSetsPasswordForm()
    if not form.validate_on_submit():
        return _page(customer, status=422, password_form=form)
    try:
        customer_accounts.set_password_by_staff(db.session, customer, form.password.data)
    except CustomerAccountError as refusal:
        return _refused(customer, refusal, form)
    db.session.commit()
    return customer_changed(
        customer_id,
        "Password set. Tell the customer by phone or in person; they must choose their own "
        "when they first sign in.",
        "profile",
    )


@bp.post("/disable")
def disable(customer_id: int):
    """Disable access: sign-in refused, every session ended, unused links dead."""
    customer = customer_or_404(customer_id)
    try:
        customer_accounts.disable_access(db.session, customer)
    except CustomerAccountError as refusal:
        return _refused(customer, refusal)
    return customer_changed(
        customer_id, "Access to the customer area disabled; the customer is signed out.", "profile"
    )


@bp.post("/enable")
def enable(customer_id: int):
    """Enable access again (the customer's old password works again)."""
    customer = customer_or_404(customer_id)
    refuse_unless_editable(customer, "profile")
    try:
        customer_accounts.enable_access(db.session, customer)
    except CustomerAccountError as refusal:
        return _refused(customer, refusal)
    return customer_changed(customer_id, "Access to the customer area enabled again.", "profile")
