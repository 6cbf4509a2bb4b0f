"""The public payment-link page: no sign-in, no JavaScript, nothing but the balance."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response, render_template, request

from webapp.extensions import db
from webapp.services import payment_links, rate_limit

bp = Blueprint("public", __name__)

# Its own stylesheet and nothing else: no script, no frames, no forms, no referrer.
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _respond(template: str, status: int, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    return response


@bp.get("/pay/<token>")
def pay(token: str):
    """The customer's balance and recent entries, or the same "not valid" page for any
    token that does not open a live link."""
    if not rate_limit.allow(
        f"pay:{request.remote_addr}", current_app.config["PAYMENT_LINK_RATE_LIMIT"]
    ):
        return _respond("public/too_many.html", 429)
    view = payment_links.open_link(db.session, token)
    if view is None:
        return _respond("public/invalid.html", 404)
    return _respond("public/pay.html", 200, view=view)
