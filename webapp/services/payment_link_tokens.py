"""Payment link tokens: how a link's token is made from its nonce and the secret key,
checked against the stored hash, and put into an email only when it is sent (the
stored email holds ``LINK_PLACEHOLDER``). Below ``payment_links`` and ``mailer``,
which both use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.payment_links import PaymentLink
from webapp.urls import external_url

# What the email bodies hold in place of the link; the job puts the link in.
LINK_PLACEHOLDER = "[[payment-link]]"


class PaymentLinkError(Exception):
    """A payment-link request that cannot be done; the message says why."""


def _signing_keys() -> list[str]:
    """SECRET_KEY first, then each previous key still accepted (SECRET_KEY_FALLBACKS)."""
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]


def token_for(nonce: str, key: str | None = None) -> str:
    """The token of ``nonce`` under ``key`` (default: the current SECRET_KEY)."""
    key_bytes = (key if key is not None else current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key_bytes, b"tally-payment-link:" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token_of(link: PaymentLink) -> str | None:
    """The link's token under the key it was made with; None once that key is no longer accepted."""
    for key in _signing_keys():
        token = token_for(link.nonce, key)
        if hmac.compare_digest(token_hash(token), link.token_hash):
            return token
    return None


def is_live(link: PaymentLink | None, now: datetime) -> bool:
    """Whether the page opens: exists, not revoked or expired, made under a still-accepted key."""
    return (
        link is not None
        and link.revoked_at is None
        and (link.expires_at is None or link.expires_at > now)
        and _token_of(link) is not None
    )


def link_url(link: PaymentLink) -> str:
    """The live link's absolute URL on PUBLIC_BASE_URL (stable across a key rotation)."""
    token = _token_of(link)
    if token is None:
        raise PaymentLinkError("This payment link was made under a secret key that is retired.")
    return external_url("public.pay", token=token)


def without_link(body: str) -> str:
    """A stored payment-link email body as staff see it (the link is never stored)."""
    return body.replace(LINK_PLACEHOLDER, "[the payment link, filled in when sent]")


def fill_in_link(session: Session, email) -> tuple[str, str]:
    """A payment-link email's bodies with the live link put in; raises PaymentLinkError if dead."""
    link = session.get(PaymentLink, email.payment_link_id)
    if not is_live(link, utcnow()):
        raise PaymentLinkError("The payment link was revoked or expired before it was sent.")
    url = link_url(link)
    return (
        email.html_body.replace(LINK_PLACEHOLDER, url),
        email.text_body.replace(LINK_PLACEHOLDER, url),
    )
