"""Customer sign-in and sign-out, Forgot password, invite and reset links, own password.

All under ``/account``; none needs a staff login (the app lets this blueprint through)
and none reads the staff session. The pages use the customer area's layout.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, request, url_for

from webapp.blueprints.customer_auth.forms import (
    CustomerPasswordForm,
    CustomerSignInForm,
    ForgotPasswordForm,
    SetPasswordForm,
)
from webapp.customer_auth import (
    current_customer_account,
    customer_required,
    end_customer_session,
    start_customer_session,
)
from webapp.extensions import db
from webapp.models.customer_account import TokenPurpose
from webapp.rendering import render_form, render_page
from webapp.services import auth, customer_accounts
from webapp.services.auth import SignInError
from webapp.services.customer_accounts import CustomerAccountError, LinkState

bp = Blueprint("customer_auth", __name__, url_prefix="/account")

# Where sign-in lands: the customer area's home.
HOME_ENDPOINT = "customer_area.home"


# The customer area's nav: (label, endpoint).
NAV = (
    ("Home", HOME_ENDPOINT),
    ("Invoices", "customer_area.invoices"),
    ("Credit notes", "customer_area.credit_notes"),
    ("Statement", "customer_area.statement"),
    ("Contacts", "customer_area.contacts"),
    ("Password", "customer_auth.password"),
)


@bp.app_context_processor
def customer_area_context() -> dict:
    """``current_customer_account`` and ``account_nav`` for account/base.html."""

    def account_nav() -> list[tuple[str, str]]:
        return [(label, url_for(endpoint)) for label, endpoint in NAV]

    return {"current_customer_account": current_customer_account, "account_nav": account_nav}


def _home_url() -> str:
    return url_for(HOME_ENDPOINT)


def _safe_next(target: str | None) -> str:
    """Only paths inside the customer area: never another host, never the panel."""
    if target:
        parts = urlsplit(target)
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/account/")
            and "\\" not in target
            and not target.startswith("/account/sign-")
        ):
            return target
    return _home_url()


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The customer Sign in form; on POST check the password, throttled as staff sign-in is."""
    if request.method == "GET" and current_customer_account() is not None:
        return redirect(_safe_next(request.args.get("next")), code=303)
    form = CustomerSignInForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        try:
            account = customer_accounts.authenticate_customer(
                db.session,
                form.email.data,
                form.password.data,
                request.remote_addr or "unknown",
                auth.policy_from_config(current_app.config),
            )
        except SignInError as refusal:
            error = str(refusal)
        else:
            target = (
                url_for("customer_auth.password")
                if account.must_change_password
                else _safe_next(form.next.data)
            )
            response = redirect(target, code=303)
            end_customer_session(response)
            start_customer_session(response, account)
            return response
    return render_form("account/sign_in.html", form, blocks=(), error=error)


@bp.post("/sign-out")
def sign_out():
    """End the customer session on the server and its cookie; POST with CSRF."""
    response = redirect(url_for("customer_auth.sign_in"), code=303)
    end_customer_session(response)
    flash("You have signed out.", "info")
    return response


@bp.route("/password", methods=["GET", "POST"])
@customer_required
def password():
    """Change own password (current + new, the staff rules). Also where a customer whose
    password staff set is sent until they choose their own."""
    account = g.customer_account
    form = CustomerPasswordForm()
    if form.validate_on_submit():
        try:
            customer_accounts.change_password(
                db.session, account, form.current_password.data, form.new_password.data
            )
        except CustomerAccountError as refusal:
            db.session.rollback()
            field = getattr(form, refusal.field or "new_password")
            field.errors = [*field.errors, str(refusal)]
        else:
            response = redirect(_home_url(), code=303)
            start_customer_session(response, account)
            flash("Your password is changed. Any other session is signed out.", "success")
            return response
    return render_form(
        "account/password.html", form, blocks=(), must_change=account.must_change_password
    )


@bp.route("/forgot", methods=["GET", "POST"])
def forgot():
    """Forgot password: the same answer whether the address has an account or not."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        customer_accounts.request_reset(db.session, form.email.data)
        flash(
            "If that address has an account, we have sent it a link to set a new password. "
            "The link works for 1 hour.",
            "info",
        )
        return redirect(url_for("customer_auth.sign_in"), code=303)
    return render_form("account/forgot.html", form, blocks=())


def _link_page(token: str, purpose: TokenPurpose):
    """The set-a-password page of an invite or reset link; a dead link gets a clear page."""
    check = customer_accounts.check_link(db.session, token, purpose)
    if check.state is not LinkState.LIVE:
        return render_page(
            "account/link_gone.html",
            status=404 if check.state is LinkState.UNKNOWN else 410,
            state=check.state.value,
            purpose=purpose.value,
        )
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            account = customer_accounts.use_link(db.session, token, purpose, form.password.data)
        except CustomerAccountError as refusal:
            db.session.rollback()
            if refusal.field is None:
                return render_page(
                    "account/link_gone.html", status=410, state="used", purpose=purpose.value
                )
            form.password.errors = [*form.password.errors, str(refusal)]
        else:
            response = redirect(_home_url(), code=303)
            end_customer_session(response)
            start_customer_session(response, account)
            flash("Your password is set. You are signed in.", "success")
            return response
    return render_form(
        "account/set_password.html",
        form,
        blocks=(),
        purpose=purpose.value,
        email=check.token.account.email,
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str):
    """An invite link: choose a password; the account is then active and signed in."""
    return _link_page(token, TokenPurpose.INVITE)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token: str):
    """A password-reset link: choose a new password; signed in afterwards."""
    return _link_page(token, TokenPurpose.RESET)
