"""Invite and password-reset link tokens: made from a stored nonce and the secret key,
checked against the stored hash, and put into an email only when it is sent (the stored
email holds ``LINK_PLACEHOLDER``). Below ``customer_accounts`` and ``mailer``, which both
use it (as payment_link_tokens is for payment links).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer_account import CustomerAccountToken, TokenPurpose
from webapp.urls import external_url

LINK_PLACEHOLDER = "[[account-link]]"


class AccountLinkError(Exception):
    """The link cannot be put into the email; the message says why."""


def _signing_keys() -> list[str]:
    """SECRET_KEY first, then each previous key still accepted (SECRET_KEY_FALLBACKS)."""
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]


def token_for(nonce: str, key: str | None = None) -> str:
    """The token of ``nonce`` under ``key`` (default: the current SECRET_KEY)."""
    key_bytes = (key if key is not None else current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key_bytes, b"tally-customer-account:" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_of(row: CustomerAccountToken) -> str | None:
    """The row's token under the key it was made with; None once that key is retired."""
    for key in _signing_keys():
        token = token_for(row.nonce, key)
        if hmac.compare_digest(token_hash(token), row.token_hash):
            return token
    return None


def fill_in_account_link(session: Session, email) -> tuple[str, str]:
    """An invite or reset email's bodies with the live link put in (by the sending job).
    Raises ``AccountLinkError`` when the link was used, replaced or expired meanwhile."""
    row = (
        session.get(CustomerAccountToken, email.account_token_id)
        if email.account_token_id is not None
        else None
    )
    token = _token_of(row) if row is not None else None
    if row is None or token is None or row.used_at is not None or row.expires_at <= utcnow():
        raise AccountLinkError("The link was used, replaced or expired before it was sent.")
    endpoint = (
        "customer_auth.invite" if row.purpose == TokenPurpose.INVITE else "customer_auth.reset"
    )
    url = external_url(endpoint, token=token)
    return (
        email.html_body.replace(LINK_PLACEHOLDER, url),
        email.text_body.replace(LINK_PLACEHOLDER, url),
    )


def without_account_link(body: str) -> str:
    """A stored invite/reset body as staff see it (the link is never stored)."""
    return body.replace(LINK_PLACEHOLDER, "[the link, filled in when sent]")
