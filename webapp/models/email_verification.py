"""Email verification: a single-use link that confirms a customer receives email."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow
from webapp.models.billing import BigId


class EmailVerificationToken(db.Model):
    """One "Verify email" link, as payment links are kept: only ``nonce`` and the SHA-256
    of the token are stored (the token is an HMAC of the nonce under SECRET_KEY), and the
    recorded email holds a placeholder the job fills in when it sends it. ``address`` is
    the address the link confirms: a link sent before the email was changed confirms
    nothing. ``used_at`` makes it single-use; it expires at ``expires_at``."""

    __tablename__ = "email_verification_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), nullable=False)
    email_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("emails.id"), nullable=True, unique=True
    )
    address: Mapped[str] = mapped_column(String(254), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("ix_email_verification_tokens_customer", "customer_id", "id"),)
