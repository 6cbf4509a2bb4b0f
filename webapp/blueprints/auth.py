"""Sign in and sign out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from webapp.extensions import db
from webapp.forms import SignInForm
from webapp.rendering import render_page
from webapp.services.auth import SignInError, ThrottlePolicy, authenticate

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never send a freshly signed-in user to another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("customers.index")


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Show the Sign in form; on POST check the password, with throttling."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm(next=request.args.get("next", ""))
    error = None
    if form.validate_on_submit():
        policy = ThrottlePolicy(
            max_failures_per_account=current_app.config["SIGN_IN_MAX_FAILURES_PER_ACCOUNT"],
            max_failures_per_address=current_app.config["SIGN_IN_MAX_FAILURES_PER_ADDRESS"],
            lock_minutes=current_app.config["SIGN_IN_LOCK_MINUTES"],
        )
        try:
            staff = authenticate(
                db.session,
                form.email.data,
                form.password.data,
                request.remote_addr or "unknown",
                policy,
            )
        except SignInError as refusal:
            error = str(refusal)
        else:
            login_user(staff)
            return redirect(_safe_next(form.next.data), code=303)
    status = 422 if request.method == "POST" else 200
    return render_page("auth/sign_in.html", status=status, form=form, error=error)


@bp.post("/sign-out")
def sign_out():
    """End the session (POST with a CSRF token, so a link elsewhere cannot sign you out)."""
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"), code=303)
