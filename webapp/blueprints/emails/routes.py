"""A customer's recorded emails: view one as it was sent, and Resend a failed one."""

from __future__ import annotations

import re

import nh3
from flask import Blueprint, abort, make_response, url_for
from markupsafe import escape

from webapp.blueprints.customers.answers import customer_or_404
from webapp.blueprints.emails.frame import frame_heights
from webapp.extensions import db
from webapp.rendering import done, render_page
from webapp.security_headers import HeaderPolicy, content_security_policy, header_policy
from webapp.services import email_address_state, mailer
from webapp.services.account_link_tokens import without_account_link
from webapp.services.payment_links import without_link as without_payment_link


def without_link(body: str) -> str:
    """A stored body as staff see it: no live payment, account or verification link is
    stored."""
    return email_address_state.without_link(without_payment_link(body))


bp = Blueprint("emails", __name__, url_prefix="/customers/<int:customer_id>/emails")

# The message body is shown in a sandboxed frame, from a response that may not run
# script, load anything or be framed by another site: customer text in an email
# cannot act in the panel even if an email template were to let it through. Only its
# inline styles (the emails are written with them) and data: images are allowed, and
# only the panel itself may frame it.
BODY_POLICY = HeaderPolicy(
    content_security_policy=content_security_policy(
        sandbox="",
        default_src="'none'",
        style_src="'unsafe-inline'",
        img_src="data:",
        base_uri="'none'",
        form_action="'none'",
        frame_ancestors="'self'",
    ),
    frame_options="SAMEORIGIN",
    referrer_policy="no-referrer",
)

# Every attribute the body may keep (this replaces nh3's defaults, it does not add to
# them): what the email templates use for layout, and nothing that can run or load.
BODY_ATTRIBUTES = {
    "*": {"style", "align", "width", "role"},
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "table": {"cellpadding", "cellspacing"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}


_BODY_STYLE = re.compile(r"<body\b[^>]*?\sstyle=\"([^\"]*)\"", re.IGNORECASE)


def _shown_html(email) -> str:
    """The HTML body as the frame shows it: cleaned to what BODY_ATTRIBUTES allow, the
    payment link left out, laid out as it was written (standards mode, and the <body>'s
    own margin, background and font, which cleaning drops with the <body> tag)."""
    cleaned = nh3.clean(
        without_account_link(without_link(email.html_body)),
        attributes=BODY_ATTRIBUTES,
        clean_content_tags={"script", "style", "title"},
    )
    style = _BODY_STYLE.search(email.html_body or "")
    body_style = f' style="{escape(style.group(1))}"' if style else ""
    title = escape(email.subject)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body{body_style}>{cleaned}</body></html>"
    )


def _email_or_404(customer_id: int, email_id: int):
    email = mailer.customer_email(db.session, customer_id, email_id)
    if email is None:
        abort(404)
    return email


@bp.get("/<int:email_id>")
def show(customer_id: int, email_id: int):
    """One email as it was sent: who to, when, status, the HTML and the text body."""
    customer = customer_or_404(customer_id)
    email = _email_or_404(customer.id, email_id)
    return render_page(
        "emails/show.html",
        customer=customer,
        email=email,
        text_body=without_account_link(without_link(email.text_body)),
        # The frame cannot size itself to the email (no script runs in it): its height
        # is worked out from the HTML it shows, for a phone and for wider windows.
        frame_heights=frame_heights(_shown_html(email)) if email.html_body else None,
    )


@bp.get("/<int:email_id>/body")
@header_policy(BODY_POLICY)
def body(customer_id: int, email_id: int):
    """The HTML body alone, cleaned and sandboxed, for the frame on the email page."""
    email = _email_or_404(customer_id, email_id)
    return make_response(_shown_html(email))


@bp.post("/<int:email_id>/resend")
def resend(customer_id: int, email_id: int):
    """Resend: queue a failed email again, exactly as it was rendered."""
    customer = customer_or_404(customer_id)
    email = _email_or_404(customer.id, email_id)
    try:
        email = mailer.resend(db.session, customer.id, email.id)
    except mailer.EmailError as refusal:
        message, category = str(refusal), "error"
    else:
        message, category = (
            f"{email.name} is queued to be sent again to {email.recipient}.",
            "success",
        )
    return done(
        {} if category == "error" else {"customerUpdated": customer_id},
        to=url_for("emails.show", customer_id=customer_id, email_id=email_id),
        message=message,
        level=category,
        close_modal=False,  # Resend is a button on the email's page, not a modal
    )
