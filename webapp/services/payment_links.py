"""Payment links: a customer's own balance page, shared by a tokenised URL.

A link stores a random nonce (256 bits from ``secrets``) and the SHA-256 of its
token. The token is an HMAC-SHA256 of the nonce under the app's SECRET_KEY, so a
copy of the database alone reveals no live link, while staff can still copy the
link and a job can still put it into an email (emails store a placeholder). After a
key rotation a link made under a previous key keeps working (and keeps its URL)
while that key is listed in SECRET_KEY_FALLBACKS; once the key is dropped the link
is dead.
Generating again revokes the old link; revoking kills it at once; an expired or
revoked link, or an unknown token, is simply not found. Every action is written to
the customer's history.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.models.base import utcnow
from webapp.models.billing import LedgerEntry
from webapp.models.customer import Customer
from webapp.models.payment_links import PaymentLink
from webapp.services import history
from webapp.services.guard import lock_editable
from webapp.services.ledger import balances
from webapp.services.mailer import queue_email
from webapp.services.money import outstanding
from webapp.services.payment_link_tokens import (
    LINK_PLACEHOLDER,
    PaymentLinkError,
    is_live,
    token_for,
    token_hash,
)

# Re-exported: the URL of a live link, and a stored email body as staff see it.
from webapp.services.payment_link_tokens import link_url as link_url
from webapp.services.payment_link_tokens import without_link as without_link

# Choices for "Expires": days, or None for never.
EXPIRY_CHOICES = {"30": 30, "90": 90, "never": None}
DEFAULT_EXPIRY = "90"
RECENT_ENTRIES = 20


def current_link(session: Session, customer_id: int, now: datetime | None = None):
    """The customer's live link (not revoked, not expired), or None."""
    now = now or utcnow()
    link = session.scalars(
        select(PaymentLink)
        .where(PaymentLink.customer_id == customer_id, PaymentLink.revoked_at.is_(None))
        .order_by(PaymentLink.id.desc())
        .limit(1)
    ).first()
    return link if is_live(link, now) else None


def generate(
    session: Session, customer: Customer, staff_id: int | None, expiry: str
) -> PaymentLink:
    """Generate link: a new link for the customer; any previous one stops working."""
    if expiry not in EXPIRY_CHOICES:
        raise PaymentLinkError("Choose when the link expires: in 30 days, in 90 days or never.")
    now = utcnow()
    # Two Generate clicks at once must not leave two live links: take the customer's
    # lock first (the same one postings take); under it, a customer whose personal data
    # was cleared meanwhile gets no live link.
    lock_editable(session, customer.id)
    link = _new_link(session, customer, staff_id, EXPIRY_CHOICES[expiry], now)
    session.commit()
    return link


def _new_link(
    session: Session,
    customer: Customer,
    staff_id: int | None,
    days: int | None,
    now: datetime,
    why: str = "",
) -> PaymentLink:
    """A new link replacing any previous one, with its history line; the caller holds the
    customer's lock and commits."""
    replaced = session.execute(
        update(PaymentLink)
        .where(PaymentLink.customer_id == customer.id, PaymentLink.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    nonce = secrets.token_hex(32)
    link = PaymentLink(
        customer_id=customer.id,
        nonce=nonce,
        token_hash=token_hash(token_for(nonce)),
        created_at=now,
        created_by_id=staff_id,
        expires_at=now + timedelta(days=days) if days else None,
    )
    session.add(link)
    session.flush()
    expires = f"expires {link.expires_at:%Y-%m-%d}" if days else "never expires"
    history.record(
        session,
        customer.id,
        "payment_link.generated",
        f"Generated a payment link{why} ({expires})"
        + ("; the previous link stopped working." if replaced else "."),
        staff_id=staff_id,
    )
    return link


def link_for_reminder(session: Session, customer: Customer) -> PaymentLink:
    """The customer's live link for a payment reminder, or (none live) a new one expiring in
    DEFAULT_EXPIRY days; the caller holds the customer's lock and commits. (The clock is the
    real one, whatever day the reminder job was told it is: the link must open when sent.)"""
    now = utcnow()
    link = current_link(session, customer.id, now)
    if link is not None:
        return link
    days = EXPIRY_CHOICES[DEFAULT_EXPIRY]
    return _new_link(session, customer, None, days, now, why=" for a payment reminder")


def revoke(session: Session, customer: Customer, staff_id: int | None) -> None:
    """Revoke: the link stops working at once."""
    revoked = session.execute(
        update(PaymentLink)
        .where(PaymentLink.customer_id == customer.id, PaymentLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    ).rowcount
    if not revoked:
        session.rollback()
        raise PaymentLinkError(f"{customer.name} has no payment link to revoke.")
    history.record(
        session, customer.id, "payment_link.revoked", "Revoked the payment link.", staff_id=staff_id
    )
    session.commit()


def email_link(session: Session, customer: Customer, staff_id: int | None):
    """Email link to customer (recorded email), under the lock, to its address as it is now."""
    lock_editable(session, customer.id)
    link = current_link(session, customer.id)
    if link is None:
        session.rollback()  # let go of the customer's lock
        raise PaymentLinkError("Generate a link first: there is no live payment link to send.")
    if not customer.email:
        message = f"{customer.name} has no email address."
        session.rollback()
        raise PaymentLinkError(message)
    seller = current_app.config["SELLER_NAME"]
    email = queue_email(
        session,
        kind="payment_link",
        name="Payment link",
        recipient=customer.email,
        subject=f"Your balance with {seller}",
        template="payment_link",
        customer_id=customer.id,
        customer=customer,
        link=link,
        link_url=LINK_PLACEHOLDER,
    )
    email.payment_link_id = link.id
    history.record(
        session,
        customer.id,
        "payment_link.emailed",
        "Emailed the payment link.",
        staff_id=staff_id,
        field="recipient",
        new=customer.email,
        personal=True,
    )
    session.commit()
    return email


@dataclass
class PublicView:
    """What the public page shows: nothing else about the customer."""

    seller_name: str
    display_name: str
    # (amount_minor, currency) of each currency not at zero, billing currency first;
    # empty when paid in full.
    balances: list[tuple[int, str]]
    entries: list  # rows: created_at, description, amount_minor, currency


def open_link(session: Session, token: str, now: datetime | None = None) -> PublicView | None:
    """The balance page behind a token, counting the view; None for any dead or unknown token."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    link = session.scalars(
        select(PaymentLink).where(PaymentLink.token_hash == token_hash(token))
    ).first()
    if not is_live(link, now):
        return None
    customer = session.get(Customer, link.customer_id)
    if customer is None:
        return None
    session.execute(
        update(PaymentLink)
        .where(PaymentLink.id == link.id)
        .values(view_count=PaymentLink.view_count + 1, last_viewed_at=now)
    )
    rows = balances(session, customer)
    ordered = outstanding([(row.balance_minor, row.currency) for row in rows], customer.currency)
    # Plain rows, not entities: the commit below expires entities, and the template
    # would then reload each entry with its own SELECT (and the joined staff row).
    entries = session.execute(
        select(
            LedgerEntry.created_at,
            LedgerEntry.description,
            LedgerEntry.amount_minor,
            LedgerEntry.currency,
        )
        .where(LedgerEntry.customer_id == customer.id)
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .limit(RECENT_ENTRIES)
    ).all()
    view = PublicView(
        seller_name=current_app.config["SELLER_NAME"],
        display_name=customer.name,
        balances=ordered,
        entries=list(entries),
    )
    session.commit()
    return view
