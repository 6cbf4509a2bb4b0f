"""The public payment-link page: no sign-in, no JavaScript, nothing but the balance."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template
from flask_limiter import RateLimitExceeded

from webapp.extensions import db
from webapp.security_headers import HeaderPolicy, content_security_policy, header_policy
from webapp.services import payment_links

bp = Blueprint("public", __name__)

# Its own stylesheet and nothing else: no script, no frames, no forms. No referrer
# either: the page's URL holds the secret token.
PAYMENT_PAGE_POLICY = HeaderPolicy(
    content_security_policy=content_security_policy(
        default_src="'none'",
        style_src="'self'",
        img_src="'self'",
        base_uri="'none'",
        form_action="'none'",
        frame_ancestors="'none'",
    ),
    frame_options="DENY",
    referrer_policy="no-referrer",
)


def _respond(template: str, status: int, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/pay/<token>")
@header_policy(PAYMENT_PAGE_POLICY)
def pay(token: str):
    """The balance page, or one "not valid" page for any dead token; rate limited per address."""
    view = payment_links.open_link(db.session, token)
    if view is None:
        return _respond("public/invalid.html", 404)
    return _respond("public/pay.html", 200, view=view)


@bp.errorhandler(RateLimitExceeded)
def too_many_requests(error: RateLimitExceeded):
    """Over ``PAYMENT_LINK_RATE_LIMIT``: the "too many requests" page (with ``Retry-After``)."""
    return _respond("public/too_many.html", 429)
