"""The customer area's door: which customer account a request is signed in as.

A customer session is its own cookie, ``tally_customer`` (HttpOnly, SameSite=Lax,
Secure as the staff session cookie is, path ``/account``), holding the random id of a
``customer_sessions`` row (services.customer_sessions). It is never Flask's session,
which carries the staff sign-in: a staff session opens nothing here, and a customer
session opens nothing in the panel (its routes never read this cookie).
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Response, current_app, g, make_response, redirect, request, url_for

from webapp.extensions import db
from webapp.models.customer_account import CustomerAccount
from webapp.services import customer_sessions, staff_sessions

COOKIE_NAME = "tally_customer"
COOKIE_PATH = "/account"
_NOT_LOOKED_UP = object()


def _session_policy():
    return staff_sessions.policy_from_config(current_app.config)


def current_customer_account() -> CustomerAccount | None:
    """The account of this request's customer session (cookie ``tally_customer``), or None;
    a disabled account, one without a password, or a deleted customer is None."""
    found = g.get("_customer_account", _NOT_LOOKED_UP)
    if found is _NOT_LOOKED_UP:
        token = request.cookies.get(COOKIE_NAME)
        found = customer_sessions.account_for_session(db.session, token, _session_policy())
        g._customer_account = found
    return found


def _redirect(endpoint: str, **values) -> Response:
    """A 303 to ``endpoint``; htmx gets HX-Redirect so the whole window goes there."""
    location = url_for(endpoint, **values)
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401 if endpoint == "customer_auth.sign_in" else 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, code=303)


def _next_path() -> str:
    if request.headers.get("HX-Request") == "true":
        parts = urlsplit(request.headers.get("HX-Current-URL", ""))
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.full_path.rstrip("?")


def customer_required(view):
    """A customer-area route: no customer session -> 303 to sign-in with ``next``; a password
    staff set and not yet changed -> 303 to the password page. Sets ``g.customer_account``."""

    @wraps(view)
    def guarded(*args, **kwargs):
        account = current_customer_account()
        if account is None:
            return _redirect("customer_auth.sign_in", next=_next_path() or None)
        g.customer_account = account
        if account.must_change_password and request.endpoint != "customer_auth.password":
            return _redirect("customer_auth.password")
        return view(*args, **kwargs)

    # Lets the route-wide tests find the customer-area routes without a list.
    guarded.customer_required = True
    return guarded


def start_customer_session(response: Response, account: CustomerAccount) -> None:
    """Start a session on the server for ``account`` and put its id in ``response``'s cookie."""
    token = customer_sessions.start_session(db.session, account, _session_policy())
    response.set_cookie(
        COOKIE_NAME,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    g._customer_account = account


def end_customer_session(response: Response) -> None:
    """Sign out: delete this request's customer session on the server and its cookie."""
    customer_sessions.end_session(db.session, request.cookies.get(COOKIE_NAME))
    response.delete_cookie(
        COOKIE_NAME,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    g._customer_account = None
