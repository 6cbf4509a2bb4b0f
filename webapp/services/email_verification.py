"""Confirming that a customer receives email.

Staff choose Actions -> Verify email: a recorded email carries a single-use link
(``/verify-email/<token>``, valid for 7 days) to the customer's address. The public page
behind it asks the customer to press "Confirm my email address" (a POST): opening the
link alone changes nothing, so a mail scanner or a link preview that fetches it cannot
use it up or confirm an address nobody read. Confirming marks the address verified.

``mark_email_verified`` is also what accepting an invite calls. Changing the address
clears verified and undeliverable (a listener on ``Customer.email``); a permanent
refusal by the mail server marks it undeliverable (``email_address_state``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.customer import Customer
from webapp.models.email import Email
from webapp.models.email_verification import EmailVerificationToken
from webapp.models.settings import LegalEntity
from webapp.services import history
from webapp.services.email_address_state import (
    VERIFY_LINK_PLACEHOLDER,
    is_usable,
    token_for,
    token_hash,
)
from webapp.services.guard import lock_editable
from webapp.services.mailer import queue_email

TOKEN_LIFETIME = timedelta(days=7)
# How the history says an address was verified: mark_email_verified(how=...).
HOW_VERIFIED = {
    "link": "the customer confirmed it with the Verify email link",
    "invite": "the customer accepted an invite sent to it",
}


class VerificationError(Exception):
    """Verify email refused; the message says why (beside ``field`` if named)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def email_state(customer: Customer) -> str:
    """ "undeliverable", "verified" or "unverified": what the Profile's badge says."""
    if customer.email_undeliverable_at is not None:
        return "undeliverable"
    if customer.email_verified_at is not None:
        return "verified"
    return "unverified"


def send_verification(session: Session, customer: Customer, *, actor: int | None) -> Email:
    """Queue a "Verify email" message with a new single-use link to the customer's address,
    recorded like any email, with a history line; commits. Raises ``VerificationError``
    (field "email") when the customer has no address, nothing written."""
    customer = lock_editable(session, customer.id)
    if not customer.email:
        session.rollback()
        raise VerificationError(
            f"{customer.name} has no email address: add one (Edit customer) first.", "email"
        )
    now = utcnow()
    nonce = secrets.token_urlsafe(32)
    expires_at = now + TOKEN_LIFETIME
    entity = customer.legal_entity or session.get(LegalEntity, customer.legal_entity_id)
    seller = entity.name if entity else current_app.config["SELLER_NAME"]
    email = queue_email(
        session,
        kind="email_verification",
        name="Verify email",
        recipient=customer.email,
        subject=f"Confirm your email address for {seller}",
        template="verify_email",
        customer_id=customer.id,
        staff_id=actor,
        seller_name=seller,
        customer=customer,
        address=customer.email,
        link_url=VERIFY_LINK_PLACEHOLDER,
        expires_at=expires_at,
    )
    session.add(
        EmailVerificationToken(
            customer_id=customer.id,
            email_id=email.id,
            address=customer.email,
            nonce=nonce,
            token_hash=token_hash(token_for(nonce)),
            created_at=now,
            expires_at=expires_at,
        )
    )
    history.record(
        session,
        customer.id,
        "email.verification_sent",
        "Verification email sent",
        staff_id=actor,
        field="recipient",
        new=customer.email,
        personal=True,
    )
    session.commit()
    return email


def find_token(
    session: Session, token: str, now: datetime | None = None
) -> EmailVerificationToken | None:
    """The link's row if it can still confirm: unused, unexpired, and its address is still
    the customer's (an address changed since makes old links dead). None otherwise."""
    if not token or len(token) > 100:
        return None
    row = session.scalar(
        select(EmailVerificationToken).where(EmailVerificationToken.token_hash == token_hash(token))
    )
    if not is_usable(row, now or utcnow()):
        return None
    customer = session.get(Customer, row.customer_id)
    if customer is None or not customer.email or customer.email != row.address:
        return None
    return row


def confirm(session: Session, token: str, now: datetime | None = None) -> Customer | None:
    """Use the link: mark its address verified and commit. None (nothing written) when the
    link is unknown, used, expired or for an address the customer no longer has. Two
    confirmations at once: only one uses it (the UPDATE checks ``used_at``)."""
    now = now or utcnow()
    row = find_token(session, token, now)
    if row is None:
        session.rollback()
        return None
    used = session.execute(
        update(EmailVerificationToken)
        .where(EmailVerificationToken.id == row.id, EmailVerificationToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        session.rollback()
        return None
    customer = session.get(Customer, row.customer_id)
    mark_email_verified(session, customer, how="link")
    session.commit()
    return customer


def mark_email_verified(session: Session, customer: Customer, *, how: str) -> None:
    """Mark the customer's current address verified (and no longer undeliverable), with a
    history line saying ``how`` ("link", "invite", or a short phrase of your own). In the
    caller's transaction: the caller commits. Nothing is written when it is already
    verified and deliverable, or when the customer has no address."""
    if not customer.email:
        return
    if customer.email_verified_at is not None and customer.email_undeliverable_at is None:
        return
    customer.email_verified_at = utcnow()
    customer.email_undeliverable_at = None
    customer.email_undeliverable_reason = ""
    history.record(
        session,
        customer.id,
        "email.verified",
        "Email address verified",
        staff_id=None,
        field="email",
        new=f"{customer.email} ({HOW_VERIFIED.get(how, how)})",
        personal=True,
    )
