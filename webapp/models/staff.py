"""Staff accounts, their signed-in sessions, and sign-in throttling."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Staff(UserMixin, db.Model):
    """A person who signs in to the panel."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default=StaffRole.AGENT)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    # The id of the server-side session this request runs under (services.staff_sessions
    # sets it when a session starts or is loaded); never stored on the staff row.
    session_token = None

    def get_id(self) -> str | None:
        """What the session cookie carries: the session's random id, not the account's."""
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return bool(self.active)

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN


class StaffSession(db.Model):
    """A signed-in session of a staff member, kept on the server.

    The cookie carries a random id (256 bits); only its SHA-256 is stored, so a copy of
    this table opens no session. Deleting the row ends the session at its next request.
    """

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # Written at most once a minute (services.staff_sessions.TOUCH_EVERY), not per request.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    __table_args__ = (
        Index("ix_staff_sessions_staff_id", "staff_id"),
        Index("ix_staff_sessions_last_seen_at", "last_seen_at"),
        Index("ix_staff_sessions_created_at", "created_at"),
    )


class SignInThrottle(db.Model):
    """Consecutive failed sign-ins for one key ('account:<email>' or 'address:<ip>')."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
