"""API keys (programs' door to /api/v1) and the responses kept for Idempotency-Key replays."""

from __future__ import annotations

from datetime import datetime

from flask import g, has_request_context
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import utcnow


class ApiScope:
    """What a key may do: ``read`` (GET only) or ``read_write`` (everything)."""

    READ = "read"
    READ_WRITE = "read_write"


SCOPE_LABELS = {ApiScope.READ: "Read", ApiScope.READ_WRITE: "Read and write"}


class ApiKey(db.Model):
    """A named API key. Only the SHA-256 of its secret is stored; ``prefix`` (random, shown
    in the list) finds the row, and the secret's hash is compared in constant time."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # Written at most once a minute per key (services.api_keys.touch), not per request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), nullable=True)

    created_by = relationship("Staff", foreign_keys=[created_by_id], lazy="joined")
    revoked_by = relationship("Staff", foreign_keys=[revoked_by_id], lazy="joined")

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def can_write(self) -> bool:
        return self.scope == ApiScope.READ_WRITE

    @property
    def scope_label(self) -> str:
        return SCOPE_LABELS.get(self.scope, self.scope)

    @property
    def actor_name(self) -> str:
        """How History and the Audit page name what the key did."""
        return f'API key "{self.name}"'


class IdempotencyRecord(db.Model):
    """The first response to a request sent with an ``Idempotency-Key``, per API key, kept
    for 24 hours; ``status`` is None while that first request is still being answered."""

    __tablename__ = "api_idempotency_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    # SHA-256 of the method, path and body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    location: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        UniqueConstraint("api_key_id", "key", name="uq_api_idempotency_records_key"),
        Index("ix_api_idempotency_records_created", "created_at"),
    )


def acting_api_key_id() -> int | None:
    """The API key of this request (set by the API's authentication), else None: the
    ``api_key_id`` of history and audit lines written while a key is at work."""
    if not has_request_context():
        return None
    return g.get("api_key_id")
