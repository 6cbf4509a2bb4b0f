"""Sign in, sign out, and Change password."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from webapp.blueprints.auth.forms import PasswordChangeForm, SignInForm
from webapp.extensions import db
from webapp.models.staff import Staff
from webapp.rendering import render_form
from webapp.services import staff as staff_service
from webapp.services import staff_sessions
from webapp.services.auth import SignInError, ThrottlePolicy, authenticate
from webapp.services.staff import StaffError

bp = Blueprint("auth", __name__)

# Where Flask-Login keeps the id it got from Staff.get_id(): here, the session's id.
SESSION_ID_KEY = "_user_id"


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never send a freshly signed-in user to another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and "\\" not in target:
            return target
    return url_for("customers.index")


def _start_session(staff: Staff) -> None:
    """A new session on the server for ``staff``, its id in the cookie."""
    policy = staff_sessions.policy_from_config(current_app.config)
    staff_sessions.start_session(db.session, staff, policy)
    login_user(staff)


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
            # A session this browser was still signed in with ends; and nothing from
            # before the sign-in carries over: the CSRF token is made afresh, so a form
            # (or a token) handed out before is refused from now on.
            staff_sessions.end_session(db.session, session.get(SESSION_ID_KEY))
            session.clear()
            g.pop("csrf_token", None)
            _start_session(staff)
            return redirect(_safe_next(form.next.data), code=303)
    return render_form("auth/sign_in.html", form, blocks=(), error=error)


@bp.post("/sign-out")
def sign_out():
    """End the session on the server (a cookie copy too); POST with CSRF, so no link can do it."""
    staff_sessions.end_session(db.session, session.get(SESSION_ID_KEY))
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"), code=303)


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    """Change password (top bar); ends every session of the account, this one continues afresh."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        staff = current_user._get_current_object()
        try:
            staff_service.change_password(
                db.session, staff.id, form.current_password.data, form.new_password.data
            )
        except StaffError as refusal:
            db.session.rollback()
            field = getattr(form, refusal.field)
            field.errors = [*field.errors, str(refusal)]
        else:
            _start_session(staff)
            flash(
                "Your password is changed. Any other session of your account is signed out.",
                "success",
            )
            return redirect(url_for("customers.index"), code=303)
    return render_form("auth/password.html", form, blocks=())
