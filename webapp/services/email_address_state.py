"""What is known about a customer's email address, below ``mailer`` (which uses it):
the "Verify email" link's token (made, hashed and put into the email only when it is
sent, as payment links are), and the marks the mail server leaves: undeliverable.

``services.email_verification`` is the part staff and the public page use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.models.email_verification import EmailVerificationToken
from webapp.services import history
from webapp.urls import external_url

# What a recorded "Verify email" body holds in place of the link; the job puts it in.
VERIFY_LINK_PLACEHOLDER = "[[verify-email-link]]"
VERIFY_ENDPOINT = "email_verification.confirm"
UNDELIVERABLE_REASON_MAX = 500


class VerificationLinkError(Exception):
    """The link of a "Verify email" message cannot be put in (used, expired, key retired)."""


def token_for(nonce: str, key: str | None = None) -> str:
    """The token of ``nonce`` under ``key`` (default: the current SECRET_KEY)."""
    key_bytes = (key if key is not None else current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key_bytes, b"tally-email-verification:" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_of(row: EmailVerificationToken) -> str | None:
    """The row's token under the key it was made with; None once that key is retired."""
    config = current_app.config
    for key in [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]:
        token = token_for(row.nonce, key)
        if hmac.compare_digest(token_hash(token), row.token_hash):
            return token
    return None


def is_usable(row: EmailVerificationToken | None, now: datetime) -> bool:
    """Not used, not expired (the address check is the confirmer's)."""
    return row is not None and row.used_at is None and row.expires_at > now


def without_link(body: str) -> str:
    """A stored "Verify email" body as staff see it (the link is never stored)."""
    return body.replace(VERIFY_LINK_PLACEHOLDER, "[the verification link, filled in when sent]")


def fill_in_verification_link(session: Session, email) -> tuple[str, str] | None:
    """A "Verify email" message's bodies with its live link put in; None for any other
    email; raises ``VerificationLinkError`` when the link can no longer be used."""
    row = session.scalar(
        select(EmailVerificationToken).where(EmailVerificationToken.email_id == email.id)
    )
    if row is None:
        return None
    token = _token_of(row) if is_usable(row, utcnow()) else None
    if token is None:
        raise VerificationLinkError("The verification link was used or expired before it was sent.")
    url = external_url(VERIFY_ENDPOINT, verification_token=token)
    return (
        email.html_body.replace(VERIFY_LINK_PLACEHOLDER, url),
        email.text_body.replace(VERIFY_LINK_PLACEHOLDER, url),
    )


def mark_undeliverable(session: Session, email, reason: str) -> bool:
    """After a permanent refusal (5xx) of ``email``: if it went to its customer's own
    address as it still is, mark that address undeliverable (reason and time, verified
    cleared) with a history line. A refused contact's address is not the customer's.
    In the caller's transaction; returns whether the address was marked."""
    if email.customer_id is None or not email.recipient:
        return False
    now = utcnow()
    reason = reason[:UNDELIVERABLE_REASON_MAX]
    marked = session.execute(
        update(Customer)
        .where(
            Customer.id == email.customer_id,
            Customer.email == email.recipient,
            Customer.email != "",
        )
        .values(
            email_undeliverable_at=now,
            email_undeliverable_reason=reason,
            email_verified_at=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not marked:
        return False
    history.record(
        session,
        email.customer_id,
        "email.undeliverable",
        "Email address marked undeliverable",
        staff_id=None,
        field="email",
        new=f"{email.recipient}: {reason}",
        personal=True,
    )
    return True
