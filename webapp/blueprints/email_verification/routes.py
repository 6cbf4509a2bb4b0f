"""The public "Verify email" page: no sign-in; the token in the address is the key.

GET only shows the page: a live link gets a "Confirm my email address" button, a dead
one (unknown, used, expired, or for an address since changed) one "link expired or
used" page. Confirming is the button's POST. Opening a link must not use it up: mail
scanners and link previews fetch links before (or instead of) the person.
"""

from __future__ import annotations

from flask import Blueprint, make_response, render_template
from flask_limiter import RateLimitExceeded

from webapp.extensions import db
from webapp.forms import ConfirmForm
from webapp.security_headers import HeaderPolicy, content_security_policy, header_policy
from webapp.services import email_verification

bp = Blueprint("email_verification", __name__)

# Its own stylesheet and a form back to itself; no script, no frames, no referrer (the
# page's address holds the token).
VERIFY_PAGE_POLICY = HeaderPolicy(
    content_security_policy=content_security_policy(
        default_src="'none'",
        style_src="'self'",
        img_src="'self'",
        base_uri="'none'",
        form_action="'self'",
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


@bp.route("/verify-email/<verification_token>", methods=["GET", "POST"])
@header_policy(VERIFY_PAGE_POLICY)
def confirm(verification_token: str):
    """GET: the confirm button (or the dead-link page, 404). POST: confirm the address and
    say so ("Address confirmed"); a second POST finds the link used (404)."""
    form = ConfirmForm()
    if form.validate_on_submit():
        customer = email_verification.confirm(db.session, verification_token)
        if customer is None:
            return _respond("email_verification/dead.html", 404)
        return _respond("email_verification/confirmed.html", 200, address=customer.email)
    row = email_verification.find_token(db.session, verification_token)
    if row is None:
        return _respond("email_verification/dead.html", 404)
    return _respond("email_verification/confirm.html", 200, form=form, address=row.address)


@bp.errorhandler(RateLimitExceeded)
def too_many_requests(error: RateLimitExceeded):
    """Over the public pages' rate limit: the "too many requests" page (with ``Retry-After``)."""
    return _respond("public/too_many.html", 429)
