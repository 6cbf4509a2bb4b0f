"""Customer accounts: a customer's own sign-in to the customer area, its sessions, and
the single-use links (invite, password reset) that set its password.

Separate from staff in every way: own table, own sessions, own cookie. A customer has
at most one account; it signs in with ``email`` (the customer's email when the account
was made, lower-cased, unique across accounts).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow


class AccountState(enum.StrEnum):
    """What the customer page's Account access shows."""

    NONE = "none"  # no account
    INVITED = "invited"  # an account with no password yet
    ACTIVE = "active"
    DISABLED = "disabled"

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    AccountState.NONE: "No account",
    AccountState.INVITED: "Invited",
    AccountState.ACTIVE: "Active",
    AccountState.DISABLED: "Disabled",
}


class CustomerAccount(db.Model):
    """A customer's sign-in to the customer area (never to the panel)."""

    __tablename__ = "customer_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    # Lower-cased; what the customer types on the sign-in page.
    email: Mapped[str] = mapped_column(String(254), nullable=False, unique=True)
    # None until the customer (invite) or staff (Set password) sets one.
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # A password staff set: the customer must choose their own at first sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    password_set_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    customer = relationship("Customer")

    @property
    def state(self) -> AccountState:
        if self.disabled_at is not None:
            return AccountState.DISABLED
        if self.password_hash is None:
            return AccountState.INVITED
        return AccountState.ACTIVE


class CustomerSession(db.Model):
    """A signed-in customer session, kept on the server like a staff session: the
    ``tally_customer`` cookie carries a random id, this table only its SHA-256."""

    __tablename__ = "customer_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_customer_sessions_account_id", "account_id"),
        Index("ix_customer_sessions_last_seen_at", "last_seen_at"),
        Index("ix_customer_sessions_created_at", "created_at"),
    )


class TokenPurpose(enum.StrEnum):
    INVITE = "invite"
    RESET = "reset"


class CustomerAccountToken(db.Model):
    """A single-use link (invite or password reset). The token in the link is an HMAC of
    ``nonce`` under SECRET_KEY; only its SHA-256 is stored, and the email row holds a
    placeholder that the sending job fills in, so no live link is ever in the database."""

    __tablename__ = "customer_account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("customer_accounts.id", ondelete="CASCADE"), nullable=False
    )
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    account = relationship("CustomerAccount")

    __table_args__ = (Index("ix_customer_account_tokens_account_id", "account_id", "purpose"),)
